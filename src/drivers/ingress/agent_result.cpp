#include "drivers/ingress/agent_result.hpp"

#include <fmt/format.h>

namespace kp::drivers::ingress {
namespace {

using nlohmann::json;

Duration seconds_of(double seconds) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

Result<LoadResult> load_result_from_line(const json& line) {
  if (!line.is_object() || line.value("kind", "") != kHttpAgentKind) {
    return fail(ErrorKind::protocol, fmt::format("not a {} line", kHttpAgentKind));
  }
  if (!line.contains("counts") && line.contains("error") && line["error"].is_string()) {
    return fail(ErrorKind::network, line["error"].get<std::string>());
  }
  const json& counts = line.value("counts", json::object());
  const json& histograms = line.value("histograms", json::object());
  LoadResult result;
  std::string missing;
  const auto count = [&](const char* key) -> std::uint64_t {
    if (!counts.contains(key) || !counts[key].is_number_integer() || counts[key].get<std::int64_t>() < 0) {
      missing = missing.empty() ? std::string(key) : missing;
      return 0;
    }
    return counts[key].get<std::uint64_t>();
  };
  const auto real = [&](const char* key) -> double {
    if (!counts.contains(key) || !counts[key].is_number()) {
      missing = missing.empty() ? std::string(key) : missing;
      return 0;
    }
    return counts[key].get<double>();
  };
  result.requests_sent = count("requests_sent");
  result.responses = count("responses");
  result.status_classes[1] = count("status_1xx");
  result.status_classes[2] = count("status_2xx");
  result.status_classes[3] = count("status_3xx");
  result.status_classes[4] = count("status_4xx");
  result.status_classes[5] = count("status_5xx");
  result.connect_errors = count("connect_errors");
  result.tls_errors = count("tls_errors");
  result.read_errors = count("read_errors");
  result.write_errors = count("write_errors");
  result.parse_errors = count("parse_errors");
  result.timeouts = count("timeouts");
  result.unsent = count("unsent");
  result.dispatched = count("dispatched");
  result.queued = count("queued_for_connection");
  result.unsent_for_server = count("unsent_for_server");
  result.unsent_own = count("unsent_own");
  result.issued = count("issued");
  result.sent_in_window = count("sent_in_window");
  result.pacer.late_sends = count("late_sends");
  result.pacer.sends = count("pacer_sends");
  result.connections_opened = count("connections_opened");
  result.server_closes = count("server_closes");
  result.bytes_read = count("bytes_read");
  std::string out_of_range;
  const auto duration = [&](const char* key) -> Duration {
    const double seconds = real(key);
    // Nanoseconds in an int64 hold about 292 years; converting more (or NaN) is undefined, and none of these
    // is ever negative.
    if (!(seconds >= 0 && seconds < 9.2e9)) {
      if (out_of_range.empty()) {
        out_of_range =
            fmt::format("counts.{}: must be between 0 and 9.2e9 seconds, got {}", key, counts[key].dump());
      }
      return Duration{};
    }
    return seconds_of(seconds);
  };
  result.elapsed = duration("elapsed_s");
  result.window = duration("window_s");
  result.pacer.max_lag = duration("pacer_max_lag_s");
  result.intended_rate = real("intended_rate");
  result.open_loop = counts.value("open_loop", false);
  if (!missing.empty()) {
    return fail(ErrorKind::protocol,
                fmt::format("{} line: counts.{} is missing or not a number", kHttpAgentKind, missing));
  }
  if (!out_of_range.empty()) {
    return fail(ErrorKind::protocol, fmt::format("{} line: {}", kHttpAgentKind, out_of_range));
  }
  const std::pair<const char*, Histogram*> wanted[] = {
      {"latency", &result.latency},           {"uncorrected", &result.uncorrected},
      {"connect", &result.connect_time},      {"handshake", &result.handshake_time},
      {"own_lateness", &result.own_lateness}, {"pacer_lag", &result.pacer.lag}};
  for (const auto& [name, target] : wanted) {
    if (!histograms.contains(name)) {
      return fail(ErrorKind::protocol,
                  fmt::format("{} line: histograms.{} is missing", kHttpAgentKind, name));
    }
    Result<Histogram> histogram = Histogram::from_json(histograms[name]);
    if (!histogram) {
      return fail(ErrorKind::protocol,
                  fmt::format("{} line: histograms.{}: {}", kHttpAgentKind, name, histogram.error().message));
    }
    *target = std::move(*histogram);
  }
  // Absent from agents older than the io_uring backend: they ran on epoll.
  result.io_backend = line.contains("io") && line["io"].is_string() ? line["io"].get<std::string>() : "epoll";
  if (line.contains("io_note") && line["io_note"].is_string()) {
    result.io_note = line["io_note"].get<std::string>();
  }
  if (line.contains("errors") && line["errors"].is_array()) {
    for (const json& sample : line["errors"]) {
      if (sample.is_string() && result.error_samples.size() < 5) {
        result.error_samples.push_back(sample.get<std::string>());
      }
    }
  }
  return result;
}

}  // namespace kp::drivers::ingress
