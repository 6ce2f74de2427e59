#include "drivers/ingress/driver.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "core/cpu_budget.hpp"
#include "drivers/ingress/load.hpp"
#include "drivers/ingress/measurements.hpp"
#include "drivers/ingress/settings.hpp"
#include "lab/lab.hpp"
#include "lab/nginx_service.hpp"
#include "load/breaking_point.hpp"
#include "load/criteria_view.hpp"
#include "load/schedule.hpp"

namespace kp::drivers::ingress {
namespace {

// One load series of the phase: requests on keep-alive connections, or new connections (one request each).
struct Series {
  std::string what;             // "requests", "connections"
  std::string rate_metric;      // the row judged from its rate
  std::string breaking_metric;  // stress: the breaking point's id
  std::string unit;             // how its levels are written
  bool connections = false;
  load::Schedule schedule;
  LoadSpec spec;  // from prepare(); the rate and duration are set per step
};

class IngressDriver final : public engine::Driver {
 public:
  explicit IngressDriver(std::filesystem::path lab_dir) : lab_dir_(std::move(lab_dir)) {}

  Phase phase() const override { return Phase::ingress; }

  Result<void> validate(const engine::PhaseContext& context) override {
    const std::string file = context.plan.source.string();
    const std::string path = config::settings_path(context.phase);
    Result<Settings> settings = parse_settings(context.phase.settings, file, path);
    if (!settings) {
      return std::unexpected(settings.error());
    }
    if (context.plan.target == config::Target::cluster && settings->url.empty()) {
      return fail(ErrorKind::input,
                  fmt::format("{}: {}.url: required for --target cluster: the ingress URL to load, e.g. "
                              "https://shop.example.com/healthz (with host: for virtual-host routing)",
                              file, path));
    }
    settings_ = std::move(*settings);
    Result<Schedules> schedules = resolve_schedules(settings_, context.plan, context.phase);
    if (!schedules) {
      return std::unexpected(schedules.error());
    }
    series_.clear();
    series_.push_back(Series{.what = "requests",
                             .rate_metric = "ingress.rps",
                             .breaking_metric = "ingress.breaking_rps",
                             .unit = "RPS",
                             .connections = false,
                             .schedule = std::move(schedules->requests),
                             .spec = {}});
    if (schedules->connections) {
      series_.push_back(Series{.what = "connections",
                               .rate_metric = "ingress.connection_rate",
                               .breaking_metric = "ingress.breaking_connection_rate",
                               .unit = "/s",
                               .connections = true,
                               .schedule = std::move(*schedules->connections),
                               .spec = {}});
    }
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    LoadSpec spec;
    std::string url = settings_.url;
    if (url.empty()) {
      // --target local: the lab's nginx. Not started -> unavailable -> the phase is SKIPPED with the reason.
      Result<std::string> lab = lab::endpoint(lab_dir_, "nginx", settings_.lab_tls ? "tls_url" : "url");
      if (!lab) {
        return std::unexpected(lab.error());
      }
      url = *lab;
      if (settings_.lab_tls && settings_.cacert.empty() && !settings_.insecure) {
        spec.tls.ca_file = lab::nginx_ca_file(lab_dir_ / "nginx").string();
        spec.tls.server_name = std::string(lab::kNginxTlsName);
      }
    }
    Result<Url> parsed = parse_url(url);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    spec.url = std::move(*parsed);
    if (settings_.insecure && spec.url.tls) {
      // Off only when the plan says so, and never silently: on stderr now, in the report's notes later.
      insecure_note_ = fmt::format(
          "WARNING: ingress.insecure is set: the certificate of {} is NOT verified, so anyone on the "
          "network path can read and change this traffic",
          url);
      std::fprintf(stderr, "%s\n", insecure_note_.c_str());
    }
    spec.request.method = settings_.method;
    spec.request.paths = settings_.paths;
    spec.request.headers = settings_.headers;
    spec.request.body = settings_.body;
    spec.request.host = settings_.host;
    spec.tls.insecure = settings_.insecure;
    if (!settings_.cacert.empty()) {
      spec.tls.ca_file = settings_.cacert;
    }
    if (!settings_.server_name.empty()) {
      spec.tls.server_name = settings_.server_name;
    }
    const int cores = usable_cpus();  // the container's CPU quota, not the host's cores
    spec.threads = settings_.threads > 0 ? settings_.threads : std::max(1, cores / 2);
    spec.connections = settings_.connections;
    spec.timeout = settings_.timeout;
    spec.arrival = settings_.arrival;
    spec.live = context.progress.live_sink();
    for (Series& series : series_) {
      series.spec = spec;
      if (series.connections) {
        series.spec.connection_per_request = true;
        series.spec.live_series = "connection";
      }
    }
    // One request proves the target answers (and that its certificate verifies) before the timed run.
    LoadSpec probe = spec;
    probe.rate.reset();
    probe.threads = 1;
    probe.connections = 1;
    probe.requests = 1;
    probe.duration = Duration::zero();
    probe.live = nullptr;  // not part of the measured run
    engine::CancellationToken never;
    Result<LoadResult> probed = run_load(probe, context.clock, never);
    if (!probed) {
      return std::unexpected(probed.error());
    }
    if (probed->responses == 0) {
      std::string why = probed->error_samples.empty() ? "no response" : probed->error_samples.front();
      return fail(ErrorKind::network, fmt::format("ingress: {}: {}", spec.url.to_string(), why));
    }
    return {};
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
    engine::PhaseRun run;
    if (!insecure_note_.empty()) {
      run.notes.push_back(insecure_note_);
    }
    const load::CriteriaView criteria(context.criteria);
    for (Series& series : series_) {
      if (context.cancel.requested()) {
        break;
      }
      for (const std::string& note : series.schedule.notes) {
        run.notes.push_back(fmt::format("{}: {}", series.what, note));
      }
      Result<void> ran = series.schedule.stress() ? run_stress(context, criteria, series, run)
                                                  : run_steady(context, criteria, series, run);
      if (!ran) {
        return std::unexpected(ran.error());
      }
    }
    return run;
  }

