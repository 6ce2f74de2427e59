#include "drivers/etcd/results.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "config/metric_catalog.hpp"

namespace kp::drivers::etcd {
namespace {

double seconds(std::int64_t nanoseconds) {
  return double(nanoseconds) / 1e9;
}

std::string ms(double seconds_value) {
  return format_quantity(Quantity::duration, seconds_value, "ms");
}

std::string per_second(double rate) {
  return fmt::format("{:.0f}/s", rate);
}

std::string size_text(std::uint64_t bytes) {
  return bytes % 1024 == 0 ? fmt::format("{} KiB", bytes / 1024) : fmt::format("{} B", bytes);
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

// The stages the verdict judges: every steady stage, and per stress series the step at 100 % of capacity
// (the rate the plan says the cluster must carry), or the series' first step when the ramp has none.
std::vector<const StageResult*> judged_stages(const std::vector<StageResult>& stages) {
  std::vector<const StageResult*> judged;
  std::map<std::string, const StageResult*, std::less<>> by_series;
  std::vector<std::string> order;
  for (const StageResult& stage : stages) {
    if (!stage.stage.stress_step) {
      judged.push_back(&stage);
      continue;
    }
    if (stage.stage.bisection) {
      continue;
    }
    const std::string series(series_of(stage.stage.read_fraction));
    auto found = by_series.find(series);
    if (found == by_series.end()) {
      by_series.emplace(series, &stage);
      order.push_back(series);
    } else if (std::abs(stage.stage.factor - 1.0) < 1e-9 &&
               std::abs(found->second->stage.factor - 1.0) >= 1e-9) {
      found->second = &stage;
    }
  }
  for (const std::string& series : order) {
    judged.push_back(by_series.at(series));
  }
  return judged;
}

// The rows a series' latency feeds: the validity rule holds its lateness to the tightest of them.
std::vector<std::string_view> latency_rows(std::string_view series) {
  if (series == "writes") {
    return {"etcd.write.p99"};
  }
  if (series == "reads") {
    return {"etcd.read.p99"};
  }
  return {"etcd.write.p99", "etcd.read.p99"};
}

}  // namespace

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
  if (stage.sends.queued_for_server > 0) {
    line += fmt::format("; {} queued for a connection", stage.sends.queued_for_server);
  }
  if (!stage.stopped_early.empty()) {
    line += "; stopped early: " + stage.stopped_early;
  }
  if (stage.cancelled) {
    line += "; cancelled";
  }
  return line;
}

std::vector<load::GeneratorAccount> generator_accounts(const std::vector<StageResult>& stages,
                                                       const load::CriteriaView& criteria) {
  std::vector<const StageResult*> all;
  for (const StageResult& stage : stages) {
    all.push_back(&stage);
  }
  return generator_accounts(all, criteria);
}

std::vector<load::GeneratorAccount> generator_accounts(const std::vector<const StageResult*>& stages,
                                                       const load::CriteriaView& criteria) {
  std::vector<load::GeneratorAccount> accounts;
  for (const StageResult* each : stages) {
    const StageResult& stage = *each;
    if (!stage.stage.rate) {
      continue;  // closed loop: nothing is due, nothing is late
    }
    const std::string_view series = series_of(stage.stage.read_fraction);
    auto found = std::find_if(accounts.begin(), accounts.end(),
                              [&](const load::GeneratorAccount& a) { return a.what == series; });
    if (found == accounts.end()) {
      load::GeneratorAccount account;
      account.what = std::string(series);
      account.rate_judged = (series != "reads" && criteria.judged("etcd.write.throughput")) ||
                            (series != "writes" && criteria.judged("etcd.read.throughput"));
      accounts.push_back(std::move(account));
      found = accounts.end() - 1;
    }
    load::GeneratorAccount& account = *found;
    account.window += stage.window();
    account.due += stage.sends.due;
    account.sent += stage.sends.sent;
    account.queued_for_server += stage.sends.queued_for_server;
    account.unsent_for_server += stage.sends.unsent_for_server;
    account.own_lateness.merge(stage.sends.own_lateness);
  }
  for (load::GeneratorAccount& account : accounts) {
    const double window = std::chrono::duration<double>(account.window).count();
    account.offered = window > 0 ? double(account.due) / window : 0.0;
  }
  return accounts;
}

engine::PhaseRun build_run(const RunRecord& record, const Settings& settings, const RunPlan& plan,
                           const load::CriteriaView& criteria) {
  const std::vector<StageResult>& stages = record.stages;
  engine::PhaseRun run;
  std::vector<std::string> fallback;
  std::string shape_note = fmt::format(
      "{} clients over {} connections, {} keys, {} values, key space {}, {} keys, {} reads", settings.clients,
      settings.connections, size_text(settings.key_size), size_text(settings.value_size), settings.key_space,
      settings.sequential_keys ? "sequential" : "random",
      settings.serializable ? "serializable" : "linearizable");

  const std::vector<const StageResult*> judged = judged_stages(stages);
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

  if (record.server) {
    const ServerDelta& server = *record.server;
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
        "etcd.fsync.p99", server.fsync_p99,
        fmt::format("etcd_disk_wal_fsync_duration_seconds over the run ({:.0f} fsyncs), interpolated "
                    "like PromQL histogram_quantile",
                    server.fsync_count));
    server_measurement("etcd.backend_commit.p99", server.backend_commit_p99,
                       fmt::format("etcd_disk_backend_commit_duration_seconds over the run ({:.0f} commits)",
                                   server.backend_commit_count));
    if (!record.leader) {
      server_measurement("etcd.leader_changes", server.leader_changes,
                         "etcd_server_leader_changes_seen_total, after minus before the run");
    }
    server_measurement("etcd.has_leader", server.has_leader, "etcd_server_has_leader after the run");
    for (const std::string& problem : server.problems) {
      fallback.push_back("server metrics: " + problem);
    }
  } else if (!record.scrape_problem.empty()) {
    fallback.push_back("server metrics not measured: " + record.scrape_problem);
  }
  if (record.leader) {
    if (record.leader->changes) {
      Measurement m;
      m.metric = "etcd.leader_changes";
      m.value = *record.leader->changes;
      m.source = "server /metrics, Maintenance Status";
      m.note = record.leader->note;
      add(run, std::move(m), fallback);
    }
  }
  if (record.members) {
    Measurement m;
    m.metric = "etcd.members";
    m.value = static_cast<double>(*record.members);
    m.source = "MemberList";
    add(run, std::move(m), fallback);
  }

