#include "drivers/ingress/measurements.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

namespace kp::drivers::ingress {
namespace {

std::string ns_text(std::int64_t ns) {
  return format_duration(Duration(ns));
}

std::string failures_text(const LoadResult& result) {
  return fmt::format("{} socket errors (connect {}, TLS {}, read {}, write {}), {} timeouts, {} malformed",
                     result.socket_errors(), result.connect_errors, result.tls_errors, result.read_errors,
                     result.write_errors, result.timeouts, result.parse_errors);
}

}  // namespace

std::string latency_note(const LoadResult& result) {
  const Histogram& h = result.latency;
  std::string note =
      fmt::format("P50 {}, P90 {}, P99 {}, P99.9 {}, max {}", ns_text(h.value_at_percentile(50)),
                  ns_text(h.value_at_percentile(90)), ns_text(h.value_at_percentile(99)),
                  ns_text(h.value_at_percentile(99.9)), ns_text(h.max()));
  if (result.open_loop) {
    note += fmt::format(" from intended send times; uncorrected (service time) P99 {}",
                        ns_text(result.uncorrected.value_at_percentile(99)));
  }
  return note;
}

std::vector<Measurement> request_measurements(const LoadResult& result) {
  std::vector<Measurement> out;
  std::string mode = result.open_loop ? fmt::format("open loop at {:.0f}/s intended", result.intended_rate)
                                      : std::string("closed loop");
  double seconds = std::chrono::duration<double>(result.elapsed).count();
  out.push_back(Measurement{
      .metric = "ingress.rps",
      .value = result.rps(),
      // Open loop: the value can only show the rate we asked for (eval must not read a light run as
      // capacity).
      .offered = result.open_loop ? std::optional(result.intended_rate) : std::nullopt,
      .histogram = std::nullopt,
      .source = "client",
      .note = fmt::format("{} responses in {:.2f}s, {}; {}", result.responses, seconds, mode,
                          failures_text(result)),
  });
  if (result.responses > 0) {
    out.push_back(Measurement{
        .metric = "ingress.p99",
        .value = static_cast<double>(result.latency.value_at_percentile(99)) / 1e9,
        .offered = std::nullopt,
        .histogram = result.latency,
        .source = "client",
        .note = latency_note(result),
    });
  }
  const std::uint64_t errors = result.status_classes[5] + result.failures();
  const std::uint64_t attempts = result.responses + result.failures();
  if (attempts > 0) {
    out.push_back(Measurement{
        .metric = "ingress.error_rate_5xx",
        .value = static_cast<double>(errors) / static_cast<double>(attempts),
        .offered = std::nullopt,
        .histogram = std::nullopt,
        .source = "client",
        .note = fmt::format("{} 5xx of {} responses ({} 4xx), and {} requests without any response, of {} "
                            "attempts: {}",
                            result.status_classes[5], result.responses, result.status_classes[4],
                            result.failures(), attempts, failures_text(result)),
    });
  }
  return out;
}

std::vector<Measurement> connection_measurements(const LoadResult& result) {
  std::string mode = result.open_loop ? fmt::format("open loop at {:.0f}/s intended", result.intended_rate)
                                      : std::string("closed loop");
  std::string handshake = result.handshake_time.count() > 0
                              ? fmt::format(", TLS handshake P50 {} P99 {}",
                                            ns_text(result.handshake_time.value_at_percentile(50)),
                                            ns_text(result.handshake_time.value_at_percentile(99)))
                              : std::string();
  return {Measurement{
      .metric = "ingress.connection_rate",
      .value = result.connection_rate(),
      // One request per connection: the intended request rate is the offered connection rate.
      .offered = result.open_loop ? std::optional(result.intended_rate) : std::nullopt,
      .histogram = std::nullopt,
      .source = "client",
      .note =
          fmt::format("{} new connections (one request each) in {:.2f}s, {}; connect P50 {} P99 {}{}; {}",
                      result.connections_opened, std::chrono::duration<double>(result.elapsed).count(), mode,
                      ns_text(result.connect_time.value_at_percentile(50)),
                      ns_text(result.connect_time.value_at_percentile(99)), handshake, failures_text(result)),
  }};
}

load::GeneratorAccount generator_account(const LoadResult& result, std::string what, bool rate_judged) {
  load::GeneratorAccount account;
  account.what = std::move(what);
  account.open_loop = result.open_loop;
  account.offered = result.intended_rate;
  account.window = result.window;
  account.due = result.open_loop ? result.issued : result.requests_sent;
  account.sent = result.open_loop ? result.dispatched : result.requests_sent;
  account.queued_for_server = result.queued;
  account.unsent_for_server = result.unsent_for_server;
  account.own_lateness = result.own_lateness;
  account.rate_judged = rate_judged;
  return account;
}

load::Validity judge_run(const LoadResult& result, std::string_view what, std::string_view metric,
                         const load::CriteriaView& criteria) {
  const std::string_view latency_rows[] = {"ingress.p99"};
  return load::judge_validity(generator_account(result, std::string(what), criteria.judged(metric)),
                              criteria.tightest_latency_target(Phase::ingress, latency_rows));
}

load::BreakLimits break_limits(const load::CriteriaView& criteria) {
  return load::BreakLimits{.p99_critical = criteria.critical("ingress.p99"),
                           .error_critical = criteria.critical("ingress.error_rate_5xx"),
                           .min_achieved_share = load::kMinOwnShare};
}

load::StepRecord step_record(const LoadResult& result, bool connections) {
  load::StepRecord step;
  step.offered = result.open_loop ? result.intended_rate : 0;
  // Per second of the sending window: what the server answered of what was offered in it (responses in
  // the drain after the window still count; requests never answered do not).
  const double window = std::chrono::duration<double>(result.window).count();
  const std::uint64_t done = connections ? result.connections_opened : result.responses;
  step.achieved = window > 0 ? static_cast<double>(done) / window : 0.0;
  if (result.latency.count() > 0) {
    step.p50 = static_cast<double>(result.latency.value_at_percentile(50)) / 1e9;
    step.p99 = static_cast<double>(result.latency.value_at_percentile(99)) / 1e9;
  }
  step.completed = result.responses + result.failures();
  step.errors = result.status_classes[5] + result.failures();
  step.duration = result.elapsed;
  return step;
}

}  // namespace kp::drivers::ingress