  void teardown(engine::PhaseContext& /*context*/) noexcept override {}

 private:
  // One run of `series` at `rate` (unset: closed loop) for `duration`.
  static Result<LoadResult> run_once(engine::PhaseContext& context, const Series& series,
                                     std::optional<Rate> rate, Duration duration, const std::string& label) {
    LoadSpec spec = series.spec;
    spec.rate = rate;
    spec.duration = duration;
    engine::ProgressSink& sink = context.progress;
    std::string rate_text = rate ? fmt::format("{:g}/s open loop", rate->per_second) : "closed loop";
    sink.message(Phase::ingress, fmt::format("{}: {} for {} against {}, {} connections, {} threads", label,
                                             rate_text, format_duration(duration), spec.url.to_string(),
                                             spec.connections, spec.threads));
    ProgressFn progress = [&sink, label](double seconds, std::uint64_t responses, std::uint64_t failures) {
      sink.message(Phase::ingress,
                   fmt::format("{} {:.0f}s: {} responses, {} failed", label, seconds, responses, failures));
    };
    return run_load(spec, context.clock, context.cancel, progress);
  }

  static std::vector<Measurement> measurements_of(const Series& series, const LoadResult& result) {
    return series.connections ? connection_measurements(result) : request_measurements(result);
  }

  // Smoke and load: one steady run at capacity x load (or the explicit rate, or closed loop).
  static Result<void> run_steady(engine::PhaseContext& context, const load::CriteriaView& criteria,
                                 const Series& series, engine::PhaseRun& run) {
    const load::Step& step = series.schedule.steps.front();
    Result<LoadResult> result = run_once(context, series, step.rate, step.duration, series.what);
    if (!result) {
      return std::unexpected(result.error());
    }
    for (Measurement& m : measurements_of(series, *result)) {
      run.measurements.push_back(std::move(m));
    }
    load::Validity validity = judge_run(*result, series.what, series.rate_metric, criteria);
    run.notes.push_back(validity.statement);
    for (std::string& reason : validity.invalid_reasons) {
      run.invalid_reasons.push_back(std::move(reason));
    }
    if (validity.lateness) {
      run.lateness.push_back(*validity.lateness);
    }
    return {};
  }

