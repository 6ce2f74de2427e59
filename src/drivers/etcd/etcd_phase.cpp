#include "drivers/etcd/etcd_phase.hpp"

#include <random>

#include <fmt/format.h>

#include "drivers/etcd/grpc_transport.hpp"

namespace kp::drivers::etcd {
namespace {

// Filling the key space before a read-only run is bounded in time like every other loop.
constexpr Duration kFillLimit = std::chrono::seconds(60);

std::string per_second(double rate) {
  return fmt::format("{:.0f}/s", rate);
}

}  // namespace

std::string default_metrics_url(const std::vector<std::string>& endpoints, const TlsFiles& tls) {
  if (endpoints.empty()) {
    return {};
  }
  std::string endpoint = endpoints.front();
  if (endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
    return endpoint + "/metrics";
  }
  return fmt::format("{}://{}/metrics", tls.enabled() ? "https" : "http", endpoint);
}

EtcdPhase::EtcdPhase(Settings settings, RunPlan plan, Clock& clock, ProgressFn progress,
                     std::span<const config::CriteriaRow> criteria)
    : settings_(std::move(settings)),
      plan_(std::move(plan)),
      clock_(clock),
      progress_(std::move(progress)),
      criteria_(criteria) {}

EtcdPhase::~EtcdPhase() = default;

Result<void> EtcdPhase::prepare(const Endpoint& endpoint) {
  endpoint_ = endpoint;
  Result<Connections> connections = open_connections(endpoint.endpoints, endpoint.tls, settings_.connections);
  if (!connections) {
    return std::unexpected(connections.error());
  }
  connections_ = std::move(*connections);
  // Every connection must come up: a bad endpoint in the list should fail here, not as errors under load.
  for (std::size_t i = 0; i < connections_->channels.size() && i < endpoint.endpoints.size(); ++i) {
    Result<MemberStatus> status =
        member_status(connections_->channels[i], connections_->targets[i], settings_.request_timeout);
    if (!status) {
      return std::unexpected(status.error());
    }
    if (status->leader == 0) {
      return fail(ErrorKind::network, fmt::format("etcd {}: the member knows no leader (raft term {})",
                                                  connections_->targets[i], status->raft_term));
    }
    if (progress_) {
      progress_(fmt::format(
          "etcd {} version {}, member {:x}, leader {:x}, db {} bytes{}", connections_->targets[i],
          status->version, status->member_id, status->leader, status->db_size,
          status->errors.empty() ? "" : ", alarms: " + fmt::format("{}", fmt::join(status->errors, ", "))));
    }
  }
  for (std::size_t i = 0; i < connections_->channels.size(); ++i) {
    if (Result<void> connected =
            wait_connected(connections_->channels[i], connections_->targets[i], settings_.request_timeout);
        !connected) {
      return connected;
    }
  }
  if (!endpoint.metrics_url.empty()) {
    Result<prom::Exposition> page = scrape(endpoint.metrics_url, settings_.metrics_timeout, endpoint.tls);
    if (page) {
      before_ = std::move(*page);
    } else {
      record_.scrape_problem = page.error().message;
    }
  } else {
    record_.scrape_problem = "no metrics URL";
  }
  return {};
}

Result<StageResult> EtcdPhase::run_one(const Stage& stage, const EngineOptions& options,
                                       engine::CancellationToken& cancel) {
  const int workers =
      std::clamp(options.threads, 1, std::max(1, static_cast<int>(connections_->channels.size())));
  return run_stage(grpc_transport_factory(*connections_, make_value(options.value_size, options.seed),
                                          options.serializable),
                   workers, stage, options, clock_, cancel);
}

Result<engine::PhaseRun> EtcdPhase::run(engine::CancellationToken& cancel) {
  if (!connections_) {
    return fail(ErrorKind::internal, "etcd phase: run() before a successful prepare()");
  }
  std::random_device seeds;
  EngineOptions options = engine_options(settings_, (std::uint64_t(seeds()) << 32) | seeds());
  options.live = live_;
  if (settings_.workload == Workload::read && !cancel.requested()) {
    // A read-only run reads keys that must exist: write each key of the key space once, unmeasured.
    Stage fill{.name = "fill",
               .read_fraction = 0,
               .rate = std::nullopt,
               .duration = kFillLimit,
               .total = settings_.key_space,
               .factor = 1.0,
               .stress_step = false,
               .bisection = false};
    EngineOptions fill_options = options;
    fill_options.live = nullptr;  // the fill is not measured
    fill_options.sequential_keys = true;
    Result<StageResult> filled = run_one(fill, fill_options, cancel);
    if (!filled) {
      return std::unexpected(filled.error());
    }
    if (progress_) {
      progress_(describe_stage(*filled));
    }
  }
  bool stop = false;
  for (const Stage& stage : plan_.stages) {
    if (cancel.requested()) {
      break;
    }
    if (progress_) {
      progress_(fmt::format("{}: {} for {}", stage.name,
                            stage.rate ? per_second(stage.rate->per_second) : std::string("max"),
                            format_duration(stage.duration)));
    }
    Result<StageResult> result = run_one(stage, options, cancel);
    if (!result) {
      return std::unexpected(result.error());
    }
    if (progress_) {
      progress_(describe_stage(*result));
    }
    stop = !result->stopped_early.empty() || result->cancelled;
    record_.stages.push_back(std::move(*result));
    if (stop) {
      break;  // the server is gone or the user interrupted: later stages would only count errors
    }
  }
  const SearchLimits limits = search_limits(criteria_);
  for (const StressSeries& series : plan_.stress) {
    if (stop || cancel.requested()) {
      break;
    }
    auto run_step = [&](const Stage& step) -> Result<StageResult> {
      Result<StageResult> result = run_one(step, options, cancel);
      if (result && progress_) {
        progress_(describe_stage(*result));
      }
      return result;
    };
    Result<load::StressResult> searched =
        search_breaking_point(series, limits, run_step, record_.stages, cancel, progress_);
    if (!searched) {
      return std::unexpected(searched.error());
    }
    if (progress_) {
      progress_(fmt::format("{}: {}", series.metric, searched->note));
    }
    record_.stress.push_back(std::move(*searched));
    stop = !record_.stages.empty() && !record_.stages.back().stopped_early.empty();
  }
  if (before_) {
    Result<prom::Exposition> after = scrape(endpoint_.metrics_url, settings_.metrics_timeout, endpoint_.tls);
    if (after) {
      record_.server = compare(*before_, *after);
    } else {
      record_.scrape_problem = after.error().message;
    }
  }
  return build_run(record_, settings_, plan_, criteria_);
}

void EtcdPhase::teardown() noexcept {
  try {
    if (connections_ && !connections_->channels.empty()) {
      Result<std::int64_t> deleted =
          delete_prefix(connections_->channels.front(), settings_.key_prefix, settings_.request_timeout);
      if (progress_) {
        progress_(deleted ? fmt::format("deleted {} keys under \"{}\"", *deleted, settings_.key_prefix)
                          : fmt::format("could not delete the keys under \"{}\": {}", settings_.key_prefix,
                                        deleted.error().message));
      }
    }
  } catch (...) {
    // Teardown must not throw; a failed cleanup was reported above when it could be.
  }
  connections_.reset();
}

}  // namespace kp::drivers::etcd
