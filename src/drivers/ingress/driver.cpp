#include "drivers/ingress/driver.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "cluster/pod_runner.hpp"
#include "core/cpu_budget.hpp"
#include "drivers/ingress/ingress_object.hpp"
#include "drivers/ingress/load.hpp"
#include "drivers/ingress/measurements.hpp"
#include "drivers/ingress/pod_load.hpp"
#include "drivers/ingress/settings.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/transport.hpp"
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
  explicit IngressDriver(DriverOptions options) : options_(std::move(options)) {}

  Phase phase() const override { return Phase::ingress; }

  Result<void> validate(const engine::PhaseContext& context) override {
    const std::string file = context.plan.source.string();
    const std::string path = config::settings_path(context.phase);
    Result<Settings> settings = parse_settings(context.phase.settings, file, path);
    if (!settings) {
      return std::unexpected(settings.error());
    }
    const bool cluster = context.plan.target == config::Target::cluster;
    if (cluster && settings->url.empty() && settings->ingress.empty()) {
      return fail(
          ErrorKind::input,
          fmt::format("{}: {}.url: required for --target cluster (or ingress: an Ingress to read it "
                      "from): the ingress URL to load, e.g. https://shop.example.com/healthz (with host: "
                      "for virtual-host routing)",
                      file, path));
    }
    if (!cluster && (settings->from_pods || !settings->ingress.empty())) {
      return fail(
          ErrorKind::input,
          fmt::format("{}: {}.{}: needs --target cluster (the local lab has no pods or Ingress objects)",
                      file, path, settings->from_pods ? "from: pods" : "ingress"));
    }
    if (settings->agents > 1 && !settings->from_pods) {
      return fail(ErrorKind::input,
                  fmt::format("{}: {}.agents: spreads the load over agent pods: needs from: pods, got \"{}\"",
                              file, path, settings->agents));
    }
    if (settings->from_pods && !settings->cacert.empty()) {
      return fail(
          ErrorKind::input,
          fmt::format("{}: {}.cacert: a file on this machine, which agent pods cannot read (from: pods): "
                      "use server_name with a CA the image trusts, or insecure: true, got \"{}\"",
                      file, path, settings->cacert));
    }
    if (settings->from_pods) {
      Result<cluster::PodSettings> pods =
          cluster::read_pod_settings(config::YamlField(settings->pods, file, path + ".pods"));
      if (!pods) {
        return std::unexpected(pods.error());
      }
      pod_settings_ = *pods;
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
    std::string host = settings_.host;
    if (context.plan.target == config::Target::cluster) {
      Result<void> opened = open_cluster(context, url, host);
      if (!opened) {
        return opened;
      }
    }
    if (url.empty()) {
      // --target local: the lab's nginx. Not started -> unavailable -> the phase is SKIPPED with the reason.
      Result<std::string> lab =
          lab::endpoint(options_.lab_dir, "nginx", settings_.lab_tls ? "tls_url" : "url");
      if (!lab) {
        return std::unexpected(lab.error());
      }
      url = *lab;
      if (settings_.lab_tls && settings_.cacert.empty() && !settings_.insecure) {
        spec.tls.ca_file = lab::nginx_ca_file(options_.lab_dir / "nginx").string();
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
          spec.url.to_string());  // never the URL as typed: it may carry user:password@
      std::fprintf(stderr, "%s\n", insecure_note_.c_str());
    }
    spec.request.method = settings_.method;
    spec.request.paths = settings_.paths;
    spec.request.headers = settings_.headers;
    spec.request.body = settings_.body;
    spec.request.host = host;
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
    spec.io = settings_.io;
    spec.live = context.progress.live_sink();
    for (Series& series : series_) {
      series.spec = spec;
      if (series.connections) {
        series.spec.connection_per_request = true;
        series.spec.live_series = "connection";
      }
    }
    if (pods_) {
      // The agents check the target themselves: an agent that cannot connect fails with its own line.
      return {};
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
      if (!ran && run.measurements.empty()) {
        return std::unexpected(ran.error());
      }
      if (!ran) {
        // The server went away after an earlier series measured it (nginx killed during the requests, the
        // connections then refused): what was measured, errors counted, is the finding.
        run.error = fmt::format("{}: {}", series.what, ran.error().message);
        break;
      }
    }
    return run;
  }

  void teardown(engine::PhaseContext& /*context*/) noexcept override {
    if (pods_) {
      pods_->close();  // deletes the namespace and everything in it, on every exit path
      pods_.reset();
    }
  }

 private:
  // --target cluster: the agent pods' namespace (from: pods) and the Ingress's address (ingress:).
  Result<void> open_cluster(engine::PhaseContext& context, std::string& url, std::string& host) {
    if (!settings_.from_pods && settings_.ingress.empty()) {
      return {};
    }
    kube::LoadOptions load;
    load.kubeconfig = options_.kubeconfig;
    load.context = options_.context;
    Result<kube::RestConfig> config = kube::load_rest_config(load);
    if (!config) {
      return std::unexpected(config.error());
    }
    const std::string who = fmt::format("context \"{}\" ({})", config->context, config->server);
    std::unique_ptr<kube::Transport> transport;
    std::unique_ptr<kube::Api> own_api;
    kube::Api* api = nullptr;
    if (settings_.from_pods) {
      cluster::RunnerOptions runner_options;
      runner_options.run_id = options_.run_id;
      runner_options.phase = "ingress";
      runner_options.image = options_.image;
      runner_options.pods = pod_settings_;
      Result<std::unique_ptr<cluster::PodRunner>> runner =
          cluster::PodRunner::open(*config, runner_options, context.clock, context.cancel);
      if (!runner) {
        return std::unexpected(runner.error());
      }
      context.progress.message(
          Phase::ingress, fmt::format("namespace {}: {} agent pod{} per run, image {} ({})", (*runner)->ns(),
                                      settings_.agents, settings_.agents == 1 ? "" : "s",
                                      options_.image.reference, options_.image.pull_policy));
      pods_ = std::make_unique<PodLoad>(std::move(*runner), settings_.agents, settings_.threads,
                                        context.clock, context.cancel);
      api = &pods_->api();
    } else {
      kube::ClientOptions client;
      client.request_timeout = std::chrono::seconds(30);
      Result<std::unique_ptr<kube::Transport>> created =
          kube::Transport::create(*config, client, context.clock);
      if (!created) {
        return std::unexpected(created.error());
      }
      transport = std::move(*created);
      own_api = std::make_unique<kube::Api>(*transport);
      api = own_api.get();
    }
    if (!settings_.ingress.empty()) {
      const std::string ns = settings_.ingress_namespace.empty() ? config->ns : settings_.ingress_namespace;
      Result<IngressTarget> target = read_ingress(*api, ns.empty() ? "default" : ns, settings_.ingress, who);
      if (!target) {
        return std::unexpected(target.error());
      }
      context.progress.message(Phase::ingress, target->described);
      if (url.empty()) {
        url = target->url;
      }
      if (host.empty()) {
        host = target->host;
      }
    }
    return {};
  }

  // One run of `series` at `rate` (unset: closed loop) for `duration`: here, or from the agent pods (their
  // summaries and clock checks go into `run`).
  Result<LoadResult> run_once(engine::PhaseContext& context, const Series& series, std::optional<Rate> rate,
                              Duration duration, const std::string& label, engine::PhaseRun& run) {
    LoadSpec spec = series.spec;
    spec.rate = rate;
    spec.duration = duration;
    engine::ProgressSink& sink = context.progress;
    std::string rate_text = rate ? fmt::format("{:g}/s open loop", rate->per_second) : "closed loop";
    if (pods_) {
      sink.message(Phase::ingress,
                   fmt::format("{}: {} for {} against {} from {} agent pod{}, {} connections", label,
                               rate_text, format_duration(duration), spec.url.to_string(), settings_.agents,
                               settings_.agents == 1 ? "" : "s", spec.connections));
      Result<PodLoadResult> ran = pods_->run(spec, label);
      if (!ran) {
        return std::unexpected(ran.error());
      }
      for (std::string& note : ran->notes) {
        run.notes.push_back(std::move(note));
      }
      for (std::string& reason : ran->invalid_reasons) {
        run.invalid_reasons.push_back(std::move(reason));
      }
      note_io(series, ran->merged, run);
      return std::move(ran->merged);
    }
    sink.message(Phase::ingress, fmt::format("{}: {} for {} against {}, {} connections, {} threads", label,
                                             rate_text, format_duration(duration), spec.url.to_string(),
                                             spec.connections, spec.threads));
    ProgressFn progress = [&sink, label](double seconds, std::uint64_t responses, std::uint64_t failures) {
      sink.message(Phase::ingress,
                   fmt::format("{} {:.0f}s: {} responses, {} failed", label, seconds, responses, failures));
    };
    Result<LoadResult> result = run_load(spec, context.clock, context.cancel, progress);
    if (result) {
      note_io(series, *result, run);
    }
    return result;
  }

  // The report says which I/O backend ran, and why it is epoll when io_uring was wanted (once per series:
  // a stress ramp runs many times on the same backend).
  static void note_io(const Series& series, const LoadResult& result, engine::PhaseRun& run) {
    std::vector<std::string> notes;
    if (!result.io_backend.empty()) {
      notes.push_back(fmt::format("{}: I/O on {}", series.what, result.io_backend));
    }
    if (!result.io_note.empty()) {
      notes.push_back(fmt::format("{}: {}", series.what, result.io_note));
    }
    for (std::string& note : notes) {
      if (std::find(run.notes.begin(), run.notes.end(), note) == run.notes.end()) {
        run.notes.push_back(std::move(note));
      }
    }
  }

  static std::vector<Measurement> measurements_of(const Series& series, const LoadResult& result) {
    return series.connections ? connection_measurements(result) : request_measurements(result);
  }

  // Smoke and load: one steady run at capacity x load (or the explicit rate, or closed loop).
  Result<void> run_steady(engine::PhaseContext& context, const load::CriteriaView& criteria,
                          const Series& series, engine::PhaseRun& run) {
    const load::Step& step = series.schedule.steps.front();
    Result<LoadResult> result = run_once(context, series, step.rate, step.duration, series.what, run);
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
  Result<void> run_stress(engine::PhaseContext& context, const load::CriteriaView& criteria,
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
      Result<LoadResult> result = run_once(context, series, Rate{*level}, duration, label, run);
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

  DriverOptions options_;
  Settings settings_;
  cluster::PodSettings pod_settings_;
  std::vector<Series> series_;
  std::string insecure_note_;  // set by prepare() when TLS verification is off for an https URL
  std::unique_ptr<PodLoad> pods_;
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, DriverOptions options) {
  return std::make_unique<IngressDriver>(std::move(options));
}

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, std::filesystem::path lab_dir) {
  DriverOptions options;
  options.lab_dir = std::move(lab_dir);
  return make_driver(plan, std::move(options));
}

Result<void> check_cluster_inputs(const config::Plan& plan, const DriverOptions& options) {
  if (plan.target != config::Target::cluster) {
    return {};
  }
  for (const config::PhasePlan& phase : plan.phases) {
    if (phase.phase != Phase::ingress || !phase.enabled) {
      continue;
    }
    Result<Settings> settings =
        parse_settings(phase.settings, plan.source.string(), config::settings_path(phase));
    if (!settings || settings->ingress.empty()) {
      return {};
    }
    kube::LoadOptions load;
    load.kubeconfig = options.kubeconfig;
    load.context = options.context;
    Result<kube::RestConfig> config = kube::load_rest_config(load);
    if (!config) {
      return {};
    }
    kube::ClientOptions client;
    client.request_timeout = std::chrono::seconds(30);
    client.warn = [](std::string_view) {};  // the phases warn about an insecure kubeconfig themselves
    Result<std::unique_ptr<kube::Transport>> transport =
        kube::Transport::create(*config, client, real_clock());
    if (!transport) {
      return {};
    }
    kube::Api api(**transport);
    const std::string ns = settings->ingress_namespace.empty() ? config->ns : settings->ingress_namespace;
    Result<IngressTarget> target =
        read_ingress(api, ns.empty() ? "default" : ns, settings->ingress,
                     fmt::format("context \"{}\" ({})", config->context, config->server));
    if (!target && target.error().kind == ErrorKind::input) {
      return std::unexpected(target.error());
    }
    return {};
  }
  return {};
}

engine::DriverFactory driver_factory(DriverOptions options) {
  return [options](const config::Plan& plan) { return make_driver(plan, options); };
}

}  // namespace kp::drivers::ingress