  // Stress: the ramp, lowest first, then the bisection between the last step held and the first broken.
  // The search never runs a step above one that broke. The series' rows (and the validity the phase is
  // judged on) are those of the last step held (the most the ingress took within its Critical levels), or of
  // the first step when none held. Every other step's generator account is stated in its note: the breaking
  // point is informational. A step that broke while the generator fell behind, and would not have broken
  // without the generator's own lateness, is not the ingress's breaking point: it is recorded as neither held
  // nor broken and the search ends there, as the dns phase does.
  static Result<void> run_stress(engine::PhaseContext& context, const load::CriteriaView& criteria,
                                 const Series& series, engine::PhaseRun& run) {
    const load::Schedule& schedule = series.schedule;
    std::vector<double> ramp;
    for (const load::Step& step : schedule.steps) {
      ramp.push_back(step.rate->per_second);
    }
    load::BreakingPointSearch search(ramp, schedule.bisect, schedule.base->per_second);
    const load::BreakLimits limits = break_limits(criteria);
    std::vector<std::pair<double, LoadResult>> results;
    std::vector<std::string> step_notes;
    while (std::optional<double> level = search.next_level()) {
      if (context.cancel.requested()) {
        break;
      }
      const bool bisection = search.next_is_bisection();
      const Duration duration = bisection ? schedule.bisect_step_duration : schedule.steps.front().duration;
      const std::string label =
          fmt::format("{} {}step x{:.3g}", series.what, bisection ? "bisection " : "", search.next_factor());
      Result<LoadResult> result = run_once(context, series, Rate{*level}, duration, label);
      if (!result) {
        return std::unexpected(result.error());
      }
      load::StepRecord step = step_record(*result, series.connections);
      step.cancelled = context.cancel.requested();
      if (!step.cancelled) {
        step.broke = load::step_break_reason(step, limits, series.unit);
      }
      const load::Validity validity = judge_run(*result, series.what, series.rate_metric, criteria);
      std::string outcome = step.cancelled ? "cancelled" : step.held() ? "held" : "broke: " + step.broke;
      if (!step.held() && !step.cancelled && !validity.valid() &&
          load::own_lateness_explains_break(step, limits, result->own_lateness, series.unit)) {
        outcome = load::set_aside_break(step, "ingress");
      }
      context.progress.message(Phase::ingress, fmt::format("{}: {}", label, outcome));
      std::string note = fmt::format("{}: {}; {}", label, outcome, validity.statement);
      for (const std::string& reason : validity.invalid_reasons) {
        note += "; the generator on this step: " + reason;
      }
      step_notes.push_back(std::move(note));
      const bool stop = step.cancelled;
      search.record(std::move(step));
      results.emplace_back(*level, std::move(*result));
      if (stop) {
        break;
      }
    }
    load::StressResult stress = load::summarize(search, series.what, series.breaking_metric, series.unit);
    run.notes.push_back(fmt::format("{} stress: {}", series.what, stress.note));
    for (std::string& note : step_notes) {
      run.notes.push_back(std::move(note));
    }
    if (stress.breaking_level) {
      run.measurements.push_back(Measurement{.metric = series.breaking_metric,
                                             .value = *stress.breaking_level,
                                             .offered = std::nullopt,
                                             .histogram = std::nullopt,
                                             .source = "client",
                                             .note = stress.note});
    }
    const std::optional<double> shown =
        stress.last_held ? stress.last_held
                         : (results.empty() ? std::nullopt : std::optional(results.front().first));
    for (const auto& [level, result] : results) {
      if (shown && level == *shown) {
        for (Measurement& m : measurements_of(series, result)) {
          m.note =
              fmt::format("stress step at {:g}/s ({}): {}", level,
                          stress.last_held ? "the last step held" : "no step held; the first step", m.note);
          run.measurements.push_back(std::move(m));
        }
        // The rows come from this step: its generator's shortfall could change their verdicts.
        const load::Validity validity = judge_run(result, series.what, series.rate_metric, criteria);
        for (const std::string& reason : validity.invalid_reasons) {
          run.invalid_reasons.push_back(fmt::format("{} at {:g}/s: {}", series.what, level, reason));
        }
        if (validity.lateness) {
          run.lateness.push_back(load::LatenessFinding{
              .reason = fmt::format("{} at {:g}/s: {}", series.what, level, validity.lateness->reason),
              .p99 = validity.lateness->p99});
        }
        break;
      }
    }
    if (results.empty()) {
      run.invalid_reasons.push_back(
          fmt::format("{}: no stress step ran (cancelled before the first)", series.what));
    }
    run.stress.push_back(std::move(stress));
    return {};
  }

  std::filesystem::path lab_dir_;
  Settings settings_;
  std::vector<Series> series_;
  std::string insecure_note_;  // set by prepare() when TLS verification is off for an https URL
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, std::filesystem::path lab_dir) {
  return std::make_unique<IngressDriver>(std::move(lab_dir));
}

engine::DriverFactory driver_factory(std::filesystem::path lab_dir) {
  return [lab_dir](const config::Plan& plan) { return make_driver(plan, lab_dir); };
}

}  // namespace kp::drivers::ingress
