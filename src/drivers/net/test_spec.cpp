#include "drivers/net/test_spec.hpp"

#include <array>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kp::drivers::net {
namespace {

constexpr std::array<std::pair<Scenario, std::string_view>, 5> kScenarios = {{
    {Scenario::tcp_stream, "TCP_STREAM"},
    {Scenario::udp_stream, "UDP_STREAM"},
    {Scenario::tcp_rr, "TCP_RR"},
    {Scenario::udp_rr, "UDP_RR"},
    {Scenario::tcp_crr, "TCP_CRR"},
}};

std::unexpected<Error> usage(FieldStyle style, std::string_view key, std::string_view message) {
  return fail(ErrorKind::usage, fmt::format("{}: {}", field_name(key, style), message));
}

std::string size_text(std::uint64_t bytes) {
  if (bytes >= 1024 && bytes % 1024 == 0) {
    return bytes % (1024 * 1024) == 0 ? fmt::format("{} MiB", bytes >> 20)
                                      : fmt::format("{} KiB", bytes >> 10);
  }
  return fmt::format("{} B", bytes);
}

// Readers of the wire form: each names the field and says what it wanted.
std::unexpected<Error> wire_error(std::string_view key, std::string_view message) {
  return fail(ErrorKind::protocol, fmt::format("test.{}: {}", key, message));
}

Result<std::uint64_t> wire_count(const nlohmann::json& json, std::string_view key) {
  auto found = json.find(key);
  if (found == json.end()) {
    return wire_error(key, "missing");
  }
  // A parsed document has non-negative integers as unsigned; one built in memory may hold them as signed.
  if (!found->is_number_integer() ||
      (found->is_number_integer() && !found->is_number_unsigned() && found->get<std::int64_t>() < 0)) {
    return wire_error(key, fmt::format("must be a whole number >= 0, got {}", found->dump()));
  }
  return found->get<std::uint64_t>();
}

Result<Duration> wire_duration(const nlohmann::json& json, std::string_view key) {
  Result<std::uint64_t> ns = wire_count(json, key);
  if (!ns) {
    return std::unexpected(ns.error());
  }
  if (*ns > std::uint64_t(std::chrono::duration_cast<Duration>(kMaxDuration).count()) * 2) {
    return wire_error(key, fmt::format("too long, got {} ns", *ns));
  }
  return Duration(static_cast<std::int64_t>(*ns));
}

Result<std::optional<double>> wire_optional_number(const nlohmann::json& json, std::string_view key) {
  auto found = json.find(key);
  if (found == json.end() || found->is_null()) {
    return std::optional<double>{};
  }
  if (!found->is_number()) {
    return wire_error(key, fmt::format("must be a number or null, got {}", found->dump()));
  }
  return std::optional<double>(found->get<double>());
}

}  // namespace

std::string_view to_string(Scenario scenario) {
  for (const auto& [value, name] : kScenarios) {
    if (value == scenario) {
      return name;
    }
  }
  return "?";
}

std::optional<Scenario> parse_scenario(std::string_view name) {
  for (const auto& [value, known] : kScenarios) {
    if (known == name) {
      return value;
    }
  }
  return std::nullopt;
}

std::string field_name(std::string_view key, FieldStyle style) {
  if (style == FieldStyle::key) {
    return std::string(key);
  }
  std::string flag = "--";
  for (char c : key) {
    flag.push_back(c == '_' ? '-' : c);
  }
  return flag;
}

