#include "drivers/ingress/measurements.hpp"

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
  if (result.responses == 0) {
    return out;
  }
  out.push_back(Measurement{
      .metric = "ingress.p99",
      .value = static_cast<double>(result.latency.value_at_percentile(99)) / 1e9,
      .offered = std::nullopt,
      .histogram = result.latency,
      .source = "client",
      .note = latency_note(result),
  });
  std::uint64_t errors_5xx = result.status_classes[5];
  out.push_back(Measurement{
      .metric = "ingress.error_rate_5xx",
      .value = static_cast<double>(errors_5xx) / static_cast<double>(result.responses),
      .offered = std::nullopt,
      .histogram = std::nullopt,
      .source = "client",
      .note =
          fmt::format("{} of {} responses were 5xx ({} 4xx); requests without any response are not in this "
                      "rate: {}",
                      errors_5xx, result.responses, result.status_classes[4], failures_text(result)),
  });
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

std::vector<std::string> invalid_reasons(const LoadResult& result, std::string_view what) {
  std::vector<std::string> reasons;
  if (result.open_loop) {
    double late = result.pacer.late_fraction();
    if (late > kMaxLateFraction) {
      reasons.push_back(
          fmt::format("{}: the open-loop schedule fell behind: {:.1f}% of sends were late (worst {}); {} "
                      "requests waited for a "
                      "free connection: the server was slower than the intended rate, or too few connections",
                      what, late * 100, format_duration(result.pacer.max_lag), result.queued));
    }
    if (result.issued > 0) {
      double achieved = static_cast<double>(result.sent_in_window) / static_cast<double>(result.issued);
      if (achieved < kMinAchievedFraction) {
        reasons.push_back(fmt::format(
            "{}: achieved {:.0f}/s, {:.1f}% of the intended {:.0f}/s ({} of {} sent before the end)", what,
            result.achieved_send_rate(), achieved * 100, result.intended_rate, result.sent_in_window,
            result.issued));
      }
    }
  }
  std::uint64_t attempts = result.responses + result.failures();
  if (attempts > 0) {
    double failed = static_cast<double>(result.failures()) / static_cast<double>(attempts);
    if (failed > kMaxFailureFraction) {
      std::string sample = result.error_samples.empty() ? "" : " (e.g. " + result.error_samples.front() + ")";
      reasons.push_back(fmt::format("{}: {:.1f}% of requests got no usable response: {}{}", what,
                                    failed * 100, failures_text(result), sample));
    }
  } else {
    reasons.push_back(fmt::format("{}: no request completed", what));
  }
  return reasons;
}

}  // namespace kp::drivers::ingress
