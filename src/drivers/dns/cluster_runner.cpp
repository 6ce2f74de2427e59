#include "drivers/dns/cluster_runner.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/metric_catalog.hpp"
#include "drivers/dns/load_json.hpp"
#include "drivers/dns/wire.hpp"

namespace kp::drivers::dns {
namespace {

using nlohmann::json;

// Beyond the window: pulling nothing (the image is present), starting, the probe, the drain of the last
// timeouts and the report take well under this.
constexpr Duration kAgentSlack = std::chrono::seconds(60);
constexpr std::string_view kGroupLabel = "kubeproof.io/group";
constexpr std::string_view kSpreadGroup = "dns-agent";

std::string millis(Duration d) {
  return fmt::format("{}ms", std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

std::string ms_text(double seconds) {
  return format_quantity(Quantity::duration, seconds, "ms");
}

Result<AgentRun> parse_agent(const std::string& pod, const std::string& node, const json& line) {
  if (!line.contains("load")) {
    const std::string error = line.value("error", std::string("no \"load\" in its result line"));
    return fail(ErrorKind::unavailable, fmt::format("dns agent pod {} on {}: {}", pod, node, error));
  }
  Result<LoadResult> load = load_from_json(line["load"]);
  if (!load) {
    return fail(ErrorKind::protocol, fmt::format("dns agent pod {}: {}", pod, load.error().message));
  }
  AgentRun run;
  run.pod = pod;
  run.node = node;
  run.load = std::move(*load);
  const json resolver = line.value("resolver", json::object());
  run.server = resolver.value("server", std::string());
  run.search = resolver.value("search", std::vector<std::string>{});
  run.ndots = resolver.value("ndots", 0);
  for (const json& item : line.value("measurements", json::array())) {
    // Its own rows as it printed them (core/measurement.hpp's form), histograms included.
    Measurement m;
    m.metric = item.value("metric", std::string());
    m.value = item.value("value", 0.0);
    m.source = item.value("source", std::string());
    m.note = item.value("note", std::string());
    if (item.contains("histogram") && !item["histogram"].is_null()) {
      Result<Histogram> histogram = Histogram::from_json(item["histogram"]);
      if (!histogram) {
        return fail(ErrorKind::protocol,
                    fmt::format("dns agent pod {}: {}: {}", pod, m.metric, histogram.error().message));
      }
      m.histogram = std::move(*histogram);
    }
    run.measurements.push_back(std::move(m));
  }
  run.invalid_reasons = line.value("invalid_reasons", std::vector<std::string>{});
  return run;
}

}  // namespace

std::vector<std::string> agent_args(const Settings& settings, const RunShape& shape,
                                    const std::vector<QuerySpec>& queries, int index, int agents) {
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
  for (const QuerySpec& query : queries) {
    args.insert(args.end(), {"--query", fmt::format("{} {}", query.name, type_name(query.type))});
  }
  return args;
}

std::string agent_summary(const AgentRun& run) {
  const LoadResult& load = run.load;
  const Counters& c = load.counters;
  const Histogram& latency = load.query_latency.corrected;
  return fmt::format(
      "{}{}: {:.0f} answered/s{} over {:.1f}s, P99 {}, {} queries for {} lookups ({:.2f} per lookup, {} "
      "NXDOMAIN "
      "walk steps), {} lost; resolv.conf: nameserver {}, search {}, ndots {}",
      run.pod, run.node.empty() ? "" : " on " + run.node, load.answered_per_second(),
      load.rate ? fmt::format(" (asked {:.0f} lookups/s)", load.rate->per_second) : std::string(),
      load.elapsed_seconds(),
      latency.count() > 0 ? ms_text(double(latency.value_at_percentile(99)) / 1e9) : std::string("n/a"),
      c.sent, c.lookups_started, c.lookups_started > 0 ? double(c.sent) / double(c.lookups_started) : 0.0,
      c.walk_nxdomain, c.lost, run.server.empty() ? "?" : run.server,
      run.search.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(run.search, " ")), run.ndots);
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
  // The workload as the agents built it: the mix through the first agent's search list.
  ResolverConfig resolver;
  resolver.search = runs.front().search;
  resolver.ndots = runs.front().ndots;
  Result<Workload> workload = build_workload(queries, resolver, QueryOptions{});
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
  // The mix: what the cluster really has, from every namespace.
  std::vector<json> lists[2];
  for (int i = 0; i < 2; ++i) {
    kube::ApiResult<kube::ListResult> listed = runner_->api().list(
        i == 0 ? *kube::builtin_resource("v1", "Service") : kube::pods_resource(), "", {});
    if (!listed) {
      return fail(listed.error().code == 403 ? ErrorKind::input : ErrorKind::network,
                  fmt::format("list {} in all namespaces (the dns phase's query mix): {}",
                              i == 0 ? "services" : "pods", listed.error().error.message));
    }
    lists[i] = std::move(listed->items);
  }
  mix_ =
      cluster_mix(read_cluster_names(lists[0], lists[1]), settings_.cluster_domain, settings_.external_names);
  notes_.push_back(mix_.description);
  if (progress_) {
    progress_(notes_.front());
    progress_(mix_.description);
  }
  return {};
}

Result<std::vector<AgentRun>> ClusterDns::run_agents() {
  std::vector<std::string> pods;
  auto delete_all = [&] {
    for (const std::string& pod : pods) {
      (void)runner_->delete_pod(pod);  // the namespace's deletion takes what is left
    }
  };
  // Spread over the schedulable nodes, round robin by node name: with fewer nodes than agents they share
  // nodes (never Pending for want of one), and no node gets a second agent before every node has one.
  Result<std::vector<cluster::Node>> schedulable = runner_->schedulable_nodes();
  if (!schedulable) {
    return std::unexpected(schedulable.error());
  }
  for (int i = 0; i < agents_; ++i) {
    cluster::AgentPodSpec spec;
    spec.name = fmt::format("dns-agent-{}", i);
    spec.agent = spec.name;
    spec.args = agent_args(settings_, shape_, mix_.queries, i, agents_);
    spec.labels[std::string(kGroupLabel)] = std::string(kSpreadGroup);
    if (!schedulable->empty()) {
      spec.placement.node_name = (*schedulable)[static_cast<std::size_t>(i) % schedulable->size()].name;
    }
    if (Result<void> created = runner_->create_pod(spec); !created) {
      delete_all();
      return std::unexpected(created.error());
    }
    pods.push_back(spec.name);
  }
  std::vector<std::string> nodes;
  for (const std::string& pod : pods) {
    Result<cluster::PodInfo> running = runner_->wait_running(pod);
    if (!running) {
      delete_all();
      return std::unexpected(running.error());
    }
    nodes.push_back(running->node);
    if (progress_) {
      progress_(fmt::format("{} on {} at {}", pod, running->node, running->ip));
    }
  }
  const TimePoint deadline = clock_.now() + shape_.load.duration + settings_.timeout + kAgentSlack;
  std::vector<AgentRun> runs;
  for (std::size_t i = 0; i < pods.size(); ++i) {
    Result<cluster::PodInfo> finished = runner_->wait_finished(pods[i], deadline);
    if (!finished) {
      delete_all();
      return std::unexpected(finished.error());
    }
    if (finished->phase != "Succeeded" && finished->phase != "Failed") {
      // Cancelled: the deletion's SIGTERM ends the agent's window and it prints what it measured.
      (void)runner_->delete_pod(pods[i]);
      (void)runner_->wait_finished(pods[i], clock_.now() + std::chrono::seconds(30));
    }
    Result<json> line = runner_->result_line(pods[i], kAgentKind);
    if (!line) {
      delete_all();
      return std::unexpected(line.error());
    }
    Result<AgentRun> run = parse_agent(pods[i], nodes[i], *line);
    if (!run) {
      delete_all();
      return std::unexpected(run.error());
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
  Result<std::vector<AgentRun>> runs = run_agents();
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

}  // namespace kp::drivers::dns