Result<void> validate(const TestSpec& spec, FieldStyle style) {
  if (spec.streams < 1 || spec.streams > kMaxStreams) {
    return usage(style, "streams", fmt::format("must be within 1..{}, got {}", kMaxStreams, spec.streams));
  }
  if (spec.duration <= Duration::zero() || spec.duration > kMaxDuration) {
    return usage(style, "duration",
                 fmt::format("must be > 0 and at most 12h, got {}", format_duration(spec.duration)));
  }
  if (spec.warmup < Duration::zero() || spec.warmup > kMaxDuration) {
    return usage(style, "warmup", fmt::format("must be within 0..12h, got {}", format_duration(spec.warmup)));
  }
  if (spec.total && *spec.total == 0) {
    return usage(style, "total", "must be > 0, got 0");
  }
  if (spec.response_timeout <= Duration::zero() || spec.response_timeout > std::chrono::minutes(10)) {
    return usage(style, "response_timeout",
                 fmt::format("must be > 0 and at most 10m, got {}", format_duration(spec.response_timeout)));
  }
  const bool udp = is_udp(spec.scenario);
  const std::uint64_t max_size = udp ? kMaxUdpMessage : kMaxTcpMessage;
  auto check_size = [&](std::string_view key, std::uint64_t size) -> Result<void> {
    if (size == 0) {
      return usage(style, key, "must be > 0, got 0");
    }
    if (udp && size < kUdpHeaderSize) {
      return usage(
          style, key,
          fmt::format("must be at least {} bytes for {} (each datagram carries a {}-byte header), got {}",
                      kUdpHeaderSize, to_string(spec.scenario), kUdpHeaderSize, size));
    }
    if (size > max_size) {
      return usage(
          style, key,
          fmt::format("must be at most {} for {}, got {}", max_size, to_string(spec.scenario), size));
    }
    return {};
  };
  if (is_stream(spec.scenario)) {
    if (Result<void> ok = check_size("message_size", spec.message_size); !ok) {
      return ok;
    }
    if (spec.rate) {
      return usage(style, "rate",
                   fmt::format("applies to TCP_RR, UDP_RR and TCP_CRR, not {} (use {} for UDP_STREAM)",
                               to_string(spec.scenario), field_name("bandwidth", style)));
    }
  } else {
    if (Result<void> ok = check_size("request_size", spec.request_size); !ok) {
      return ok;
    }
    if (Result<void> ok = check_size("response_size", spec.response_size); !ok) {
      return ok;
    }
    if (spec.rate && !(spec.rate->per_second > 0 && std::isfinite(spec.rate->per_second))) {
      return usage(style, "rate", fmt::format("must be > 0 (or max), got {}", spec.rate->per_second));
    }
  }
  if (spec.bandwidth) {
    if (spec.scenario != Scenario::udp_stream) {
      return usage(style, "bandwidth",
                   fmt::format("applies to UDP_STREAM only, not {}", to_string(spec.scenario)));
    }
    if (!(spec.bandwidth->bits_per_second > 0 && std::isfinite(spec.bandwidth->bits_per_second))) {
      return usage(style, "bandwidth", fmt::format("must be > 0, got {}", spec.bandwidth->bits_per_second));
    }
  }
  return {};
}

nlohmann::json to_json(const TestSpec& spec) {
  nlohmann::json json{
      {"scenario", to_string(spec.scenario)},
      {"streams", spec.streams},
      {"duration_ns", spec.duration.count()},
      {"warmup_ns", spec.warmup.count()},
      {"total", spec.total ? nlohmann::json(*spec.total) : nlohmann::json(nullptr)},
      {"message_size", spec.message_size},
      {"request_size", spec.request_size},
      {"response_size", spec.response_size},
      {"rate", spec.rate ? nlohmann::json(spec.rate->per_second) : nlohmann::json(nullptr)},
      {"arrival", spec.arrival == Arrival::poisson ? "poisson" : "constant"},
      {"bandwidth_bps",
       spec.bandwidth ? nlohmann::json(spec.bandwidth->bits_per_second) : nlohmann::json(nullptr)},
      {"response_timeout_ns", spec.response_timeout.count()},
  };
  return json;
}

