#include "drivers/dns/cluster_runner.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cluster/agent_clock.hpp"
#include "config/metric_catalog.hpp"
#include "core/json_read.hpp"
#include "core/live_lines.hpp"
#include "core/measurement_json.hpp"
#include "core/offered_sink.hpp"
#include "drivers/dns/load_json.hpp"
#include "drivers/dns/wire.hpp"
#include "load/start_time.hpp"

namespace kp::drivers::dns {
namespace {

using nlohmann::json;

// Beyond the window: pulling nothing (the image is present), starting, the probe, the drain of the last
// timeouts and the report take well under this.
constexpr Duration kAgentSlack = std::chrono::seconds(60);
constexpr std::string_view kSpreadGroup = "dns-agent";

std::string millis(Duration d) {
  return fmt::format("{}ms", std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

std::string ms_text(double seconds) {
  return format_quantity(Quantity::duration, seconds, "ms");
}

}  // namespace

Result<AgentRun> parse_agent(const std::string& pod, const std::string& node, const json& line) {
  // The line comes from a pod's log: a garbled one is one line naming the pod and the field, never a throw.
  const std::string where = fmt::format("dns agent pod {}'s line", pod);
  if (!line.is_object()) {
    return fail(ErrorKind::protocol, fmt::format("{}: not a JSON object, got {}", where, json_excerpt(line)));
  }
  if (!line.contains("load")) {
    Result<std::string> error = json_string(line, "error", where, "no \"load\" in its result line");
    if (!error) {
      return std::unexpected(error.error());
    }
    return fail(ErrorKind::unavailable, fmt::format("dns agent pod {} on {}: {}", pod, node, *error));
  }
  Result<LoadResult> load = load_from_json(line["load"]);
  if (!load) {
    return fail(ErrorKind::protocol, fmt::format("dns agent pod {}: {}", pod, load.error().message));
  }
  AgentRun run;
  run.pod = pod;
  run.node = node;
  run.load = std::move(*load);
  Result<json> resolver = json_object(line, "resolver", where);
  Result<std::string> server = resolver ? json_string(*resolver, "resolver.server", where)
                                        : Result<std::string>(std::unexpected(resolver.error()));
  Result<std::vector<std::string>> search =
      resolver ? json_strings(*resolver, "resolver.search", where)
               : Result<std::vector<std::string>>(std::unexpected(resolver.error()));
  Result<std::int64_t> ndots = resolver ? json_int(*resolver, "resolver.ndots", where)
                                        : Result<std::int64_t>(std::unexpected(resolver.error()));
  Result<json> measurements = json_array(line, "measurements", where);
  Result<std::vector<std::string>> invalid = json_strings(line, "invalid_reasons", where);
  for (const Error* error : {server ? nullptr : &server.error(), search ? nullptr : &search.error(),
                             ndots ? nullptr : &ndots.error(), measurements ? nullptr : &measurements.error(),
                             invalid ? nullptr : &invalid.error()}) {
    if (error != nullptr) {
      return std::unexpected(*error);
    }
  }
  run.server = std::move(*server);
  run.search = std::move(*search);
  run.ndots = static_cast<int>(*ndots);
  for (const json& item : *measurements) {
    // Its own rows as it printed them (core/measurement.hpp's form), histograms included. A value JSON
    // cannot hold (NaN is written as null) is a row the agent could not compute: not one of its rows.
    if (item.is_object() && item.contains("value") && item["value"].is_null()) {
      continue;
    }
    Result<Measurement> m = measurement_from_json(item);
    if (!m) {
      return fail(ErrorKind::protocol, fmt::format("{}: {}", where, m.error().message));
    }
    run.measurements.push_back(std::move(*m));
  }
  run.invalid_reasons = std::move(*invalid);
  // Optional: a line without them (an agent of an older image) leaves the domain unknown, not the run broken.
  if (const json& r = *resolver; r.contains("cluster_domain") && r["cluster_domain"].is_string()) {
    run.cluster_domain = r["cluster_domain"].get<std::string>();
    if (r.contains("cluster_domain_source") && r["cluster_domain_source"].is_string()) {
      run.cluster_domain_source = r["cluster_domain_source"].get<std::string>();
    }
  }
  return run;
}

std::optional<std::string> cluster_domain_note(const std::vector<AgentRun>& runs, bool plan_given) {
  std::vector<std::string> each;
  std::set<std::pair<std::string, std::string>> distinct;
  for (const AgentRun& run : runs) {
    if (run.cluster_domain.empty()) {
      continue;
    }
    distinct.emplace(run.cluster_domain, run.cluster_domain_source);
    each.push_back(fmt::format("{}: {} ({})", run.pod, run.cluster_domain, run.cluster_domain_source));
  }
  if (distinct.empty()) {
    return std::nullopt;
  }
  if (distinct.size() == 1) {
    const auto& [domain, source] = *distinct.begin();
    return plan_given && source == "--cluster-domain"
               ? fmt::format(
                     "cluster domain of the Service SRV and pod A names: {}, the plan's cluster_domain",
                     domain)
               : fmt::format(
                     "cluster domain of the Service SRV and pod A names: {}, from each agent pod's {}",
                     domain, source);
  }
  return fmt::format("cluster domain of the Service SRV and pod A names differs between agent pods: {}",
                     fmt::join(each, "; "));
}

std::vector<QuerySpec> in_cluster_domain(const std::vector<QuerySpec>& queries, const std::string& domain) {
  std::vector<QuerySpec> out = queries;
  for (QuerySpec& query : out) {
    query.name = with_cluster_domain(query.name, domain);
  }
  return out;
}

std::vector<std::string> agent_args(const Settings& settings, const RunShape& shape,
                                    const std::vector<QuerySpec>& queries, int index, int agents,
                                    WallTime start) {
  const LoadOptions& load = shape.load;
  auto share = [&](std::uint64_t total) {
    // The first `total % agents` agents take one more, so the shares add up to the total.
    const auto n = static_cast<std::uint64_t>(agents);
    return std::max<std::uint64_t>(1, total / n + (static_cast<std::uint64_t>(index) < total % n ? 1 : 0));
  };
  std::vector<std::string> args{"dns",
                                "--resolver",
                                "pod",
                                "--protocol",
                                std::string(to_string(settings.protocol)),
                                "--arrival",
                                settings.arrival == Arrival::poisson ? "poisson" : "constant",
                                "--duration",
                                millis(load.duration),
                                "--clients",
                                std::to_string(settings.clients),
                                "--timeout",
                                millis(settings.timeout),
                                "--failure-window",
                                millis(settings.failure_window),
                                "--late-tolerance",
                                millis(settings.late_tolerance)};
  if (load.rate) {
    args.insert(args.end(), {"--rate", fmt::format("{:.6g}/s", load.rate->per_second / agents)});
  } else {
    args.insert(args.end(), {"--rate", "max"});
  }
  if (settings.outstanding > 0) {
    args.insert(args.end(), {"--outstanding", std::to_string(share(settings.outstanding))});
  }
  if (settings.total) {
    args.insert(args.end(), {"--total", std::to_string(share(*settings.total))});
  }
  if (settings.threads > 0) {
    args.insert(args.end(), {"--threads", std::to_string(settings.threads)});
  }
  if (settings.edns) {
    args.insert(args.end(), {"--edns", std::to_string(*settings.edns)});
  }
  if (!settings.tcp_on_truncation) {
    args.emplace_back("--no-tcp-fallback");
  }
  if (settings.cluster_domain_given) {
    args.insert(args.end(), {"--cluster-domain", settings.cluster_domain});  // the plan's: it wins
  }
  for (const QuerySpec& query : queries) {
    args.insert(args.end(), {"--query", fmt::format("{} {}", query.name, type_name(query.type))});
  }
  args.insert(args.end(), {"--start-at", std::to_string(load::epoch_ms(start))});
  return args;
}

std::string agent_summary(const AgentRun& run) {
  const LoadResult& load = run.load;
  const Counters& c = load.counters;
  const Histogram& latency = load.query_latency.corrected;
  return fmt::format(
      "{}{}: {:.0f} answered/s{} over {:.1f}s, P99 {}, {} queries for {} lookups ({:.2f} per lookup, {} "
      "NXDOMAIN "
      "walk steps), {} lost; resolv.conf: nameserver {}, search {}, ndots {}{}",
      run.pod, run.node.empty() ? "" : " on " + run.node, load.answered_per_second(),
      load.rate ? fmt::format(" (asked {:.0f} lookups/s)", load.rate->per_second) : std::string(),
      load.elapsed_seconds(),
      latency.count() > 0 ? ms_text(double(latency.value_at_percentile(99)) / 1e9) : std::string("n/a"),
      c.sent, c.lookups_started, c.lookups_started > 0 ? double(c.sent) / double(c.lookups_started) : 0.0,
      c.walk_nxdomain, c.lost, run.server.empty() ? "?" : run.server,
      run.search.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(run.search, " ")), run.ndots,
      run.started.empty() ? std::string() : "; " + run.started);
}

LoadResult merge_agent_loads(const std::vector<AgentRun>& runs) {
  if (runs.empty()) {
    return LoadResult{};
  }
  LoadResult merged = runs.front().load;
  for (std::size_t i = 1; i < runs.size(); ++i) {
    merged.merge(runs[i].load);
  }
  // What the agents were asked and ran, added up (merge keeps counts and histograms, not these).
  std::optional<double> rate;
  merged.threads = merged.clients = 0;
  merged.outstanding = 0;
  for (const AgentRun& r : runs) {
    if (r.load.rate) {
      rate = rate.value_or(0) + r.load.rate->per_second;
    }
    merged.threads += r.load.threads;
    merged.clients += r.load.clients;
    merged.outstanding += r.load.outstanding;
  }
  merged.rate = rate ? std::optional<Rate>(Rate{*rate}) : std::nullopt;
  return merged;
}

engine::PhaseRun merge_agent_runs(const std::vector<AgentRun>& runs, const std::optional<CacheDelta>& cache,
                                  const std::string& cache_source, const std::string& cache_problem,
                                  const std::vector<QuerySpec>& queries, const Settings& settings,
                                  const std::vector<std::string>& notes, const Judging& judging) {
  if (runs.empty()) {
    engine::PhaseRun run;
    run.notes = notes;
    run.invalid_reasons.push_back("no agent returned a result");
    return run;
  }
  const LoadResult merged = merge_agent_loads(runs);
  const std::optional<double> rate =
      merged.rate ? std::optional<double>(merged.rate->per_second) : std::nullopt;
  // The workload as the agents built it: the mix through the first agent's search list.
  ResolverConfig resolver;
  resolver.search = runs.front().search;
  resolver.ndots = runs.front().ndots;
  Result<Workload> workload = build_workload(
      in_cluster_domain(queries, runs.front().cluster_domain.empty() ? settings.cluster_domain
                                                                     : runs.front().cluster_domain),
      resolver, QueryOptions{});
  Workload built = workload ? std::move(*workload) : Workload{};
  built.walk = true;
  engine::PhaseRun run =
      build_run(merged, cache, cache_source, cache_problem, built, settings, notes, judging);

  // dns.qps is what the agents held, added up: each agent's answered queries over its own window (the
  // merged count over the longest window would understate agents that started apart).
  double qps = 0;
  double offered = 0;
  std::vector<std::string> parts;
  for (const AgentRun& r : runs) {
    qps += r.load.answered_per_second();
    offered += offered_queries(r.load, built);
    parts.push_back(fmt::format("{} {:.0f}/s", r.pod, r.load.answered_per_second()));
  }
  for (Measurement& m : run.measurements) {
    if (m.metric == "dns.qps") {
      m.value = qps;
      if (rate) {
        m.offered = offered;
      }
      m.note = fmt::format("sum of {} agent pod{}: {}; {}", runs.size(), runs.size() == 1 ? "" : "s",
                           fmt::join(parts, ", "), m.note);
    }
  }
  for (const AgentRun& r : runs) {
    const std::string summary = agent_summary(r);
    run.notes.push_back("agent " + summary);
    for (const std::string& reason : r.invalid_reasons) {
      if (reason.find("throttl") != std::string::npos) {
        run.invalid_reasons.push_back(fmt::format("{}: {}", r.pod, reason));
      }
    }
    if (r.clock_problem) {
      // Its window did not line up with the others': the merged rate is not one window's.
      run.invalid_reasons.push_back(*r.clock_problem);
    }
  }
  return run;
}

ClusterDns::ClusterDns(std::unique_ptr<cluster::PodRunner> runner, Settings settings, RunShape shape,
                       Judging judging, int agents, Clock& clock, engine::CancellationToken& cancel,
                       ProgressFn progress)
    : runner_(std::move(runner)),
      settings_(std::move(settings)),
      shape_(std::move(shape)),
      judging_(std::move(judging)),
      agents_(agents),
      clock_(clock),
      cancel_(cancel),
      progress_(std::move(progress)) {}

ClusterDns::~ClusterDns() {
  close();
}

void ClusterDns::close() noexcept {
  if (runner_) {
    runner_->close();
  }
}

Result<void> ClusterDns::prepare() {
  Result<ClusterDnsInfo> dns = discover_cluster_dns(runner_->api());
  if (!dns) {
    return std::unexpected(dns.error());
  }
  dns_ = std::move(*dns);
  notes_.push_back(fmt::format(
      "cluster DNS: Service {}/{} {}; {}", kDnsNamespace, kDnsService,
      dns_.service_ip.empty() ? std::string("absent") : dns_.service_ip,
      !dns_.coredns.empty()
          ? fmt::format("{} CoreDNS pod{}", dns_.coredns.size(), dns_.coredns.size() == 1 ? "" : "s")
          : fmt::format("servers: {}", dns_.other_servers.empty()
                                           ? std::string("none found")
                                           : fmt::format("{}", fmt::join(dns_.other_servers, "; ")))));
  // The mix: what the cluster really has, from every namespace; names a moment old resolve all the same.
  std::vector<json> lists[2];
  for (int i = 0; i < 2; ++i) {
    kube::ApiResult<kube::ListResult> listed =
        runner_->api().list(i == 0 ? *kube::builtin_resource("v1", "Service") : kube::pods_resource(), "",
                            kube::stale_ok_list_options());
    if (!listed) {
      return fail(listed.error().code == 403 ? ErrorKind::input : ErrorKind::network,
                  fmt::format("list {} in all namespaces (the dns phase's query mix): {}",
                              i == 0 ? "services" : "pods", listed.error().error.message));
    }
    lists[i] = std::move(listed->items);
  }
  mix_ = cluster_mix(read_cluster_names(lists[0], lists[1]), std::string(kClusterDomainToken),
                     settings_.external_names);
  notes_.push_back(mix_.description);
  if (progress_) {
    progress_(notes_.front());
    progress_(mix_.description);
  }
  return {};
}

Result<std::vector<AgentRun>> ClusterDns::run_agents(const RunShape& shape, const std::string& prefix) {
  struct Agent {
    std::string pod;
    std::string node;
    cluster::ClockWitness witness;
    std::unique_ptr<cluster::PodRunner::LogFollow> live;  // its kp-live lines, while it runs
  };
  std::vector<Agent> agents;
  auto delete_all = [&] {
    for (const Agent& agent : agents) {
      (void)runner_->delete_pod(agent.pod);  // the namespace's deletion takes what is left
    }
  };
  // Every agent starts measuring at one wall-clock time, once all of them can be Running.
  const WallTime start = clock_.wall_now() + runner_->start_lead();
  for (int i = 0; i < agents_; ++i) {
    cluster::AgentPodSpec spec;
    spec.name = fmt::format("{}-{}", prefix, i);
    spec.args = agent_args(settings_, shape, mix_.queries, i, agents_, start);
    if (shape.load.live != nullptr) {
      spec.args.emplace_back("--live-lines");
    }
    cluster::spread_over_nodes(spec, kSpreadGroup);
    Agent agent{spec.name, "", {}, nullptr};
    agent.witness.created = clock_.wall_now();
    if (Result<void> created = runner_->create_pod(spec); !created) {
      delete_all();
      return std::unexpected(created.error());
    }
    agents.push_back(std::move(agent));
  }
  for (Agent& agent : agents) {
    Result<cluster::PodInfo> running = runner_->wait_running(agent.pod);
    if (!running) {
      delete_all();
      return std::unexpected(running.error());
    }
    agent.witness.seen_running = clock_.wall_now();
    agent.node = running->node;
    if (progress_) {
      progress_(fmt::format("{} on {} at {}", agent.pod, running->node, running->ip));
    }
  }
  const TimePoint deadline = clock_.now() + std::chrono::duration_cast<Duration>(start - clock_.wall_now()) +
                             shape.load.duration + settings_.timeout + kAgentSlack;
  if (shape.load.live != nullptr) {
    // The whole phase's offered rate; each agent's live counts add up to it as they arrive.
    announce_offered(shape.load.live, Phase::dns,
                     shape.load.rate ? std::optional(shape.load.rate->per_second) : std::nullopt);
    for (Agent& agent : agents) {
      agent.live = runner_->follow_lines(agent.pod, deadline - clock_.now() + cluster::PodRunner::kStopSlack,
                                         [live = shape.load.live](std::string_view line) {
                                           if (std::optional<LiveDelta> delta = parse_live_line(line)) {
                                             delta->phase = Phase::dns;
                                             delta->series = "query";  // as the in-process engine names it
                                             live->add(*delta);
                                           }
                                         });
    }
  }
  std::vector<AgentRun> runs;
  for (Agent& agent : agents) {
    Result<cluster::PodInfo> finished = runner_->wait_finished(agent.pod, deadline);
    if (!finished) {
      delete_all();
      return std::unexpected(finished.error());
    }
    // Cancelled: the deletion's SIGTERM ends the agent's window and it prints what it measured.
    const bool running_still = finished->phase != "Succeeded" && finished->phase != "Failed";
    Result<json> line = running_still ? runner_->stop_for_result(agent.pod, kAgentKind)
                                      : runner_->result_line(agent.pod, kAgentKind);
    agent.live.reset();  // the result is read: no more counts from this pod
    agent.witness.seen_log = clock_.wall_now();
    if (!line) {
      delete_all();
      return std::unexpected(line.error());
    }
    agent.witness.started_at = finished->started_at;
    agent.witness.finished_at = finished->finished_at;
    Result<AgentRun> run = parse_agent(agent.pod, agent.node, *line);
    if (!run) {
      delete_all();
      return std::unexpected(run.error());
    }
    if (Result<load::AgentClock> clock = cluster::agent_clock_from_line(*line); clock) {
      run->started =
          fmt::format("started {} (asked {})", load::format_wall_ms(load::from_epoch_ms(clock->started_ms)),
                      load::format_wall_ms(start));
      run->clock_problem = cluster::clock_skew_reason(agent.pod, agent.node, *clock, agent.witness);
    } else {
      run->clock_problem = fmt::format("agent {} on {}: {}; its start cannot be checked", agent.pod,
                                       agent.node, clock.error().message);
    }
    runs.push_back(std::move(*run));
  }
  delete_all();
  return runs;
}

Result<engine::PhaseRun> ClusterDns::run() {
  std::unique_ptr<CacheStatsSource> stats;
  std::optional<CacheCounters> before;
  std::string problem;
  if (std::optional<std::string> reason = cache_unmeasured(dns_, "")) {
    problem = *reason;
  } else {
    stats = pod_proxy_coredns_source(runner_->api(), dns_.coredns, settings_.stats_timeout);
    if (Result<CacheCounters> read = stats->read(); read) {
      before = *read;
    } else {
      problem = fmt::format("{} before the run: {}", stats->describe(), read.error().message);
    }
  }
  std::optional<StressOutcome> stress;
  std::vector<std::string> stress_notes;
  std::vector<std::string> stress_invalid;
  Result<std::vector<AgentRun>> runs = std::vector<AgentRun>{};
  if (shape_.schedule.stress()) {
    Result<StressOutcome> outcome = run_stress(stress_notes, stress_invalid);
    if (!outcome) {
      return std::unexpected(outcome.error());
    }
    stress = std::move(*outcome);
    runs = runs_;  // the first step's agents: their resolv.conf describes the workload
  } else {
    runs = run_agents(shape_, "dns-agent");
  }
  if (!runs) {
    return std::unexpected(runs.error());
  }
  std::optional<CacheDelta> cache;
  if (stats && before) {
    if (std::optional<std::string> reason =
            cache_unmeasured(dns_, runs->empty() ? std::string() : runs->front().server)) {
      problem = *reason;
    } else if (Result<CacheCounters> after = stats->read(); !after) {
      problem = fmt::format("{} after the run: {}", stats->describe(), after.error().message);
    } else if (!after->present) {
      problem = fmt::format("{} publish no cache counters: is the cache plugin enabled?", stats->describe());
    } else if (Result<CacheDelta> delta = difference(*before, *after); !delta) {
      problem = fmt::format("{}: {}", stats->describe(), delta.error().message);
    } else {
      cache = *delta;
      if (!cache->requests_by_type.empty()) {
        std::vector<std::string> types;
        for (const auto& [type, count] : cache->requests_by_type) {
          types.push_back(fmt::format("{} {:.0f}", type, count));
        }
        notes_.push_back(fmt::format("CoreDNS requests by type during the run: {}", fmt::join(types, ", ")));
      }
    }
  }
  std::vector<std::string> notes = shape_.notes;
  notes.insert(notes.end(), notes_.begin(), notes_.end());
  if (std::optional<std::string> domain = cluster_domain_note(*runs, settings_.cluster_domain_given)) {
    notes.push_back(*domain);
    if (progress_) {
      progress_(*domain);
    }
  }
  if (stress) {
    ResolverConfig resolver;
    if (!runs->empty()) {
      resolver.search = runs->front().search;
      resolver.ndots = runs->front().ndots;
    }
    Result<Workload> workload =
        build_workload(in_cluster_domain(mix_.queries, runs->empty() || runs->front().cluster_domain.empty()
                                                           ? settings_.cluster_domain
                                                           : runs->front().cluster_domain),
                       resolver, QueryOptions{});
    Workload built = workload ? std::move(*workload) : Workload{};
    built.walk = true;
    engine::PhaseRun run = build_stress_run(*stress, cache, stats ? stats->describe() : std::string(),
                                            problem, built, settings_, notes, judging_);
    for (std::string& note : stress_notes) {
      run.notes.push_back(std::move(note));
    }
    for (std::string& reason : stress_invalid) {
      run.invalid_reasons.push_back(std::move(reason));
    }
    return run;
  }
  engine::PhaseRun run = merge_agent_runs(*runs, cache, stats ? stats->describe() : std::string(), problem,
                                          mix_.queries, settings_, notes, judging_);
  if (progress_) {
    for (const AgentRun& agent : *runs) {
      progress_(agent_summary(agent));
    }
  }
  runs_ = std::move(*runs);
  return run;
}

Result<StressOutcome> ClusterDns::run_stress(std::vector<std::string>& notes,
                                             std::vector<std::string>& invalid) {
  int step = 0;
  runs_.clear();
  StepRunner run_step = [&](Rate rate, Duration duration, bool bisection) -> Result<LoadResult> {
    RunShape shape = shape_;
    shape.load.rate = rate;
    shape.load.duration = duration;
    const double factor = shape_.schedule.base ? rate.per_second / shape_.schedule.base->per_second : 1.0;
    const std::string label = fmt::format("stress {}step x{:.3g}", bisection ? "bisection " : "", factor);
    if (progress_) {
      progress_(fmt::format("{}: {:.0f}/s for {} from {} agent pod{}", label, rate.per_second,
                            format_duration(duration), agents_, agents_ == 1 ? "" : "s"));
    }
    Result<std::vector<AgentRun>> runs = run_agents(shape, fmt::format("dns-agent-s{}", step++));
    if (!runs) {
      return std::unexpected(runs.error());
    }
    for (const AgentRun& agent : *runs) {
      notes.push_back(fmt::format("{}: agent {}", label, agent_summary(agent)));
      if (agent.clock_problem) {
        invalid.push_back(fmt::format("{}: {}", label, *agent.clock_problem));
      }
    }
    if (runs_.empty()) {
      runs_ = *runs;
    }
    return merge_agent_loads(*runs);
  };
  // Only the walk matters to the search's judging (queries per lookup): the pods' search lists.
  Workload walking;
  walking.walk = true;
  Result<StressOutcome> outcome = run_stress_search(shape_.schedule, run_step, walking, judging_, cancel_);
  if (outcome && progress_) {
    progress_(outcome->result.note);
  }
  return outcome;
}

}  // namespace kp::drivers::dns
