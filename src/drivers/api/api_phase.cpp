#include "drivers/api/api_phase.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "cluster/service_accounts.hpp"
#include "drivers/api/measurements.hpp"
#include "drivers/api/permissions.hpp"
#include "drivers/api/pod_startup.hpp"
#include "drivers/api/server_sli.hpp"
#include "drivers/api/workload.hpp"
#include "kube/access_review.hpp"
#include "kube/watch.hpp"
#include "load/breaking_point.hpp"
#include "load/criteria_view.hpp"
#include "prom/prometheus_text.hpp"

namespace kp::drivers::api {
namespace {

using kube::json;

// What one pass of the workload measured: its requests, and the server's SLIs over the same window.
struct Pass {
  LoadStats stats;
  std::optional<ServerSlis> server;
};

}  // namespace

ApiPhase::ApiPhase(Settings settings, Shape shape, Duration duration, Clock& clock, Progress progress,
                   std::string run_id)
    : settings_(std::move(settings)),
      shape_(std::move(shape)),
      duration_(duration),
      clock_(clock),
      progress_(std::move(progress)),
      run_id_(std::move(run_id)) {}

ApiPhase::~ApiPhase() = default;

std::vector<std::string> ApiPhase::describe(const kube::RestConfig& config) const {
  std::vector<std::string> lines;
  lines.push_back(
      fmt::format("context \"{}\", server {} ({})", config.context, config.server, config.source));
  if (settings_.jobs.empty()) {
    lines.push_back(fmt::format(
        "{} namespaces {}-0..{}, each with {} configmaps, {} secrets, {} services, {} deployments and {} "
        "pods ({}), labelled {}={}",
        shape_.iterations, run_id_, shape_.iterations - 1, settings_.configmaps, settings_.secrets,
        settings_.services, settings_.deployments, settings_.pods, settings_.pod_image, kRunLabel, run_id_));
  } else {
    for (const JobSpec& job : settings_.jobs) {
      lines.push_back(fmt::format("job {} ({}): {} iterations of {} templates", job.name, to_string(job.type),
                                  job.iterations, job.objects.size()));
    }
  }
  const std::string pace = shape_.qps > 0
                               ? fmt::format("at {:g} requests/s (burst {})", shape_.qps, shape_.burst)
                               : std::string("as fast as 512 requests in flight allow (rate max)");
  if (shape_.schedule.stress()) {
    lines.push_back(
        fmt::format("stress: {} steps from {} requests/s, each with its own namespaces, for about "
                    "{}; everything deleted at the end",
                    shape_.schedule.steps.size(), shape_.qps, format_duration(duration_)));
  } else {
    lines.push_back(
        fmt::format("{}, for about {}; everything deleted at the end", pace, format_duration(duration_)));
  }
  return lines;
}

Result<void> ApiPhase::prepare(const kube::RestConfig& config) {
  kube::ClientOptions options;
  options.qps = 0;  // jobs pace themselves (per-job qps/burst)
  options.request_timeout = settings_.request_timeout;
  options.connect_timeout = std::min<Duration>(settings_.request_timeout, std::chrono::seconds(10));
  Progress progress = progress_;
  options.warn = [progress](std::string_view text) { progress(text); };
  Result<std::unique_ptr<kube::Transport>> transport = kube::Transport::create(config, options, clock_);
  if (!transport) {
    return std::unexpected(transport.error());
  }
  transport_ = std::move(*transport);
  server_ = config.server;
  const std::string who = fmt::format("API server {} (context \"{}\")", config.server, config.context);
  // Reachable and authenticated: list namespaces (what the run needs anyway) with limit 1.
  kube::ListOptions probe;
  probe.limit = 1;
  kube::Request request = kube::list_request(kube::namespaces_resource(), "", probe);
  request.rate_limited = false;
  std::string path = request.path;
  kube::ApiResult<json> answer = kube::json_result("GET", path, transport_->call(std::move(request)));
  if (!answer) {
    Error error = answer.error().error;
    if (answer.error().code == 0) {
      error.kind = ErrorKind::unavailable;  // nothing answers there: the phase is SKIPPED with the reason
    }
    return std::unexpected(with_context(error, who + ": "));
  }
  // Every permission the run needs, before anything is created.
  Result<std::vector<kube::Permission>> needed = required_permissions(settings_);
  if (!needed) {
    return std::unexpected(needed.error());
  }
  return kube::require_access(*transport_, *needed, who);
}

Result<engine::PhaseRun> ApiPhase::run(engine::CancellationToken& cancel) {
  if (!transport_) {
    return fail(ErrorKind::internal, "api phase: run() before a successful prepare()");
  }
  kube::Transport& transport = *transport_;
  kube::Api api(transport);
  const load::CriteriaView criteria(criteria_);

  // Pod startup: a watch on the run's pods from before the first create; the run's namespaces'
  // ServiceAccounts likewise, so pods wait for them.
  PodStartupTracker tracker(clock_);
  kube::Reflector pods(transport, clock_, kube::pods_resource(), "", fmt::format("{}={}", kRunLabel, run_id_),
                       [&tracker](const kube::WatchEvent& event) { tracker.observe(event); });
  pods.start();
  ServiceAccountWaiter accounts(transport, clock_, run_id_ + "-");
  accounts.start();
  pods.wait_synced(clock_.now() + settings_.request_timeout);

  Workload workload(WorkloadContext{.transport = transport,
                                    .clock = clock_,
                                    .cancel = cancel,
                                    .settings = settings_,
                                    .run_id = run_id_,
                                    .tracker = tracker,
                                    .accounts = accounts,
                                    .progress = progress_,
                                    .live = live_});
  std::vector<std::string> notes = shape_.notes;

  auto scrape = [&](std::string_view when) -> std::optional<prom::Exposition> {
    if (!settings_.server_metrics) {
      return std::nullopt;
    }
    kube::ApiResult<std::string> page = api.get_text("/metrics", settings_.request_timeout);
    Result<prom::Exposition> parsed =
        page ? prom::parse_text(*page)
             : Result<prom::Exposition>(fail(ErrorKind::protocol, page.error().error.message));
    if (!parsed) {
      notes.push_back(fmt::format("server /metrics unreadable {}: {}", when, parsed.error().message));
      return std::nullopt;
    }
    return std::move(*parsed);
  };
  // One pass of the jobs at `shape`'s pace, with the server's SLIs over the same window.
  auto run_pass = [&](const Shape& shape, Duration duration) -> Result<Pass> {
    std::optional<prom::Exposition> before = scrape("before the run");
    Result<LoadStats> stats = workload.run(shape, duration);
    if (!stats) {
      return std::unexpected(stats.error());
    }
    Pass pass{.stats = std::move(*stats), .server = std::nullopt};
    if (before) {
      if (std::optional<prom::Exposition> after = scrape("after the run")) {
        Result<ServerSlis> slis = compute_server_slis(*before, *after);
        if (slis) {
          for (const std::string& problem : slis->problems) {
            notes.push_back("server /metrics: " + problem);
          }
          pass.server = std::move(*slis);
        } else {
          notes.push_back("server /metrics: " + slis.error().message);
        }
      }
    }
    return pass;
  };

  Pass judged;
  std::optional<load::StressResult> stress;
  if (!shape_.schedule.stress()) {
    Result<Pass> pass = run_pass(shape_, duration_);
    if (!pass) {
      return std::unexpected(pass.error());
    }
    judged = std::move(*pass);
  } else {
    // The QPS ramp, then bisection; never a step above one that broke (a real cluster is not loaded past a
    // Critical breach).
    const load::Schedule& schedule = shape_.schedule;
    std::vector<double> ramp;
    for (const load::Step& step : schedule.steps) {
      ramp.push_back(step.rate->per_second);
    }
    load::BreakingPointSearch search(ramp, schedule.bisect, schedule.base->per_second);
    std::map<double, Pass> passes;
    std::size_t index = 0;
    while (std::optional<double> level = search.next_level()) {
      const Duration step_duration =
          search.next_is_bisection() ? schedule.bisect_step_duration
                                     : schedule.steps[std::min(index, schedule.steps.size() - 1)].duration;
      progress_(fmt::format("stress step {}: {:g} QPS (x{:.3g}) for {}{}", search.steps().size() + 1, *level,
                            search.next_factor(), format_duration(step_duration),
                            search.next_is_bisection() ? ", bisection" : ""));
      const Shape step_shape = shape_at(settings_, *level, step_duration);
      Result<Pass> pass = run_pass(step_shape, step_duration);
      if (!pass) {
        return std::unexpected(pass.error());
      }
      load::StepRecord record = step_record(pass->stats, *level, criteria, cancel.requested());
      progress_(fmt::format("stress step {}: achieved {:.4g} of {:g} QPS, {}", search.steps().size() + 1,
                            record.achieved, *level, record.held() ? "held" : "broke: " + record.broke));
      if (!search.next_is_bisection()) {
        ++index;
      }
      search.record(std::move(record));
      passes[*level] = std::move(*pass);
    }
    stress = load::summarize(search, "requests", "api.breaking_qps", "QPS");
    // The rows show the highest step held (the first step when none held), as the cluster's figures.
    const std::optional<double> shown = search.last_held() ? search.last_held()
                                        : search.steps().empty()
                                            ? std::nullopt
                                            : std::optional(search.steps().front().level);
    if (shown && passes.contains(*shown)) {
      judged = std::move(passes[*shown]);
      notes.push_back(fmt::format("stress: the rows show the step at {:g} QPS", *shown));
    }
  }
  pods.stop();
  accounts.stop();

  std::vector<std::string> workload_notes = workload.notes();
  notes.insert(notes.end(), workload_notes.begin(), workload_notes.end());
  PodStartupResult startup = tracker.result(settings_.pod_startup_timeout);
  engine::PhaseRun result =
      measure(MeasureInput{.stats = judged.stats,
                           .server = judged.server,
                           .startup = startup,
                           .pod_startup_timeout = settings_.pod_startup_timeout,
                           .qps = stress ? judged.stats.offered_rate().value_or(0) : shape_.qps,
                           .burst = shape_.burst,
                           .notes = notes,
                           .criteria = criteria});
  result.notes.insert(result.notes.begin(), shape_.notes.begin(), shape_.notes.end());
  if (stress) {
    if (stress->breaking_level) {
      result.measurements.push_back(Measurement{.metric = stress->metric,
                                                .value = *stress->breaking_level,
                                                .offered = std::nullopt,
                                                .histogram = {},
                                                .source = "client",
                                                .note = stress->note});
    } else {
      result.notes.push_back("api.breaking_qps: " + stress->note);
    }
    result.stress.push_back(std::move(*stress));
  }
  return result;
}

void ApiPhase::teardown() noexcept {
  if (!transport_) {
    return;
  }
  try {
    Result<std::vector<std::string>> removed =
        cleanup(*transport_, run_id_, settings_.cleanup_timeout, clock_);
    if (!removed) {
      progress_(fmt::format("cleanup of run {}: {}", run_id_, removed.error().message));
    } else if (!removed->empty()) {
      progress_(fmt::format("cleanup of run {}: {} namespaces deleted", run_id_, removed->size()));
    }
  } catch (...) {
    progress_(fmt::format("cleanup of run {} failed; `kubeproof cleanup --run {}` removes what is left",
                          run_id_, run_id_));
  }
  transport_.reset();
}

}  // namespace kp::drivers::api
