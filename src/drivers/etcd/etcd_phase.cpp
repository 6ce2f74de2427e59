#include "drivers/etcd/etcd_phase.hpp"

#include <cmath>
#include <random>

#include <fmt/format.h>

#include "config/metric_catalog.hpp"

namespace kp::drivers::etcd {
namespace {

// Below this share of its intended rate an open-loop stage did not do what it set out to (INVALID).
constexpr double kMinAchievedShare = 0.9;
// Filling the key space before a read-only run is bounded in time like every other loop.
constexpr Duration kFillLimit = std::chrono::seconds(60);

double seconds(std::int64_t nanoseconds) {
  return double(nanoseconds) / 1e9;
}

std::string ms(double seconds_value) {
  return format_quantity(Quantity::duration, seconds_value, "ms");
}

std::string per_second(double rate) {
  return fmt::format("{:.0f}/s", rate);
}

double achieved_rate(const StageResult& stage) {
  double elapsed = std::chrono::duration<double>(stage.elapsed).count();
  return elapsed > 0 ? double(stage.put.ok + stage.range.ok) / elapsed : 0.0;
}

bool saturated(const StageResult& stage) {
  return stage.stage.rate && stage.stopped_early.empty() && !stage.cancelled &&
         achieved_rate(stage) < kMinAchievedShare * stage.stage.rate->per_second;
}

std::string_view size_text(std::uint64_t bytes) {
  static thread_local std::string text;
  text = bytes % 1024 == 0 ? fmt::format("{} KiB", bytes / 1024) : fmt::format("{} B", bytes);
  return text;
}

// Adds `measurement` when the catalog knows its id; otherwise appends "id = value" to `fallback` so the
// number is not lost while the catalog catches up.
void add(engine::PhaseRun& run, Measurement measurement, std::vector<std::string>& fallback) {
  if (config::find_metric(measurement.metric) != nullptr) {
    run.measurements.push_back(std::move(measurement));
    return;
  }
  fallback.push_back(fmt::format("{} = {:g}{}", measurement.metric, measurement.value,
                                 measurement.note.empty() ? "" : " (" + measurement.note + ")"));
}

struct Side {
  LatencyRecorder latency;
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
  double seconds = 0;
  std::vector<const StageResult*> stages;
};

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

std::string describe_stage(const StageResult& stage) {
  auto side = [](std::string_view name, const OperationStats& stats, double rate) {
    if (stats.completed() == 0) {
      return std::string();
    }
    return fmt::format("; {} {} ok, {} errors, {}, P99 {} (uncorrected {})", name, stats.ok, stats.errors,
                       per_second(rate), ms(seconds(stats.latency.corrected.value_at_percentile(99))),
                       ms(seconds(stats.latency.uncorrected.value_at_percentile(99))));
  };
  std::string line = fmt::format(
      "{} at {} for {}", stage.stage.name,
      stage.stage.rate ? per_second(stage.stage.rate->per_second) : std::string("max (closed loop)"),
      format_duration(stage.elapsed));
  line += side("put", stage.put, stage.put_rate());
  line += side("range", stage.range, stage.range_rate());
  if (!stage.stopped_early.empty()) {
    line += "; stopped early: " + stage.stopped_early;
  }
  if (stage.cancelled) {
    line += "; cancelled";
  }
  return line;
}

engine::PhaseRun build_run(const std::vector<StageResult>& stages, const std::optional<ServerDelta>& server,
                           const Settings& settings, const RunShape& shape,
                           const std::string& scrape_problem) {
  engine::PhaseRun run;
  std::vector<std::string> fallback;
  std::string shape_note = fmt::format(
      "{} clients over {} connections, {} keys, {} values, key space {}, {} keys, {} reads", settings.clients,
      settings.connections, size_text(settings.key_size), std::string(size_text(settings.value_size)),
      settings.key_space, settings.sequential_keys ? "sequential" : "random",
      settings.serializable ? "serializable" : "linearizable");

  // Stress: the verdict judges the step at the nominal rate (or the last step that ran when stepping stopped
  // before it); the breaking rate is where write P99 first crossed the limit.
  std::vector<const StageResult*> judged;
  const StageResult* nominal_step = nullptr;
  const StageResult* last_step = nullptr;
  const StageResult* breaking_step = nullptr;
  const StageResult* last_under = nullptr;
  for (const StageResult& stage : stages) {
    if (!stage.stage.stress_step) {
      judged.push_back(&stage);
      continue;
    }
    last_step = &stage;
    if (std::abs(stage.stage.factor - 1.0) < 1e-9) {
      nominal_step = &stage;
    }
    double p99 = seconds(stage.put.latency.corrected.value_at_percentile(99));
    if (breaking_step == nullptr && stage.put.ok > 0) {
      if (p99 > std::chrono::duration<double>(settings.stress_p99_limit).count()) {
        breaking_step = &stage;
      } else {
        last_under = &stage;
      }
    }
  }
  if (last_step != nullptr) {
    judged.push_back(nominal_step != nullptr ? nominal_step : last_step);
  }

  Side write;
  Side read;
  for (const StageResult* stage : judged) {
    double elapsed = std::chrono::duration<double>(stage->elapsed).count();
    if (stage->put.completed() > 0 || stage->stage.read_fraction < 1.0) {
      write.latency.merge(stage->put.latency);
      write.ok += stage->put.ok;
      write.errors += stage->put.errors;
      write.seconds += elapsed;
      write.stages.push_back(stage);
    }
    if (stage->range.completed() > 0 || stage->stage.read_fraction > 0.0) {
      read.latency.merge(stage->range.latency);
      read.ok += stage->range.ok;
      read.errors += stage->range.errors;
      read.seconds += elapsed;
      read.stages.push_back(stage);
    }
  }

  auto rates_of = [](const Side& side) {
    std::string rates;
    for (const StageResult* stage : side.stages) {
      rates += (rates.empty() ? "" : ", ") +
               (stage->stage.rate ? per_second(stage->stage.rate->per_second) : std::string("max"));
    }
    return rates;
  };
  auto latency = [&](std::string id, const Side& side, std::string_view what) {
    if (side.ok == 0) {
      return;
    }
    Measurement m;
    m.metric = std::move(id);
    m.value = seconds(side.latency.corrected.value_at_percentile(99));
    m.histogram = side.latency.corrected;
    m.source = "client";
    m.note = fmt::format("{} {} at {} intended, from the intended send time; uncorrected P99 {}; {}", side.ok,
                         what, rates_of(side), ms(seconds(side.latency.uncorrected.value_at_percentile(99))),
                         shape_note);
    add(run, std::move(m), fallback);
  };
  auto throughput = [&](std::string id, const Side& side, std::string_view what) {
    if (side.stages.empty() || side.seconds <= 0) {
      return;
    }
    Measurement m;
    m.metric = std::move(id);
    m.value = double(side.ok) / side.seconds;
    m.source = "client";
    m.note = fmt::format("{} successful {} in {:.1f}s ({} failed)", side.ok, what, side.seconds, side.errors);
    add(run, std::move(m), fallback);
  };
  latency("etcd.write.p99", write, "writes");
  latency("etcd.read.p99", read, "reads");
  throughput("etcd.write.throughput", write, "writes");
  throughput("etcd.read.throughput", read, "reads");

  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::string first_error;
  for (const StageResult& stage : stages) {
    completed += stage.put.completed() + stage.range.completed();
    failed += stage.put.errors + stage.range.errors;
    if (first_error.empty()) {
      first_error = stage.first_error;
    }
  }
  if (completed > 0) {
    Measurement m;
    m.metric = "etcd.error_rate";
    m.value = double(failed) / double(completed);
    m.source = "client";
    m.note = failed == 0 ? fmt::format("0 of {} requests failed", completed)
                         : fmt::format("{} of {} requests failed; first: {}", failed, completed, first_error);
    add(run, std::move(m), fallback);
  }

  if (server) {
    auto server_measurement = [&](std::string id, std::optional<double> value, std::string note) {
      if (!value) {
        return;
      }
      Measurement m;
      m.metric = std::move(id);
      m.value = *value;
      m.source = "server /metrics";
      m.note = std::move(note);
      add(run, std::move(m), fallback);
    };
    server_measurement(
        "etcd.fsync.p99", server->fsync_p99,
        fmt::format("etcd_disk_wal_fsync_duration_seconds over the run ({:.0f} fsyncs), interpolated "
                    "like PromQL histogram_quantile",
                    server->fsync_count));
    server_measurement("etcd.backend_commit.p99", server->backend_commit_p99,
                       fmt::format("etcd_disk_backend_commit_duration_seconds over the run ({:.0f} commits)",
                                   server->backend_commit_count));
    server_measurement("etcd.leader_changes", server->leader_changes,
                       "etcd_server_leader_changes_seen_total, after minus before the run");
    server_measurement("etcd.has_leader", server->has_leader, "etcd_server_has_leader after the run");
    for (const std::string& problem : server->problems) {
      fallback.push_back("server metrics: " + problem);
    }
  } else if (!scrape_problem.empty()) {
    fallback.push_back("server metrics not measured: " + scrape_problem);
  }

  if (last_step != nullptr) {
    std::string limit = format_duration(settings.stress_p99_limit);
    if (breaking_step != nullptr) {
      Measurement m;
      m.metric = "etcd.write.breaking_rate";
      m.value = breaking_step->stage.rate->per_second;
      m.source = "client";
      m.note = fmt::format("write P99 {} > {} at {} (x{:g} of nominal){}",
                           ms(seconds(breaking_step->put.latency.corrected.value_at_percentile(99))), limit,
                           per_second(breaking_step->stage.rate->per_second), breaking_step->stage.factor,
                           last_under != nullptr ? fmt::format("; last rate under it {}",
                                                               per_second(last_under->stage.rate->per_second))
                                                 : std::string("; already at the first step"));
      add(run, std::move(m), fallback);
    } else {
      const StageResult* saturated_step = nullptr;
      for (const StageResult& stage : stages) {
        if (stage.stage.stress_step && saturated(stage)) {
          saturated_step = &stage;
          break;
        }
      }
      fallback.push_back(
          saturated_step != nullptr
              ? fmt::format(
                    "breaking rate not found: the load generator reached only {} of the intended {} before "
                    "write P99 crossed {}",
                    per_second(achieved_rate(*saturated_step)),
                    per_second(saturated_step->stage.rate->per_second), limit)
              : fmt::format("breaking rate not found: write P99 stayed under {} up to {}", limit,
                            per_second(last_step->stage.rate->per_second)));
    }
  }

  for (const StageResult& stage : stages) {
    if (!stage.stopped_early.empty()) {
      run.invalid_reasons.push_back(fmt::format("{} stage stopped after {}: {}", stage.stage.name,
                                                format_duration(stage.elapsed), stage.stopped_early));
    } else if (!stage.stage.stress_step && saturated(stage)) {
      run.invalid_reasons.push_back(fmt::format("{} stage achieved {} of the intended {}", stage.stage.name,
                                                per_second(achieved_rate(stage)),
                                                per_second(stage.stage.rate->per_second)));
    }
  }
  for (const std::string& note : shape.notes) {
    fallback.push_back(note);
  }
  // Notes without a measurement of their own ride on the first measurement, so reports show them.
  if (!fallback.empty()) {
    std::string joined;
    for (const std::string& note : fallback) {
      joined += (joined.empty() ? "" : "; ") + note;
    }
    if (!run.measurements.empty()) {
      Measurement& first = run.measurements.front();
      first.note += (first.note.empty() ? "" : "; ") + joined;
    } else {
      run.invalid_reasons.push_back("nothing measured: " + joined);
    }
  }
  return run;
}

EtcdPhase::EtcdPhase(Settings settings, RunShape shape, Clock& clock, ProgressFn progress)
    : settings_(std::move(settings)),
      shape_(std::move(shape)),
      clock_(clock),
      progress_(std::move(progress)) {}

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
      scrape_problem_ = page.error().message;
    }
  } else {
    scrape_problem_ = "no metrics URL";
  }
  return {};
}

