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

std::string describe_load(std::optional<Rate> rate, std::uint32_t outstanding, int clients, int threads,
                          const Settings& settings, const Workload& workload) {
  std::string mode = rate              ? fmt::format("open loop at {:.0f}/s ({})", rate->per_second,
                                        settings.arrival == Arrival::poisson ? "poisson" : "constant")
                     : outstanding > 0 ? fmt::format("max with {} outstanding", outstanding)
                                       : std::string("max");
  std::string queries = settings.queries == kBuiltinMix ? std::string("the built-in Kubernetes mix")
                                                        : fmt::format("queries from {}", settings.queries);
  return fmt::format("{}, {} {} client{} on {} thread{}, {}{} ({} distinct queries)", mode, clients,
                     to_string(settings.protocol), clients == 1 ? "" : "s", threads, threads == 1 ? "" : "s",
                     queries, workload.walk ? " through a pod's search list" : "", workload.queries.size());
}

// The queries per second a run offered: the rate paces lookups and dns.qps counts queries, so a lookup
// walking a pod's search list counts the queries it took (TCP retries ask again and are not offered load).
double offered_queries(const LoadResult& load, const Workload& workload) {
  const Counters& c = load.counters;
  double per_lookup = 1.0;
  if (workload.walk && c.lookups_started > 0) {
    per_lookup = double(c.sent - c.tcp_retries) / double(c.lookups_started);
  }
  return load.rate ? load.rate->per_second * per_lookup : 0.0;
}

std::string per_second(double rate) {
  return fmt::format("{:.0f}/s", rate);
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

DnsPhase::DnsPhase(Settings settings, RunShape shape, Clock& clock, ProgressFn progress)
    : settings_(std::move(settings)),
      shape_(std::move(shape)),
      clock_(clock),
      progress_(std::move(progress)) {}

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
  }
  if (progress_) {
    progress_(probe ? fmt::format("{} answers {} {} with {}", shape_.load.server.text, first.name,
                                  type_name(first.type), rcode_name(probe->header.rcode))
                    : notes_.back());
  }
  return {};
}

