#include "drivers/storage/agent_line.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <type_traits>

#include "core/histogram.hpp"
#include "core/measurement_json.hpp"

namespace kp::drivers::storage {
namespace {

// An optional member of the agent's line: absent or null gives the default; a member of another type is a
// protocol error naming it (nlohmann's value() would throw, and the line comes from a pod's log).
template <typename T>
Result<T> optional_member(const nlohmann::json& object, std::string_view where, const char* key, T fallback,
                          bool (nlohmann::json::*is_type)() const noexcept) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return fallback;
  }
  if (!((*it).*is_type)()) {
    return fail(ErrorKind::protocol,
                fmt::format("{}{}: must be a {}, got {}", where, key,
                            std::is_same_v<T, bool> ? "boolean" : "string", it->dump().substr(0, 60)));
  }
  return it->template get<T>();
}

Result<std::string> optional_string(const nlohmann::json& object, std::string_view where, const char* key) {
  return optional_member<std::string>(object, where, key, std::string(), &nlohmann::json::is_string);
}

Result<RecordedSeries> read_series(const nlohmann::json& item, std::size_t index) {
  const std::string where = fmt::format("series[{}]", index);
  auto bad = [&](std::string_view field, std::string_view what, const nlohmann::json& got) {
    return fail(ErrorKind::protocol,
                fmt::format("{}{}: must be {}, got {}", where, field, what, got.dump().substr(0, 60)));
  };
  if (!item.is_object()) {
    return bad("", "an object", item);
  }
  RecordedSeries out;
  out.series.phase = Phase::storage;
  const nlohmann::json& name = item.contains("series") ? item["series"] : nlohmann::json();
  if (!name.is_string()) {
    return bad(".series", "a string", name);
  }
  out.series.series = name.get<std::string>();
  if (item.contains("offered") && !item["offered"].is_null()) {
    if (!item["offered"].is_number() || item["offered"].get<double>() < 0) {
      return bad(".offered", "a rate >= 0 or null", item["offered"]);
    }
    out.series.offered = item["offered"].get<double>();
  }
  const nlohmann::json& ended = item.contains("ended_at_ms") ? item["ended_at_ms"] : nlohmann::json();
  // Range-checked before it becomes a time point: milliseconds to the clock's nanoseconds would overflow.
  constexpr std::int64_t kLatestMs = 10'000'000'000'000;  // the year 2286
  if (!ended.is_number_integer() || (ended.is_number_unsigned() && ended.get<std::uint64_t>() > kLatestMs) ||
      ended.get<std::int64_t>() < 0 || ended.get<std::int64_t>() > kLatestMs) {
    return bad(".ended_at_ms", "a Unix time in ms", ended);
  }
  out.at = WallTime(std::chrono::milliseconds(ended.get<std::int64_t>()));
  const nlohmann::json& seconds = item.contains("seconds") ? item["seconds"] : nlohmann::json();
  if (!seconds.is_array()) {
    return bad(".seconds", "a list", seconds);
  }
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    const nlohmann::json& one = seconds[i];
    auto number = [&](std::size_t k) { return one[k].is_number() && one[k].get<double>() >= 0; };
    auto latency = [&](std::size_t k) { return one[k].is_null() || number(k); };
    if (!one.is_array() || one.size() != 4 || !number(0) || !number(1) || !latency(2) || !latency(3)) {
      return bad(fmt::format(".seconds[{}]", i), "[I/Os per second, bits per second, P50 ns, P99 ns]", one);
    }
    FinishedSecond second;
    second.completions = one[0].get<double>();
    second.bits_per_second = one[1].get<double>();
    if (!one[2].is_null()) {
      second.p50 = one[2].get<double>() / 1e9;
    }
    if (!one[3].is_null()) {
      second.p99 = one[3].get<double>() / 1e9;
    }
    out.series.seconds.push_back(second);
  }
  return out;
}

}  // namespace

