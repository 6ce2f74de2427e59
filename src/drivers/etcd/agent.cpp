#include "drivers/etcd/agent.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/flag_values.hpp"

namespace kp::drivers::etcd {
namespace {

// With --total and no --duration the count ends the run; this bound only guarantees that it ends.
constexpr Duration kTotalOnlyBound = std::chrono::minutes(10);
constexpr Duration kDefaultDuration = std::chrono::seconds(10);

nlohmann::json side_json(const OperationStats& stats, double rate) {
  auto p = [&](const Histogram& histogram, double percentile) {
    return double(histogram.value_at_percentile(percentile)) / 1e9;
  };
  return nlohmann::json{{"ok", stats.ok},
                        {"errors", stats.errors},
                        {"rate", rate},
                        {"p50_s", p(stats.latency.corrected, 50)},
                        {"p90_s", p(stats.latency.corrected, 90)},
                        {"p99_s", p(stats.latency.corrected, 99)},
                        {"p999_s", p(stats.latency.corrected, 99.9)},
                        {"max_s", double(stats.latency.corrected.max()) / 1e9},
                        {"uncorrected_p99_s", p(stats.latency.uncorrected, 99)}};
}

}  // namespace

void attach_agent_options(CLI::App& app, AgentOptions& options) {
  app.add_option("--endpoints", options.endpoints, "etcd client endpoints, host:port or https://host:port")
      ->delimiter(',');
  app.add_option("--cacert", options.cacert,
                 "CA bundle to verify etcd (kubeadm: /etc/kubernetes/pki/etcd/ca.crt)");
  app.add_option("--cert", options.cert, "client certificate (kubeadm: .../etcd/healthcheck-client.crt)");
  app.add_option("--key", options.key, "client key (kubeadm: .../etcd/healthcheck-client.key)");
  app.add_option("--metrics-url", options.metrics_url,
                 "etcd /metrics URL; default <endpoint>/metrics; none: skip");
  app.add_option("--workload", options.workload, "put | range | mixed | write-then-read");
  app.add_option("--read-ratio", options.read_ratio, "share of Range requests in the mixed workload");
  app.add_option("--consistency", options.consistency,
                 "Range consistency: l (linearizable) or s (serializable)");
  app.add_option("--rate", options.rate, "requests per second (open loop), or max (closed loop)");
  app.add_option("--arrival", options.arrival, "open-loop arrivals: constant or poisson");
  app.add_option("--duration", options.duration, "how long each stage runs (default 10s)");
  app.add_option("--total", options.total, "stop each stage after this many requests");
  app.add_option("--conns", options.conns, "gRPC connections")->check(CLI::Range(1, 1000));
  app.add_option("--clients", options.clients, "concurrent requests over all connections")
      ->check(CLI::Range(1, 100000));
  app.add_option("--threads", options.threads, "worker threads (0: one per two cores)")
      ->check(CLI::Range(0, 256));
  app.add_option("--key-size", options.key_size, "key size, e.g. 8 or 256B");
  app.add_option("--val-size", options.val_size, "value size, e.g. 256 or 1KiB");
  app.add_option("--key-space", options.key_space, "number of distinct keys")
      ->check(CLI::Range(1ull, 1ull << 40));
  app.add_flag("--sequential-keys", options.sequential_keys,
               "walk the key space in order instead of at random");
  app.add_option("--key-prefix", options.key_prefix, "prefix of every key written (deleted afterwards)");
  app.add_option("--request-timeout", options.request_timeout, "deadline of each request");
  app.add_flag("--keep-keys", options.keep_keys, "do not delete the keys written");
}

Result<AgentPlan> to_agent_plan(const AgentOptions& options) {
  AgentPlan plan;
  Settings& s = plan.settings;
  s.endpoints = options.endpoints;
  if (s.endpoints.empty()) {
    return fail(ErrorKind::usage, "--endpoints: at least one endpoint is required");
  }
  s.tls = TlsFiles{.ca_file = options.cacert, .cert_file = options.cert, .key_file = options.key};
  if (options.workload == "put" || options.workload == "write") {
    s.workload = Workload::write;
  } else if (options.workload == "range" || options.workload == "read") {
    s.workload = Workload::read;
  } else if (options.workload == "mixed") {
    s.workload = Workload::mixed;
  } else if (options.workload == "write-then-read") {
    s.workload = Workload::write_then_read;
  } else {
    return flag_error("workload", "must be put, range, mixed or write-then-read", options.workload);
  }
  Result<Ratio> ratio = parse_ratio(options.read_ratio);
  if (!ratio || ratio->fraction < 0 || ratio->fraction > 1) {
    return flag_error("read-ratio", "must be a ratio within 0..100%", options.read_ratio);
  }
  s.read_fraction = ratio->fraction;
  if (options.consistency == "l" || options.consistency == "linearizable") {
    s.serializable = false;
  } else if (options.consistency == "s" || options.consistency == "serializable") {
    s.serializable = true;
  } else {
    return flag_error("consistency", "must be l or s", options.consistency);
  }
  // "0" is etcd benchmark's spelling of "no rate limit". One flag reader for every agent (load/rate_setting).
  Result<load::RateSetting> rate =
      load::agent_rate_setting("rate", options.rate == "0" ? "max" : options.rate);
  if (!rate) {
    return std::unexpected(rate.error());
  }
  s.rate = *rate;
  Result<Arrival> arrival = flag_arrival("arrival", options.arrival);
  if (!arrival) {
    return std::unexpected(arrival.error());
  }
  s.arrival = *arrival;
  Duration duration = options.total ? kTotalOnlyBound : kDefaultDuration;
  if (!options.duration.empty()) {
    Result<Duration> parsed = parse_duration(options.duration);
    if (!parsed || parsed->count() <= 0) {
      return flag_error("duration", "not a duration > 0", options.duration);
    }
    duration = *parsed;
  }
  if (options.total && *options.total == 0) {
    return flag_error("total", "must be > 0", "0");
  }
  s.total = options.total;
  s.connections = options.conns;
  s.clients = options.clients;
  s.threads = options.threads;
  Result<ByteSize> key_size = parse_byte_size(options.key_size);
  if (!key_size || key_size->bytes == 0) {
    return flag_error("key-size", "not a size > 0", options.key_size);
  }
  s.key_size = key_size->bytes;
  Result<ByteSize> value_size = parse_byte_size(options.val_size);
  if (!value_size || value_size->bytes == 0) {
    return flag_error("val-size", "not a size > 0", options.val_size);
  }
  s.value_size = value_size->bytes;
  s.key_space = options.key_space;
  s.sequential_keys = options.sequential_keys;
  s.key_prefix = options.key_prefix;
  Result<Duration> timeout = parse_duration(options.request_timeout);
  if (!timeout || timeout->count() <= 0) {
    return flag_error("request-timeout", "not a duration > 0", options.request_timeout);
  }
  s.request_timeout = *timeout;
  if (Result<void> valid = validate(s, "etcd agent: settings"); !valid) {
    return std::unexpected(Error{ErrorKind::usage, valid.error().message});
  }
  // The agent runs the workload it is told, as one stage (write-then-read: two), at the given rate.
  Result<RunPlan> run_plan = plan_run(s, PlanInput{.type = config::TestType::load,
                                                   .capacity = std::nullopt,
                                                   .load = 1.0,
                                                   .duration = duration,
                                                   .where = ""});
  if (!run_plan) {
    return std::unexpected(Error{ErrorKind::usage, run_plan.error().message});
  }
  plan.plan = std::move(*run_plan);
  plan.endpoint = Endpoint{
      .endpoints = s.endpoints, .metrics_url = options.metrics_url, .tls = s.tls, .member_metrics_urls = {}};
  if (plan.endpoint.metrics_url == "none") {
    plan.endpoint.metrics_url.clear();
  } else if (plan.endpoint.metrics_url.empty()) {
    plan.endpoint.metrics_url = default_metrics_url(s.endpoints, s.tls);
    plan.endpoint.member_metrics_urls = default_member_metrics_urls(s.endpoints, s.tls);
  }
  return plan;
}

Result<AgentResult> run_agent(const AgentOptions& options, Clock& clock, engine::CancellationToken& cancel,
                              const ProgressFn& progress) {
  Result<AgentPlan> plan = to_agent_plan(options);
  if (!plan) {
    return std::unexpected(plan.error());
  }
  EtcdPhase phase(plan->settings, plan->plan, clock, progress);
  if (Result<void> prepared = phase.prepare(plan->endpoint); !prepared) {
    return std::unexpected(prepared.error());
  }
  Result<engine::PhaseRun> run = phase.run(cancel);
  if (!options.keep_keys) {
    phase.teardown();
  }
  if (!run) {
    return std::unexpected(run.error());
  }
  AgentResult result;
  result.run = std::move(*run);
  result.stages = phase.stages();
  return result;
}

std::string agent_json_line(const AgentResult& result) {
  nlohmann::json measurements = nlohmann::json::array();
  for (const Measurement& m : result.run.measurements) {
    measurements.push_back(to_json(m));
  }
  nlohmann::json stages = nlohmann::json::array();
  for (const StageResult& stage : result.stages) {
    nlohmann::json item{{"name", stage.stage.name},
                        {"intended_rate", stage.intended_rate()},
                        {"elapsed_s", std::chrono::duration<double>(stage.elapsed).count()},
                        {"issued", stage.issued},
                        {"late_sends", stage.pacer.late_sends},
                        {"due", stage.sends.due},
                        {"queued_for_server", stage.sends.queued_for_server},
                        {"cancelled", stage.cancelled},
                        {"stopped_early", stage.stopped_early},
                        {"first_error", stage.first_error}};
    if (stage.put.completed() > 0) {
      item["put"] = side_json(stage.put, stage.put_rate());
    }
    if (stage.range.completed() > 0) {
      item["range"] = side_json(stage.range, stage.range_rate());
    }
    stages.push_back(std::move(item));
  }
  nlohmann::json line{{"kind", "kubeproof.agent.etcd"},
                      {"version", 1},
                      {"measurements", std::move(measurements)},
                      {"invalid_reasons", result.run.invalid_reasons},
                      {"notes", result.run.notes},
                      {"stages", std::move(stages)}};
  return line.dump();
}

}  // namespace kp::drivers::etcd
