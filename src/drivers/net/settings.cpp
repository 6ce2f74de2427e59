#include "drivers/net/settings.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "config/yaml_fields.hpp"
#include "drivers/net/test_spec.hpp"

namespace kp::drivers::net {
namespace {

using config::YamlField;
using config::YamlMap;

Result<std::uint64_t> read_whole(const YamlField& field, std::uint64_t minimum, std::uint64_t maximum) {
  const std::string text = field.text();
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!field.is_scalar() || text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    return field.fail_got("must be a whole number");
  }
  if (value < minimum || value > maximum) {
    return field.fail_got(fmt::format("must be within {}..{}", minimum, maximum));
  }
  return value;
}

// Parallel streams for the stress ramp: whole numbers within 1..kMaxStreams, strictly ascending.
Result<std::vector<int>> read_stream_steps(const YamlField& field) {
  Result<std::vector<YamlField>> items = field.items();
  if (!items) {
    return std::unexpected(items.error());
  }
  if (items->empty()) {
    return field.fail_got("must list at least one step");
  }
  std::vector<int> steps;
  for (const YamlField& item : *items) {
    Result<std::uint64_t> streams = read_whole(item, 1, kMaxStreams);
    if (!streams) {
      return std::unexpected(streams.error());
    }
    if (!steps.empty() && static_cast<int>(*streams) <= steps.back()) {
      return item.fail_got(fmt::format("must be above the step before it ({})", steps.back()));
    }
    steps.push_back(static_cast<int>(*streams));
  }
  return steps;
}

// Distinct placement names, at least one.
Result<std::vector<std::string>> read_placements(const YamlField& field) {
  Result<std::vector<YamlField>> items = field.items();
  if (!items) {
    return std::unexpected(items.error());
  }
  if (items->empty()) {
    return field.fail_got("must list at least one placement");
  }
  std::vector<std::string> out;
  for (const YamlField& item : *items) {
    Result<std::string> name = config::read_choice(item, {"same-node", "cross-node", "cross-zone"});
    if (!name) {
      return std::unexpected(name.error());
    }
    if (std::ranges::find(out, *name) != out.end()) {
      return item.fail_got("listed twice");
    }
    out.push_back(*name);
  }
  return out;
}

Result<std::uint64_t> read_size(const YamlField& field, std::uint64_t maximum) {
  Result<ByteSize> size = field.is_scalar() ? parse_byte_size(field.text()) : fail(ErrorKind::input, "");
  if (!size) {
    return field.fail_got("not a size");
  }
  if (size->bytes == 0) {
    return field.fail_got("must be > 0");
  }
  if (size->bytes > maximum) {
    return field.fail_got(fmt::format("must be at most {} bytes", maximum));
  }
  return size->bytes;
}

Result<Duration> read_positive_duration(const YamlField& field, bool allow_zero) {
  Result<Duration> value = config::read_duration(field);
  if (!value) {
    return value;
  }
  if (*value < Duration::zero() || (!allow_zero && *value == Duration::zero())) {
    return field.fail_got(allow_zero ? "must be >= 0" : "must be > 0");
  }
  if (*value > kMaxDuration) {
    return field.fail_got("must be at most 12h");
  }
  return value;
}

}  // namespace

Result<Settings> parse_settings(const YAML::Node& node, std::string_view file, std::string_view path) {
  Settings settings;
  YamlField root(node, std::string(file), std::string(path));
  if (!node.IsDefined() || root.is_null()) {
    return settings;
  }
  Result<YamlMap> map = YamlMap::open(
      root, {"duration", "warmup", "streams", "message_size", "request_size", "response_size", "rate",
             "arrival", "client_cpu", "server_cpu", "response_timeout", "connect_timeout", "stress",
             "stress_streams", "placements", "host_network_baseline", "pairs", "pods"});
  if (!map) {
    return std::unexpected(map.error());
  }
  const int cpus = CPU_SETSIZE - 1;
  for (const auto& [key, field] : map->entries()) {
    Result<void> ok;
    auto take = [&ok](auto& target, auto value) {
      if (!value) {
        ok = std::unexpected(value.error());
      } else {
        target = *value;
      }
    };
    if (key == "duration") {
      take(settings.duration, read_positive_duration(field, false));
    } else if (key == "warmup") {
      take(settings.warmup, read_positive_duration(field, true));
    } else if (key == "streams") {
      Result<std::uint64_t> streams = read_whole(field, 1, kMaxStreams);
      take(settings.streams,
           streams ? Result<int>(static_cast<int>(*streams)) : std::unexpected(streams.error()));
    } else if (key == "message_size") {
      take(settings.message_size, read_size(field, kMaxTcpMessage));
    } else if (key == "request_size") {
      take(settings.request_size, read_size(field, kMaxTcpMessage));
    } else if (key == "response_size") {
      take(settings.response_size, read_size(field, kMaxTcpMessage));
    } else if (key == "rate") {
      Result<load::RateSetting> rate = load::read_rate_setting(field);
      if (rate && rate->from_capacity_load()) {
        rate = field.fail_got(
            "the request/response rate has no capacity field (capacity.pod_network is the streams' "
            "bandwidth): give a rate > 0 or max");
      }
      take(settings.rate, rate);
    } else if (key == "stress") {
      take(settings.stress, load::read_stress_settings(field));
    } else if (key == "stress_streams") {
      take(settings.stress_streams, read_stream_steps(field));
    } else if (key == "arrival") {
      Result<std::string> arrival = config::read_choice(field, {"constant", "poisson"});
      take(settings.arrival,
           arrival ? Result<Arrival>(*arrival == "poisson" ? Arrival::poisson : Arrival::constant)
                   : std::unexpected(arrival.error()));
    } else if (key == "client_cpu" || key == "server_cpu") {
      Result<std::uint64_t> cpu = read_whole(field, 0, cpus);
      take(key == "client_cpu" ? settings.client_cpu : settings.server_cpu,
           cpu ? Result<int>(static_cast<int>(*cpu)) : std::unexpected(cpu.error()));
    } else if (key == "response_timeout") {
      take(settings.response_timeout, read_positive_duration(field, false));
    } else if (key == "placements") {
      take(settings.placements, read_placements(field));
    } else if (key == "host_network_baseline") {
      take(settings.host_network_baseline, config::read_bool(field));
    } else if (key == "pairs") {
      Result<std::uint64_t> pairs = read_whole(field, 1, kMaxPairs);
      take(settings.pairs, pairs ? Result<int>(static_cast<int>(*pairs)) : std::unexpected(pairs.error()));
    } else if (key == "pods") {
      if (!field.is_map() && !field.is_null()) {
        ok = field.fail_got("must be a mapping (node_selector, tolerations, resources, ...)");
      }
      settings.pods = field.node();
    } else if (key == "connect_timeout") {
      take(settings.connect_timeout, read_positive_duration(field, false));
    }
    if (!ok) {
      return std::unexpected(ok.error());
    }
  }
  return settings;
}

Duration test_duration(const Settings& settings, Duration phase_duration) {
  if (settings.duration) {
    return *settings.duration;
  }
  return std::max<Duration>(phase_duration / 3, std::chrono::seconds(1));
}

}  // namespace kp::drivers::net