  for (const load::StressResult& result : record.stress) {
    if (result.breaking_level) {
      Measurement m;
      m.metric = result.metric;
      m.value = *result.breaking_level;
      m.source = "client";
      m.note = result.note;
      add(run, std::move(m), fallback);
    } else {
      run.notes.push_back(fmt::format("{}: {}", result.metric, result.note));
    }
  }
  run.stress = record.stress;

  for (const StageResult& stage : stages) {
    if (!stage.stopped_early.empty()) {
      run.invalid_reasons.push_back(fmt::format("{} stage stopped after {}: {}", stage.stage.name,
                                                format_duration(stage.elapsed), stage.stopped_early));
    }
  }
  // The one validity rule, on the stages the verdict judges.
  for (const load::GeneratorAccount& account : generator_accounts(judged, criteria)) {
    const std::vector<std::string_view> rows = latency_rows(account.what);
    load::Validity validity =
        load::judge_validity(account, criteria.tightest_latency_target(Phase::etcd, rows));
    run.notes.push_back(validity.statement);
    for (std::string& reason : validity.invalid_reasons) {
      run.invalid_reasons.push_back(std::move(reason));
    }
    if (validity.lateness) {
      run.lateness.push_back(*validity.lateness);
    }
  }
  if (!record.stress.empty()) {
    // What the generator did over every step of the searches, stated: those steps judge no row.
    for (const load::GeneratorAccount& account : generator_accounts(stages, criteria)) {
      run.notes.push_back("every step of the search, " +
                          load::judge_validity(account, std::nullopt).statement);
    }
  }
  for (const std::string& note : plan.notes) {
    run.notes.push_back(note);
  }
  // After the generator's statements and the rate's origin, which readers look for first.
  if (record.leader) {
    run.notes.insert(run.notes.end(), record.leader->notes.begin(), record.leader->notes.end());
  }
  // Notes without a measurement of their own ride on the first measurement, so reports show them beside it.
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

}  // namespace kp::drivers::etcd