LineSeries line_series(const std::vector<RecordedSeries>& series, std::size_t max_seconds) {
  LineSeries out;
  std::size_t carried = 0;
  for (const RecordedSeries& one : series) {
    nlohmann::json seconds = nlohmann::json::array();
    for (const FinishedSecond& second : one.series.seconds) {
      if (carried == max_seconds) {
        ++out.left_out;
        continue;
      }
      ++carried;
      // Rounded to what a chart shows: a tenth of an I/O, a bit, a nanosecond; full doubles would double
      // the line.
      auto ns = [](std::optional<double> seconds) {
        return seconds ? nlohmann::json(std::llround(*seconds * 1e9)) : nlohmann::json(nullptr);
      };
      seconds.push_back(nlohmann::json::array({std::round(second.completions.value_or(0) * 10) / 10,
                                               std::llround(second.bits_per_second.value_or(0)),
                                               ns(second.p50), ns(second.p99)}));
    }
    if (seconds.empty()) {
      continue;
    }
    const WallTime ended = one.at - std::chrono::duration_cast<WallTime::duration>(one.series.ended_before);
    out.json.push_back(nlohmann::json{
        {"series", one.series.series},
        {"offered", one.series.offered ? nlohmann::json(*one.series.offered) : nlohmann::json(nullptr)},
        {"ended_at_ms",
         std::chrono::duration_cast<std::chrono::milliseconds>(ended.time_since_epoch()).count()},
        {"seconds", std::move(seconds)}});
  }
  return out;
}

Result<AgentResult> parse_agent_line(const nlohmann::json& line) {
  if (!line.is_object() || !line.contains("kind") || line["kind"] != kAgentLineKind) {
    return fail(ErrorKind::protocol, fmt::format("not a {} line", kAgentLineKind));
  }
  AgentResult out;
  Result<std::string> fio_version = optional_string(line, "", "fio_version");
  if (!fio_version) {
    return std::unexpected(fio_version.error());
  }
  out.fio_version = std::move(*fio_version);
  if (!line.contains("measurements") || !line["measurements"].is_array()) {
    // An agent that failed early prints its error in the same kind of line.
    Result<std::string> error = optional_string(line, "", "error");
    if (!error) {
      return std::unexpected(error.error());
    }
    return fail(ErrorKind::protocol, error->empty() ? std::string("no \"measurements\"") : *error);
  }
  for (const nlohmann::json& item : line["measurements"]) {
    Result<Measurement> m = measurement_from_json(item);
    if (!m) {
      return std::unexpected(m.error());
    }
    out.measurements.push_back(std::move(*m));
  }
  auto strings = [&](std::string_view key, std::vector<std::string>& into) {
    if (line.contains(key) && line[key].is_array()) {
      for (const nlohmann::json& item : line[key]) {
        if (item.is_string()) {
          into.push_back(item.get<std::string>());
        }
      }
    }
  };
  strings("warnings", out.warnings);
  strings("invalid_reasons", out.invalid_reasons);
  strings("notes", out.notes);
  if (line.contains("comparison") && line["comparison"].is_array()) {
    out.comparison = line["comparison"];
  }
  Result<bool> cancelled = optional_member<bool>(line, "", "cancelled", false, &nlohmann::json::is_boolean);
  if (!cancelled) {
    return std::unexpected(cancelled.error());
  }
  out.cancelled = *cancelled;
  if (line.contains("series") && !line["series"].is_null()) {
    if (!line["series"].is_array()) {
      return fail(ErrorKind::protocol,
                  fmt::format("series: must be a list, got {}", line["series"].dump().substr(0, 60)));
    }
    for (std::size_t i = 0; i < line["series"].size(); ++i) {
      Result<RecordedSeries> one = read_series(line["series"][i], i);
      if (!one) {
        return std::unexpected(one.error());
      }
      out.series.push_back(std::move(*one));
    }
  }
  return out;
}

}  // namespace kp::drivers::storage