Result<TestSpec> spec_from_json(const nlohmann::json& json) {
  if (!json.is_object()) {
    return fail(ErrorKind::protocol, fmt::format("test: must be an object, got {}", json.dump()));
  }
  static constexpr std::array<std::string_view, 12> kKeys = {
      "scenario",     "streams",       "duration_ns", "warmup_ns", "total",         "message_size",
      "request_size", "response_size", "rate",        "arrival",   "bandwidth_bps", "response_timeout_ns"};
  for (const auto& [key, value] : json.items()) {
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      return wire_error(key, "unknown field");
    }
  }
  TestSpec spec;
  auto scenario = json.find("scenario");
  if (scenario == json.end() || !scenario->is_string()) {
    return wire_error("scenario", "missing or not a string");
  }
  std::optional<Scenario> parsed = parse_scenario(scenario->get<std::string>());
  if (!parsed) {
    return wire_error("scenario", fmt::format("must be one of {}, got \"{}\"", kScenarioNames,
                                              scenario->get<std::string>()));
  }
  spec.scenario = *parsed;
  Result<std::uint64_t> streams = wire_count(json, "streams");
  if (!streams) {
    return std::unexpected(streams.error());
  }
  if (*streams > std::uint64_t(kMaxStreams)) {
    return wire_error("streams", fmt::format("must be within 1..{}, got {}", kMaxStreams, *streams));
  }
  spec.streams = static_cast<int>(*streams);
  for (auto [key, target] : {std::pair<std::string_view, Duration*>{"duration_ns", &spec.duration},
                             {"warmup_ns", &spec.warmup},
                             {"response_timeout_ns", &spec.response_timeout}}) {
    Result<Duration> value = wire_duration(json, key);
    if (!value) {
      return std::unexpected(value.error());
    }
    *target = *value;
  }
  for (auto [key, target] : {std::pair<std::string_view, std::uint64_t*>{"message_size", &spec.message_size},
                             {"request_size", &spec.request_size},
                             {"response_size", &spec.response_size}}) {
    Result<std::uint64_t> value = wire_count(json, key);
    if (!value) {
      return std::unexpected(value.error());
    }
    *target = *value;
  }
  if (auto total = json.find("total"); total != json.end() && !total->is_null()) {
    Result<std::uint64_t> value = wire_count(json, "total");
    if (!value) {
      return wire_error("total", fmt::format("must be a whole number or null, got {}", total->dump()));
    }
    spec.total = *value;
  }
  Result<std::optional<double>> rate = wire_optional_number(json, "rate");
  if (!rate) {
    return std::unexpected(rate.error());
  }
  if (*rate) {
    spec.rate = Rate{**rate};
  }
  Result<std::optional<double>> bandwidth = wire_optional_number(json, "bandwidth_bps");
  if (!bandwidth) {
    return std::unexpected(bandwidth.error());
  }
  if (*bandwidth) {
    spec.bandwidth = Bandwidth{**bandwidth};
  }
  auto arrival = json.find("arrival");
  if (arrival == json.end() || !arrival->is_string() || (*arrival != "constant" && *arrival != "poisson")) {
    return wire_error("arrival", "must be \"constant\" or \"poisson\"");
  }
  spec.arrival = *arrival == "poisson" ? Arrival::poisson : Arrival::constant;
  if (Result<void> ok = validate(spec, FieldStyle::key); !ok) {
    return fail(ErrorKind::protocol, "test." + ok.error().message);
  }
  return spec;
}

std::string describe(const TestSpec& spec) {
  std::string streams = spec.streams == 1 ? "1 stream" : fmt::format("{} streams", spec.streams);
  std::string shape;
  if (is_stream(spec.scenario)) {
    shape = fmt::format("{} messages", size_text(spec.message_size));
    if (spec.bandwidth) {
      shape +=
          fmt::format(", offered {}", format_quantity(Quantity::bandwidth, spec.bandwidth->bits_per_second));
    }
  } else {
    shape = fmt::format("{}/{}, {}", size_text(spec.request_size), size_text(spec.response_size),
                        spec.rate ? fmt::format("open loop at {}/s", spec.rate->per_second) : "closed loop");
  }
  std::string bound = format_duration(spec.duration);
  if (spec.total) {
    bound += fmt::format(" or {} {}", *spec.total, is_stream(spec.scenario) ? "messages" : "transactions");
  }
  return fmt::format("{}, {}, {}, {} (+{} warm-up)", to_string(spec.scenario), streams, shape, bound,
                     format_duration(spec.warmup));
}

}  // namespace kp::drivers::net
