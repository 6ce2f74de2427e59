#include "drivers/dns/agent.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "core/flag_values.hpp"
#include "core/live_lines.hpp"
#include "drivers/dns/load_json.hpp"

namespace kp::drivers::dns {
namespace {

// With --total and no --duration the count ends the run; this bound only guarantees that it ends.
constexpr Duration kTotalOnlyBound = std::chrono::minutes(10);
constexpr Duration kDefaultDuration = std::chrono::seconds(10);

}  // namespace

void attach_agent_options(CLI::App& app, AgentOptions& o) {
  app.add_option(
      "--server", o.server,
      "DNS server address[:port], e.g. 10.96.0.10 or 127.0.0.1:5353 (default: the first nameserver of "
      "--resolv-conf)");
  app.add_option("--resolv-conf", o.resolv_conf,
                 "the resolver configuration to read the nameserver, search list and ndots from");
  app.add_option("--query", o.query_lines,
                 "one query \"name TYPE\" (repeatable): the mix itself, instead of --queries");
  app.add_option("--protocol", o.protocol, "udp or tcp");
  app.add_option("--queries", o.queries,
                 "dnsperf query file (\"name TYPE\" per line), or kubernetes (built-in mix)");
  app.add_option("--resolver", o.resolver,
                 "direct, or pod: expand each name through a pod's search list (ndots)");
  if (const char* ns = std::getenv("POD_NAMESPACE"); ns != nullptr && o.pod_namespace.empty()) {
    o.pod_namespace = ns;  // the downward API's metadata.namespace, as the pod runner sets it
  }
  app.add_option("--namespace", o.pod_namespace,
                 "pod resolver: the pod's namespace (default: $POD_NAMESPACE, else from resolv.conf's search "
                 "list)");
  app.add_option("--search", o.search, "pod resolver: explicit search domains (default: resolv.conf's)")
      ->delimiter(',');
  app.add_option("--ndots", o.ndots, "pod resolver: ndots (default: resolv.conf's)")
      ->check(CLI::Range(0, 15));
  app.add_option("--cluster-domain", o.cluster_domain,
                 "cluster domain of the built-in mix and of {cluster_domain} in --query names (default: from "
                 "resolv.conf's search list, else cluster.local)");
  app.add_option("--rate", o.rate,
                 "lookups per second (open loop, e.g. 10k, 1500/s), or max (window of --outstanding)");
  app.add_option("--arrival", o.arrival, "open-loop arrivals: constant or poisson");
  app.add_option("--duration", o.duration, "how long to send (default 10s)");
  app.add_option("--total", o.total, "stop after this many lookups");
  app.add_option("--clients", o.clients, "UDP sockets / TCP connections (dnsperf -c)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--outstanding", o.outstanding, "queries in flight at most (dnsperf -q); 0: mode default")
      ->check(CLI::Range(0u, 1000000u));
  app.add_option("--threads", o.threads, "worker threads (0: one per core)")->check(CLI::Range(0, 256));
  app.add_option("--timeout", o.timeout, "a query unanswered after this is lost");
  app.add_option("--edns", o.edns, "advertise this EDNS0 UDP payload size (0: no EDNS)")
      ->check(CLI::Range(0, 65535));
  app.add_flag("--no-tcp-fallback", o.no_tcp_fallback,
               "count truncated answers instead of asking again over TCP");
  app.add_option("--unbound-control", o.unbound_control,
                 "unbound remote control host:port (control-use-cert: no) for the cache hit ratio");
  app.add_option("--metrics-url", o.metrics_url, "CoreDNS /metrics URL for the cache hit ratio");
  app.add_option("--failure-window", o.failure_window, "stop when nothing answered for this long");
  app.add_option("--late-tolerance", o.late_tolerance, "an open-loop send later than this is late");
  app.add_flag(
      "--live-lines", o.live_lines,
      "print the live counts once a second as `kp-live {json}` lines on stderr (for kubeproof, which "
      "follows an agent pod's log)");
}

Result<AgentPlan> to_agent_plan(const AgentOptions& o) {
  AgentPlan plan;
  Settings& s = plan.settings;
  if (o.resolver != "direct" && o.resolver != "pod") {
    return flag_error("resolver", "must be direct or pod", o.resolver);
  }
  s.pod_resolver = o.resolver == "pod";
  // resolv.conf only when something is left to it: an agent given every value needs no file.
  std::optional<ResolvConf> conf;
  const bool needs_conf = o.server.empty() || o.cluster_domain.empty() ||
                          (s.pod_resolver && (o.search.empty() || !o.ndots || o.pod_namespace.empty()));
  if (needs_conf) {
    Result<ResolvConf> read = read_resolv_conf(o.resolv_conf);
    if (read) {
      conf = std::move(*read);
    } else if (o.server.empty() || (s.pod_resolver && o.search.empty())) {
      return fail(ErrorKind::usage, fmt::format("--resolv-conf: {} (give --server{})", read.error().message,
                                                s.pod_resolver ? " and --search" : ""));
    }
  }
  std::string server_text = o.server;
  if (server_text.empty()) {
    if (conf->nameservers.empty()) {
      return fail(ErrorKind::usage,
                  fmt::format("--resolv-conf: {} names no nameserver: give --server", o.resolv_conf));
    }
    server_text = conf->nameservers.front();
  }
  Result<ServerAddress> server = parse_server(server_text);
  if (!server && o.server.empty()) {
    return fail(ErrorKind::usage,
                fmt::format("--resolv-conf: {}: nameserver is not an IP address, got \"{}\"", o.resolv_conf,
                            server_text));
  }
  if (!server) {
    return flag_error("server", "not an IP address with an optional port", o.server);
  }
  plan.server = *server;
  s.server = server_text;
  if (o.protocol != "udp" && o.protocol != "tcp") {
    return flag_error("protocol", "must be udp or tcp", o.protocol);
  }
  s.protocol = o.protocol == "udp" ? Protocol::udp : Protocol::tcp;
  // The cluster domain: --cluster-domain, else the one the kubelet wrote into this pod's search list
  // ("<ns>.svc.<domain> svc.<domain> <domain>"), else Kubernetes' default.
  s.cluster_domain = o.cluster_domain;
  s.cluster_domain_given = !o.cluster_domain.empty();
  s.cluster_domain_source = "--cluster-domain";
  if (s.cluster_domain.empty()) {
    std::optional<std::string> read = conf ? conf->cluster_domain() : std::nullopt;
    s.cluster_domain = read.value_or("cluster.local");
    s.cluster_domain_source =
        read ? fmt::format("{}'s search list", o.resolv_conf)
             : fmt::format("the default ({} has no ClusterFirst search list)", o.resolv_conf);
  }
  s.queries = o.queries;
  if (!o.query_lines.empty()) {
    std::string text;
    for (const std::string& line : o.query_lines) {
      text += with_cluster_domain(line, s.cluster_domain) + "\n";
    }
    Result<std::vector<QuerySpec>> queries = parse_query_file(text, "--query");
    if (!queries) {
      return fail(ErrorKind::usage, queries.error().message);
    }
    s.inline_queries = std::move(*queries);
    s.queries = fmt::format("{} --query lines", o.query_lines.size());
  }
  s.pod_namespace = o.pod_namespace;
  if (s.pod_namespace.empty()) {
    s.pod_namespace = conf ? conf->pod_namespace().value_or("") : "";
  }
  if (s.pod_resolver) {
    s.search = o.search.empty() && conf ? conf->search : o.search;
    s.search_given = true;
    s.ndots = o.ndots ? *o.ndots : (conf ? conf->effective_ndots() : 1);
  } else {
    s.search = o.search;
    s.ndots = o.ndots.value_or(5);
  }
  s.require_answer = true;
  // The same rate reader as every agent and plan (load/rate_setting.hpp).
  Result<load::RateSetting> rate = load::agent_rate_setting("rate", o.rate);
  if (!rate) {
    return std::unexpected(rate.error());
  }
  s.rate = *rate;
  Result<Arrival> arrival = flag_arrival("arrival", o.arrival);
  if (!arrival) {
    return std::unexpected(arrival.error());
  }
  s.arrival = *arrival;
  Duration duration = o.total ? kTotalOnlyBound : kDefaultDuration;
  if (!o.duration.empty()) {
    Result<Duration> parsed = flag_positive_duration("duration", o.duration);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    duration = *parsed;
  }
  if (o.total && *o.total == 0) {
    return flag_error("total", "must be > 0", "0");
  }
  s.total = o.total;
  s.clients = o.clients;
  s.outstanding = o.outstanding;
  s.threads = o.threads;
  for (auto [flag, text, target] : {std::tuple{"timeout", &o.timeout, &s.timeout},
                                    std::tuple{"failure-window", &o.failure_window, &s.failure_window},
                                    std::tuple{"late-tolerance", &o.late_tolerance, &s.late_tolerance}}) {
    Result<Duration> value = flag_positive_duration(flag, *text);
    if (!value) {
      return std::unexpected(value.error());
    }
    *target = *value;
  }
  if (o.edns != 0) {
    if (o.edns < 512) {
      return flag_error("edns", "must be 0 (none) or within 512..65535", std::to_string(o.edns));
    }
    s.edns = static_cast<std::uint16_t>(o.edns);
  }
  s.tcp_on_truncation = !o.no_tcp_fallback;
  s.unbound_control = o.unbound_control;
  if (!o.unbound_control.empty() && !parse_server(o.unbound_control)) {
    return flag_error("unbound-control", "not an IP address with a port", o.unbound_control);
  }
  s.metrics_url = o.metrics_url;
  if (!o.metrics_url.empty() && !o.metrics_url.starts_with("http://") &&
      !o.metrics_url.starts_with("https://")) {
    return flag_error("metrics-url", "must start with http:// or https://", o.metrics_url);
  }
  if (Result<void> valid = validate(s, "dns agent"); !valid) {
    // A bad query file stays an input error (it names the file and line); the rest are flag mistakes.
    return std::unexpected(valid.error());
  }
  Result<RunShape> shape = shape_run(s, config::Capacity{}, 1.0, duration, config::TestType::load, "--rate");
  if (!shape) {
    return std::unexpected(shape.error());
  }
  plan.shape = std::move(*shape);
  return plan;
}

Result<AgentResult> run_agent(const AgentOptions& options, Clock& clock, engine::CancellationToken& cancel,
                              const ProgressFn& progress) {
  Result<AgentPlan> plan = to_agent_plan(options);
  if (!plan) {
    return std::unexpected(plan.error());
  }
  std::unique_ptr<CacheStatsSource> stats;
  if (!plan->settings.metrics_url.empty()) {
    stats = coredns_stats_source(plan->settings.metrics_url, plan->settings.stats_timeout);
  } else if (!plan->settings.unbound_control.empty()) {
    stats = unbound_stats_source(*parse_server(plan->settings.unbound_control), plan->settings.stats_timeout,
                                 clock);
  }
  std::optional<LineLiveSink> live;
  if (options.live_lines && progress) {
    live.emplace(progress);
    plan->shape.load.live = &*live;
  }
  // Judged against the shipped criteria: an agent has no run of its own.
  DnsPhase phase(plan->settings, plan->shape, clock, progress, judging_from(load::CriteriaView({})));
  if (Result<void> prepared = phase.prepare(plan->server, std::move(stats)); !prepared) {
    return std::unexpected(prepared.error());
  }
  Result<engine::PhaseRun> run = phase.run(cancel);
  if (!run) {
    return std::unexpected(run.error());
  }
  AgentResult result{.run = std::move(*run),
                     .load = *phase.load(),
                     .cache = phase.cache(),
                     .cache_problem = phase.cache_problem(),
                     .pod_resolver = plan->settings.pod_resolver,
                     .server = plan->server.text,
                     .search = {},
                     .ndots = plan->settings.ndots,
                     .pod_namespace = plan->settings.pod_namespace,
                     .distinct_queries = phase.workload().queries.size(),
                     .cluster_domain = plan->settings.cluster_domain,
                     .cluster_domain_source = plan->settings.cluster_domain_source};
  if (std::optional<ResolverConfig> resolver = resolver_config(plan->settings)) {
    result.search = resolver->search;
  }
  return result;
}

std::string agent_json_line(const AgentResult& result) {
  nlohmann::json measurements = nlohmann::json::array();
  for (const Measurement& m : result.run.measurements) {
    measurements.push_back(to_json(m));
  }
  const LoadResult& load = result.load;
  const Counters& c = load.counters;
  nlohmann::json rcodes = nlohmann::json::object();
  for (std::size_t i = 0; i < c.rcodes.size(); ++i) {
    if (c.rcodes[i] > 0) {
      rcodes[rcode_name(static_cast<std::uint8_t>(i))] = c.rcodes[i];
    }
  }
  auto p = [](const Histogram& histogram, double percentile) {
    return double(histogram.value_at_percentile(percentile)) / 1e9;
  };
  const Histogram& corrected = load.query_latency.corrected;
  nlohmann::json line{
      {"kind", "kubeproof.agent.dns"},
      {"version", 1},
      {"measurements", std::move(measurements)},
      {"invalid_reasons", result.run.invalid_reasons},
      {"intended_rate", load.rate ? load.rate->per_second : 0.0},
      {"threads", load.threads},
      {"clients", load.clients},
      {"outstanding", load.outstanding},
      {"elapsed_s", load.elapsed_seconds()},
      {"sent", c.sent},
      {"responses", c.responses},
      {"answered", c.answered()},
      {"lost", c.lost},
      {"connection_lost", c.connection_lost},
      {"send_errors", c.send_errors},
      {"truncated", c.truncated},
      {"tcp_retries", c.tcp_retries},
      {"unexpected_id", c.unexpected_id},
      {"mismatched", c.mismatched},
      {"malformed", c.malformed},
      {"rcodes", std::move(rcodes)},
      {"answered_per_second", load.answered_per_second()},
      {"responses_per_second", load.responses_per_second()},
      {"p50_s", p(corrected, 50)},
      {"p90_s", p(corrected, 90)},
      {"p99_s", p(corrected, 99)},
      {"p999_s", p(corrected, 99.9)},
      {"max_s", double(corrected.max()) / 1e9},
      {"uncorrected_p99_s", p(load.query_latency.uncorrected, 99)},
      {"late_sends", load.pacer.late_sends},
      {"queued_for_server", load.queued_for_server},
      {"own_lateness_p99_s", p(load.own_lateness, 99)},
      {"notes", result.run.notes},
      {"unsent_due", load.unsent_due},
      {"cpu_seconds", load.cpu_seconds},
      {"receive_buffer", load.receive_buffer},
      {"socket_buffer_note", load.buffer_note},
      {"cancelled", load.cancelled},
      {"stopped_early", load.stopped_early},
      {"first_error", load.first_error},
  };
  if (result.cache) {
    line["cache"] = nlohmann::json{
        {"hits", result.cache->hits},
        {"misses", result.cache->misses},
        {"ratio", result.cache->ratio() ? nlohmann::json(*result.cache->ratio()) : nlohmann::json(nullptr)}};
  } else if (!result.cache_problem.empty()) {
    line["cache_problem"] = result.cache_problem;
  }
  if (result.pod_resolver) {
    line["lookups"] = nlohmann::json{{"started", c.lookups_started},
                                     {"answered", c.lookups_answered},
                                     {"negative", c.lookups_negative},
                                     {"failed", c.lookups_failed},
                                     {"lost", c.lookups_lost},
                                     {"walk_steps", c.walk_steps},
                                     {"walk_nxdomain", c.walk_nxdomain},
                                     {"p50_s", p(load.lookup_latency, 50)},
                                     {"p99_s", p(load.lookup_latency, 99)}};
  }
  line["resolver"] = nlohmann::json{{"server", result.server},
                                    {"pod", result.pod_resolver},
                                    {"search", result.search},
                                    {"ndots", result.ndots},
                                    {"namespace", result.pod_namespace},
                                    {"distinct_queries", result.distinct_queries},
                                    {"cluster_domain", result.cluster_domain},
                                    {"cluster_domain_source", result.cluster_domain_source}};
  line["load"] = load_to_json(result.load);
  // Query names come from user files and may not be UTF-8: replace such bytes rather than throw.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kp::drivers::dns
