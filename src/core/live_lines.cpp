#include "core/live_lines.hpp"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

namespace kp {

using nlohmann::json;

std::string live_line(const LiveDelta& delta) {
  json buckets = json::array();
  for (std::uint64_t count : delta.buckets) {
    buckets.push_back(count);
  }
  json line = {{"ok", delta.ok},
               {"errors", delta.errors},
               {"bytes", delta.bytes},
               {"latency_sum_ns", delta.latency_sum_ns},
               {"buckets", std::move(buckets)}};
  if (!delta.series.empty()) {
    line["series"] = delta.series;
  }
  return std::string(kLiveLinePrefix) + line.dump();
}

namespace {

std::optional<std::uint64_t> count_of(const json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_number_unsigned()) {
    return std::nullopt;
  }
  return found->get<std::uint64_t>();
}

bool is_series_name(std::string_view name) {
  constexpr std::string_view kPunctuation = " _.:+/-";
  return !name.empty() && name.size() <= kMaxLiveSeriesName && std::ranges::all_of(name, [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kPunctuation.find(c) != std::string_view::npos;
  });
}

}  // namespace

std::optional<LiveDelta> parse_live_line(std::string_view line) {
  std::optional<LiveLine> read = read_live_line(line);
  if (!read) {
    return std::nullopt;
  }
  return read->delta;
}

std::optional<LiveLine> read_live_line(std::string_view line) {
  if (!line.starts_with(kLiveLinePrefix)) {
    return std::nullopt;
  }
  const json parsed = json::parse(line.substr(kLiveLinePrefix.size()), nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return std::nullopt;
  }
  const std::optional<std::uint64_t> ok = count_of(parsed, "ok");
  const std::optional<std::uint64_t> errors = count_of(parsed, "errors");
  const std::optional<std::uint64_t> bytes = count_of(parsed, "bytes");
  const auto sum = parsed.find("latency_sum_ns");
  const auto buckets = parsed.find("buckets");
  if (!ok || !errors || !bytes || sum == parsed.end() || !sum->is_number_integer() ||
      buckets == parsed.end() || !buckets->is_array() || buckets->size() != kLiveBuckets) {
    return std::nullopt;
  }
  LiveDelta delta;
  delta.ok = *ok;
  delta.errors = *errors;
  delta.bytes = *bytes;
  delta.latency_sum_ns = sum->get<std::int64_t>();
  if (delta.latency_sum_ns < 0) {
    return std::nullopt;
  }
  std::uint64_t in_buckets = 0;
  for (std::size_t i = 0; i < kLiveBuckets; ++i) {
    const json& count = (*buckets)[i];
    if (!count.is_number_unsigned()) {
      return std::nullopt;
    }
    delta.buckets[i] = count.get<std::uint64_t>();
    if (delta.buckets[i] > std::numeric_limits<std::uint64_t>::max() - in_buckets) {
      return std::nullopt;
    }
    in_buckets += delta.buckets[i];
  }
  if (in_buckets != delta.ok) {
    return std::nullopt;
  }
  std::string series;
  if (const auto named = parsed.find("series"); named != parsed.end()) {
    if (!named->is_string() || !is_series_name(named->get_ref<const std::string&>())) {
      return std::nullopt;
    }
    series = named->get<std::string>();
  }
  return LiveLine{.delta = delta, .series = std::move(series)};
}

void LineLiveSink::add(const LiveDelta& delta) {
  const std::string line = live_line(delta);
  std::lock_guard lock(mutex_);
  write_(line);
}

}  // namespace kp
