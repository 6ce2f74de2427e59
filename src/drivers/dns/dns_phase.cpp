#include "drivers/dns/dns_phase.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "config/metric_catalog.hpp"

namespace kp::drivers::dns {
namespace {

// The probe before the run is a sanity check, not the measurement: bounded well below a phase's length.
constexpr Duration kProbeTimeout = std::chrono::seconds(2);

double seconds(std::int64_t nanoseconds) {
  return double(nanoseconds) / 1e9;
}

std::string ms(double seconds_value) {
  return format_quantity(Quantity::duration, seconds_value, "ms");
}

std::string percent(double fraction) {
  return fmt::format("{:.2f}%", fraction * 100);
}

// Adds `measurement` when the catalog knows its id; otherwise its value goes into `fallback` so the number is
// not lost while the catalog catches up.
void add(engine::PhaseRun& run, Measurement measurement, std::vector<std::string>& fallback) {
  if (config::find_metric(measurement.metric) != nullptr) {
    run.measurements.push_back(std::move(measurement));
    return;
  }
  fallback.push_back(fmt::format("{} = {:g}{}", measurement.metric, measurement.value,
                                 measurement.note.empty() ? "" : " (" + measurement.note + ")"));
}

std::string describe_mode(std::optional<Rate> rate, std::uint32_t outstanding, const Settings& settings) {
  return rate              ? fmt::format("open loop at {:.0f}/s ({})", rate->per_second,
                            settings.arrival == Arrival::poisson ? "poisson" : "constant")
         : outstanding > 0 ? fmt::format("max with {} outstanding", outstanding)
                           : std::string("max");
}

std::string describe_load(const std::string& mode, int clients, int threads, const Settings& settings,
                          const Workload& workload) {
  std::string queries = settings.queries == kBuiltinMix ? std::string("the built-in Kubernetes mix")
                                                        : fmt::format("queries from {}", settings.queries);
  return fmt::format("{}, {} {} client{} on {} thread{}, {}{} ({} distinct queries)", mode, clients,
                     to_string(settings.protocol), clients == 1 ? "" : "s", threads, threads == 1 ? "" : "s",
                     queries, workload.walk ? " through a pod's search list" : "", workload.queries.size());
}

}  // namespace

std::string describe_rcodes(const Counters& counters) {
  std::string text;
  for (std::size_t i = 0; i < counters.rcodes.size(); ++i) {
    if (counters.rcodes[i] > 0) {
      text += fmt::format("{}{} {}", text.empty() ? "" : ", ", rcode_name(static_cast<std::uint8_t>(i)),
                          counters.rcodes[i]);
    }
  }
  return text.empty() ? std::string("none") : text;
}

DnsPhase::DnsPhase(Settings settings, RunShape shape, Clock& clock, ProgressFn progress, Judging judging)
    : settings_(std::move(settings)),
      shape_(std::move(shape)),
      clock_(clock),
      progress_(std::move(progress)),
      judging_(std::move(judging)) {}

Result<void> DnsPhase::prepare(ServerAddress server, std::unique_ptr<CacheStatsSource> stats) {
  shape_.load.server = std::move(server);
  Result<std::vector<QuerySpec>> specs = load_queries(settings_);
  if (!specs) {
    return std::unexpected(specs.error());
  }
  QueryOptions query_options;
  query_options.edns_udp_size = settings_.edns;
  Result<Workload> workload = build_workload(*specs, resolver_config(settings_), query_options);
  if (!workload) {
    return std::unexpected(workload.error());
  }
  workload_ = std::move(*workload);
  // The counters first, the probe after: the probe is part of the phase's traffic, so the difference covers
  // everything the phase sent (and equals what `unbound-control stats_noreset` around the phase shows).
  stats_ = std::move(stats);
  if (stats_) {
    Result<CacheCounters> before = stats_->read();
    if (before) {
      before_ = *before;
    } else {
      cache_problem_ = fmt::format("{} before the run: {}", stats_->describe(), before.error().message);
    }
  } else {
    cache_problem_ = "no source of cache statistics (settings: unbound_control or metrics_url)";
  }
  // One query first: a server that does not answer is worth a line before the load, not only in the numbers.
  const PreparedQuery& first = workload_.queries.front();
  Result<Message> probe = query_once(shape_.load.server, first, settings_.protocol,
                                     std::min(kProbeTimeout, settings_.timeout), clock_);
  if (!probe) {
    notes_.push_back(fmt::format("probe before the run: {} {}: {}", first.name, type_name(first.type),
                                 probe.error().message));
    if (settings_.require_answer) {
      return fail(
          ErrorKind::unavailable,
          fmt::format("{} did not answer the probe before the run ({} {}: {}): nothing measured",
                      shape_.load.server.text, first.name, type_name(first.type), probe.error().message));
    }
  }
  if (progress_) {
    progress_(probe ? fmt::format("{} answers {} {} with {}", shape_.load.server.text, first.name,
                                  type_name(first.type), rcode_name(probe->header.rcode))
                    : notes_.back());
  }
  return {};
}

Result<void> DnsPhase::run_stress(engine::CancellationToken& cancel) {
  if (progress_) {
    const std::string mode =
        fmt::format("stress, open loop ({})", settings_.arrival == Arrival::poisson ? "poisson" : "constant");
    progress_(fmt::format("{}: {}",
                          describe_load(mode, shape_.load.clients, shape_.load.threads, settings_, workload_),
                          shape_.schedule.notes.empty() ? std::string() : shape_.schedule.notes.back()));
  }
  StepRunner run_step = [&](Rate rate, Duration duration, bool bisection) {
    LoadOptions options = shape_.load;
    options.rate = rate;
    options.duration = duration;
    if (progress_) {
      const double factor = shape_.schedule.base ? rate.per_second / shape_.schedule.base->per_second : 1.0;
      progress_(fmt::format("stress {}step x{:.3g}: {:.0f}/s for {}", bisection ? "bisection " : "", factor,
                            rate.per_second, format_duration(duration)));
    }
    return run_load(workload_, options, clock_, cancel, progress_);
  };
  Result<StressOutcome> outcome = run_stress_search(shape_.schedule, run_step, workload_, judging_, cancel);
  if (!outcome) {
    return std::unexpected(outcome.error());
  }
  stress_ = std::move(*outcome);
  if (progress_) {
    progress_(stress_->result.note);
  }
  return {};
}

Result<engine::PhaseRun> DnsPhase::run(engine::CancellationToken& cancel) {
  if (shape_.schedule.stress()) {
    if (Result<void> ran = run_stress(cancel); !ran) {
      return std::unexpected(ran.error());
    }
  } else {
    if (progress_) {
      progress_(
          fmt::format("{} for {}{}",
                      describe_load(describe_mode(shape_.load.rate, shape_.load.outstanding, settings_),
                                    shape_.load.clients, shape_.load.threads, settings_, workload_),
                      format_duration(shape_.load.duration),
                      shape_.load.total ? fmt::format(" or {} lookups", *shape_.load.total) : std::string()));
    }
    Result<LoadResult> load = run_load(workload_, shape_.load, clock_, cancel, progress_);
    if (!load) {
      return std::unexpected(load.error());
    }
    load_ = std::move(*load);
  }
  if (stats_ && before_) {
    Result<CacheCounters> after = stats_->read();
    if (!after) {
      cache_problem_ = fmt::format("{} after the run: {}", stats_->describe(), after.error().message);
    } else if (!after->present) {
      cache_problem_ =
          fmt::format("{} publishes no cache counters: is the cache plugin enabled?", stats_->describe());
    } else if (Result<CacheDelta> delta = difference(*before_, *after); !delta) {
      cache_problem_ = fmt::format("{}: {}", stats_->describe(), delta.error().message);
    } else {
      cache_ = *delta;
    }
  }
  std::vector<std::string> notes = shape_.notes;
  notes.insert(notes.end(), notes_.begin(), notes_.end());
  const std::string cache_source = stats_ ? stats_->describe() : std::string();
  if (stress_) {
    return build_stress_run(*stress_, cache_, cache_source, cache_problem_, workload_, settings_, notes,
                            judging_);
  }
  engine::PhaseRun run =
      build_run(*load_, cache_, cache_source, cache_problem_, workload_, settings_, notes, judging_);
  if (progress_) {
    const Counters& c = load_->counters;
    progress_(fmt::format(
        "{} answered/s over {:.1f}s, P99 {}, {} sent, {} lost; RCODEs {}{}",
        static_cast<long long>(load_->answered_per_second()), load_->elapsed_seconds(),
        ms(seconds(load_->query_latency.corrected.value_at_percentile(99))), c.sent, c.lost,
        describe_rcodes(c),
        cache_ ? fmt::format("; cache hit ratio {}", percent(cache_->ratio().value_or(0))) : std::string()));
  }
  return run;
}

engine::PhaseRun build_run(const LoadResult& load, const std::optional<CacheDelta>& cache,
                           const std::string& cache_source, const std::string& cache_problem,
                           const Workload& workload, const Settings& settings,
                           const std::vector<std::string>& notes, const Judging& judging) {
  engine::PhaseRun run;
  std::vector<std::string> fallback;
  const Counters& c = load.counters;
  const std::string shape_note = describe_load(describe_mode(load.rate, load.outstanding, settings),
                                               load.clients, load.threads, settings, workload);

  if (c.sent > 0 || c.lookups_started > 0) {
    Measurement qps;
    qps.metric = "dns.qps";
    qps.value = load.answered_per_second();
    if (load.rate) {
      // Open loop: the value can only show the rate we asked for (eval must not read a light run's answered
      // rate as the server's capacity).
      qps.offered = offered_queries(load, workload);
    }
    qps.source = "client";
    qps.note =
        fmt::format("{} answered (NOERROR or NXDOMAIN) of {} sent in {:.1f}s; RCODEs {}; {} lost; {}",
                    c.answered(), c.sent, load.elapsed_seconds(), describe_rcodes(c), c.lost, shape_note);
    add(run, std::move(qps), fallback);
  }

  const Histogram& latency = load.query_latency.corrected;
  if (latency.count() > 0) {
    auto at = [&](double p) { return ms(seconds(latency.value_at_percentile(p))); };
    Measurement p99;
    p99.metric = "dns.p99";
    p99.value = seconds(latency.value_at_percentile(99));
    p99.histogram = latency;
    p99.source = "client";
    const Histogram& uncorrected = load.query_latency.uncorrected;
    p99.note =
        fmt::format("P50 {}, P90 {}, P99 {}, P99.9 {}, max {} over {} queries, {}{}; uncorrected P99 {}",
                    at(50), at(90), at(99), at(99.9), ms(seconds(latency.max())), latency.count(),
                    load.rate ? "from the intended send time" : "from the send (max mode)",
                    c.lost > 0 ? fmt::format(", {} lost queries counted at their {} timeout", c.lost,
                                             format_duration(settings.timeout))
                               : std::string(),
                    uncorrected.count() > 0 ? ms(seconds(uncorrected.value_at_percentile(99)))
                                            : std::string("n/a (no response)"));
    add(run, std::move(p99), fallback);
  }

  std::optional<std::string> unmeasured_cache;
  if (cache && cache->ratio()) {
    Measurement ratio;
    ratio.metric = "dns.cache_hit_ratio";
    ratio.value = *cache->ratio();
    ratio.source = fmt::format("server: {}", cache_source);
    ratio.note = fmt::format(
        "{:.0f} hits, {:.0f} misses during the run{}", cache->hits, cache->misses,
        cache->queries
            ? fmt::format(" (the server counted {:.0f} queries; {} were sent)", *cache->queries, c.sent)
            : std::string());
    add(run, std::move(ratio), fallback);
  } else if (cache) {
    fallback.push_back(
        fmt::format("cache hit ratio not measured: {} saw no query during the run", cache_source));
    unmeasured_cache = fmt::format("{} saw no query during the run", cache_source);
  } else if (!cache_problem.empty()) {
    fallback.push_back("cache hit ratio not measured: " + cache_problem);
    unmeasured_cache = cache_problem;
  }

  if (c.sent > 0) {
    add(run,
        Measurement{.metric = "dns.loss_rate",
                    .value = double(c.lost + c.connection_lost) / double(c.sent),
                    .offered = std::nullopt,
                    .histogram = {},
                    .source = "client",
                    .note = fmt::format("{} of {} queries unanswered within {}{}", c.lost + c.connection_lost,
                                        c.sent, format_duration(settings.timeout),
                                        load.receive_buffer > 0 ? fmt::format("; UDP receive buffer {} KiB",
                                                                              load.receive_buffer / 1024)
                                                                : std::string())},
        fallback);
    add(run,
        Measurement{.metric = "dns.error_rate",
                    .value = double(c.error_responses()) / double(c.sent),
                    .offered = std::nullopt,
                    .histogram = {},
                    .source = "client",
                    .note = fmt::format("{} error responses (RCODEs other than NOERROR and NXDOMAIN)",
                                        c.error_responses())},
        fallback);
  }
  if (workload.walk && load.lookup_latency.count() > 0) {
    const double per_lookup = c.lookups_started > 0 ? double(c.sent) / double(c.lookups_started) : 0;
    add(run,
        Measurement{.metric = "dns.lookup.p99",
                    .value = seconds(load.lookup_latency.value_at_percentile(99)),
                    .offered = std::nullopt,
                    .histogram = load.lookup_latency,
                    .source = "client",
                    .note = fmt::format(
                        "per application lookup through the search list: P50 {}, P99 {}; {:.2f} "
                        "queries per lookup, {} NXDOMAIN walk steps; {} answered, {} negative, {} "
                        "failed, {} lost",
                        ms(seconds(load.lookup_latency.value_at_percentile(50))),
                        ms(seconds(load.lookup_latency.value_at_percentile(99))), per_lookup, c.walk_nxdomain,
                        c.lookups_answered, c.lookups_negative, c.lookups_failed, c.lookups_lost)},
        fallback);
  }

  // What a reader needs to trust the numbers.
  if (c.truncated > 0) {
    fallback.push_back(
        fmt::format("{} truncated answers ({} asked again over TCP)", c.truncated, c.tcp_retries));
  }
  if (c.unexpected_id + c.mismatched + c.malformed > 0) {
    fallback.push_back(
        fmt::format("ignored datagrams: {} with an ID not in flight (late or stray), {} answering "
                    "another question, {} malformed",
                    c.unexpected_id, c.mismatched, c.malformed));
  }
  if (c.send_errors + c.connection_lost + c.refused_icmp > 0) {
    fallback.push_back(
        fmt::format("{} queries not sent, {} lost with their TCP connection, {} ICMP port "
                    "unreachable{}",
                    c.send_errors, c.connection_lost, c.refused_icmp,
                    load.first_error.empty() ? std::string() : "; first: " + load.first_error));
  }
  if (!load.stopped_early.empty()) {
    fallback.push_back("stopped early: " + load.stopped_early);
  }
  if (load.cancelled) {
    fallback.push_back(fmt::format("cancelled after {:.1f}s ({} lookups in flight abandoned)",
                                   load.elapsed_seconds(), c.lookups_abandoned));
  }
  run.notes = notes;
  if (unmeasured_cache) {
    // The row's reason (eval reads "<metric> not measured: <why>" notes).
    run.notes.push_back("dns.cache_hit_ratio not measured: " + *unmeasured_cache);
  }

  // The one validity rule (load/validity.hpp): INVALID only for the generator's own shortfall, and only
  // where it could change a verdict. Not for a cancelled run (partial, and said so), nor for one stopped
  // because the server stopped answering: dns.qps fails on the server's silence, whatever the generator did.
  load::Validity validity = load::judge_validity(generator_account(load, judging), judging.tightest_latency);
  run.notes.push_back(validity.statement);
  if (!load.cancelled && load.stopped_early.empty()) {
    for (std::string& reason : validity.invalid_reasons) {
      run.invalid_reasons.push_back(std::move(reason));
    }
    if (validity.lateness) {
      run.lateness.push_back(*validity.lateness);
    }
  }
  if (c.sent == 0 && c.lookups_started == 0 && !load.cancelled) {
    run.invalid_reasons.push_back(fmt::format(
        "nothing was sent{}", load.first_error.empty() ? std::string() : ": " + load.first_error));
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
    } else if (run.invalid_reasons.empty()) {
      run.invalid_reasons.push_back("nothing measured: " + joined);
    }
  }
  return run;
}

}  // namespace kp::drivers::dns