engine::PhaseRun EtcdPhase::run(engine::CancellationToken& cancel) {
  std::random_device seeds;
  EngineOptions options = engine_options(settings_, (std::uint64_t(seeds()) << 32) | seeds());
  options.live = live_;
  double limit = std::chrono::duration<double>(settings_.stress_p99_limit).count();
  bool stepping_done = false;
  if (settings_.workload == Workload::read && !cancel.requested()) {
    // A read-only run reads keys that must exist: write each key of the key space once, unmeasured.
    Stage fill{.name = "fill",
               .read_fraction = 0,
               .rate = std::nullopt,
               .duration = kFillLimit,
               .total = settings_.key_space,
               .factor = 1.0,
               .stress_step = false};
    EngineOptions fill_options = options;
    fill_options.live = nullptr;  // the fill is not measured
    fill_options.sequential_keys = true;
    StageResult filled = run_stage(*connections_, fill, fill_options, clock_, cancel);
    if (progress_) {
      progress_(describe_stage(filled));
    }
  }
  for (const Stage& stage : shape_.stages) {
    if (cancel.requested()) {
      break;
    }
    if (stage.stress_step && stepping_done) {
      continue;
    }
    if (progress_) {
      progress_(fmt::format("{}: {} for {}", stage.name,
                            stage.rate ? per_second(stage.rate->per_second) : std::string("max"),
                            format_duration(stage.duration)));
    }
    StageResult result = run_stage(*connections_, stage, options, clock_, cancel);
    if (progress_) {
      progress_(describe_stage(result));
    }
    bool broke = result.put.ok > 0 && seconds(result.put.latency.corrected.value_at_percentile(99)) > limit;
    bool stop = !result.stopped_early.empty() || result.cancelled;
    stages_.push_back(std::move(result));
    if (stop) {
      break;  // the server is gone or the user interrupted: later stages would only count errors
    }
    if (stage.stress_step && (broke || saturated(stages_.back()))) {
      stepping_done = true;
    }
  }
  if (before_) {
    Result<prom::Exposition> after = scrape(endpoint_.metrics_url, settings_.metrics_timeout, endpoint_.tls);
    if (after) {
      server_ = compare(*before_, *after);
    } else {
      scrape_problem_ = after.error().message;
    }
  }
  return build_run(stages_, server_, settings_, shape_, scrape_problem_);
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