Result<engine::PhaseRun> DnsPhase::run(engine::CancellationToken& cancel) {
  if (progress_) {
    progress_(
        fmt::format("{} for {}{}",
                    describe_load(shape_.load.rate, shape_.load.outstanding, shape_.load.clients,
                                  shape_.load.threads, settings_, workload_),
                    format_duration(shape_.load.duration),
                    shape_.load.total ? fmt::format(" or {} lookups", *shape_.load.total) : std::string()));
  }
  if (!shape_.stress.empty()) {
    StepRunner run_step = [&](const StressStep& step) {
      LoadOptions options = shape_.load;
      options.rate = step.rate;
      options.duration = step.duration;
      if (progress_) {
        progress_(fmt::format("stress step x{:g}: {} for {}", step.factor, per_second(step.rate.per_second),
                              format_duration(step.duration)));
      }
      return run_load(workload_, options, clock_, cancel, progress_);
    };
    Result<std::vector<StepResult>> steps =
        run_stress_ramp(shape_.stress, run_step, workload_, settings_, cancel);
    if (!steps) {
      return std::unexpected(steps.error());
    }
    steps_ = std::move(*steps);
  } else {
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
  if (!shape_.stress.empty()) {
    return build_stress_run(steps_, shape_.stress.size(), cache_, cache_source, cache_problem_, workload_,
                            settings_, notes);
  }
  engine::PhaseRun run = build_run(*load_, cache_, cache_source, cache_problem_, workload_, settings_, notes);
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
                           const std::vector<std::string>& notes) {
  engine::PhaseRun run;
  std::vector<std::string> fallback;
  const Counters& c = load.counters;
  const std::string shape_note =
      describe_load(load.rate, load.outstanding, load.clients, load.threads, settings, workload);

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
  } else if (!cache_problem.empty()) {
    fallback.push_back("cache hit ratio not measured: " + cache_problem);
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
  for (const std::string& note : notes) {
    fallback.push_back(note);
  }

  // INVALID: the generator, not the server, fell short. Not when the run was stopped or cancelled.
  if (load.rate && !load.cancelled && load.stopped_early.empty()) {
    const double share = load.achieved_share();
    if (share < kMinAchievedShare) {
      run.invalid_reasons.push_back(fmt::format(
          "sent {} of the {} lookups due at {:.0f}/s ({}): {} with {} outstanding queries at most{}",
          c.lookups_started, c.lookups_started + load.unsent_due, load.rate->per_second, percent(share),
          c.window_full > 0 ? "the outstanding window was full" : "the client could not keep up",
          load.outstanding, " (raise outstanding, clients or threads, or lower the rate)"));
    }
    if (load.pacer.sends > 0 && load.pacer.late_fraction() > kMaxLateShare) {
      run.invalid_reasons.push_back(
          fmt::format("the open-loop schedule fell behind: {} of lookups went out more than {} late (worst "
                      "{}); the client "
                      "was saturated",
                      percent(load.pacer.late_fraction()), format_duration(settings.late_tolerance),
                      format_duration(load.pacer.max_lag)));
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

std::string stress_step_failure(const LoadResult& load, const Workload& workload, const Settings& settings) {
  const Counters& c = load.counters;
  const double offered = offered_queries(load, workload);
  const double answered = load.answered_per_second();
  std::vector<std::string> reasons;
  // Only what the server did counts: lookups the generator did not send were never offered.
  const double due_share = load.achieved_share();
  if (offered > 0 && answered < kStressMinAchieved * offered * due_share) {
    reasons.push_back(fmt::format("answered {} of {} offered ({})", per_second(answered),
                                  per_second(offered * due_share),
                                  percent(answered / (offered * due_share))));
  }
  const double loss = c.sent > 0 ? double(c.lost + c.connection_lost) / double(c.sent) : 0.0;
  if (loss > settings.stress_loss_limit) {
    reasons.push_back(fmt::format("lost {} > {}", percent(loss), percent(settings.stress_loss_limit)));
  }
  const Histogram& latency = load.query_latency.corrected;
  const double p99 = latency.count() > 0 ? seconds(latency.value_at_percentile(99)) : 0.0;
  if (p99 > std::chrono::duration<double>(settings.stress_p99_limit).count()) {
    reasons.push_back(fmt::format("P99 {} > {}", ms(p99), format_duration(settings.stress_p99_limit)));
  }
  if (c.sent == 0 && !load.cancelled) {
    reasons.push_back("nothing was sent");
  }
  std::string text;
  for (const std::string& reason : reasons) {
    text += (text.empty() ? "" : ", ") + reason;
  }
  return text;
}

Result<std::vector<StepResult>> run_stress_ramp(const std::vector<StressStep>& steps,
                                                const StepRunner& run_step, const Workload& workload,
                                                const Settings& settings, engine::CancellationToken& cancel) {
  std::vector<StepResult> results;
  for (const StressStep& step : steps) {
    if (cancel.requested()) {
      break;
    }
    Result<LoadResult> load = run_step(step);
    if (!load) {
      return std::unexpected(load.error());
    }
    StepResult result{.step = step, .load = std::move(*load), .failure = {}};
    if (!result.load.cancelled) {
      result.failure = stress_step_failure(result.load, workload, settings);
    }
    const bool stop = !result.failure.empty() || result.load.cancelled || !result.load.stopped_early.empty();
    results.push_back(std::move(result));
    if (stop) {
      break;  // past the breaking point, or interrupted: higher steps would only pile onto a failing server
    }
  }
  return results;
}

engine::PhaseRun build_stress_run(const std::vector<StepResult>& steps, std::size_t planned_steps,
                                  const std::optional<CacheDelta>& cache, const std::string& cache_source,
                                  const std::string& cache_problem, const Workload& workload,
                                  const Settings& settings, const std::vector<std::string>& notes) {
  const StepResult* last_held = nullptr;
  const StepResult* breaking = nullptr;
  for (const StepResult& step : steps) {
    if (step.failure.empty() && !step.load.cancelled) {
      last_held = &step;
    } else if (!step.failure.empty() && breaking == nullptr) {
      breaking = &step;
    }
  }
  std::vector<std::string> all_notes;
  for (const StepResult& step : steps) {
    const Histogram& latency = step.load.query_latency.corrected;
    all_notes.push_back(
        fmt::format("stress step x{:g} at {}: answered {}, P99 {}, {} of {} lost: {}", step.step.factor,
                    per_second(step.step.rate.per_second), per_second(step.load.answered_per_second()),
                    latency.count() > 0 ? ms(seconds(latency.value_at_percentile(99))) : std::string("n/a"),
                    step.load.counters.lost + step.load.counters.connection_lost, step.load.counters.sent,
                    step.load.cancelled    ? std::string("cancelled")
                    : step.failure.empty() ? std::string("held")
                                           : "not held (" + step.failure + ")"));
  }
  std::optional<Measurement> breaking_rate;
  if (breaking != nullptr) {
    breaking_rate =
        Measurement{.metric = "dns.breaking_rate",
                    .value = breaking->step.rate.per_second,
                    .offered = std::nullopt,
                    .histogram = {},
                    .source = "client",
                    .note = fmt::format(
                        "the server did not hold {} (x{:g} of capacity): {}; {}",
                        per_second(breaking->step.rate.per_second), breaking->step.factor, breaking->failure,
                        last_held != nullptr
                            ? fmt::format("last rate held {} (x{:g})",
                                          per_second(last_held->step.rate.per_second), last_held->step.factor)
                            : std::string("it held no step (already at the first)"))};
  } else if (last_held != nullptr) {
    all_notes.push_back(fmt::format(
        "breaking point not reached: the server held every step{} up to {} (x{:g})",
        steps.size() < planned_steps ? fmt::format(" that ran ({} of {})", steps.size(), planned_steps)
                                     : std::string(),
        per_second(last_held->step.rate.per_second), last_held->step.factor));
  }
  all_notes.insert(all_notes.end(), notes.begin(), notes.end());
  if (steps.empty()) {
    engine::PhaseRun run;
    run.invalid_reasons.push_back("no stress step ran (cancelled before the first)");
    return run;
  }
  const StepResult& judged = last_held != nullptr ? *last_held : steps.front();
  engine::PhaseRun run =
      build_run(judged.load, cache, cache_source, cache_problem, workload, settings, all_notes);
  if (breaking_rate) {
    if (config::find_metric(breaking_rate->metric) != nullptr) {
      run.measurements.push_back(std::move(*breaking_rate));
    } else if (!run.measurements.empty()) {
      run.measurements.front().note +=
          fmt::format("; dns.breaking_rate = {:g} ({})", breaking_rate->value, breaking_rate->note);
    }
  }
  return run;
}

}  // namespace kp::drivers::dns
