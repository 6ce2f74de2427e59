#include "cli/measurements_file.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "config/metric_catalog.hpp"
#include "core/histogram.hpp"

namespace kp::cli {
namespace {

using nlohmann::json;

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    previous[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string unknown_metric_message(std::string_view id) {
  const config::MetricInfo* best = nullptr;
  std::size_t best_distance = 0;
  for (const config::MetricInfo& info : config::metric_catalog()) {
    std::size_t distance = edit_distance(id, info.id);
    if (best == nullptr || distance < best_distance) {
      best = &info;
      best_distance = distance;
    }
  }
  // A suggestion only for what looks like a typo; otherwise point at the list.
  if (best != nullptr && best_distance <= 3) {
    return fmt::format("unknown metric id (did you mean \"{}\"?)", best->id);
  }
  return "unknown metric id (`kubeproof criteria` lists the ids)";
}

// A value as it appeared, for messages: strings keep their quotes, numbers do not.
std::string shown(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

struct Context {
  std::string file;
  std::string fail_prefix(std::string_view path) const { return fmt::format("{}: {}: ", file, path); }
  std::unexpected<Error> fail_at(std::string_view path, std::string_view message) const {
    return fail(ErrorKind::input, fail_prefix(path) + std::string(message));
  }
};

Result<double> read_value(const Context& context, const std::string& path, const config::MetricInfo& info,
                          const json& value) {
  if (value.is_number()) {
    double number = value.get<double>();
    if (!std::isfinite(number) || number < 0) {
      return context.fail_at(path, fmt::format("must be a finite number >= 0, got {}", shown(value)));
    }
    // A ratio given as 96 almost certainly meant 96 %: refuse rather than judge 9600 %.
    if (info.quantity == Quantity::ratio && number > 1) {
      return context.fail_at(
          path, fmt::format("a ratio is a fraction from 0 to 1 (or a string such as \"96%\"), got {}",
                            shown(value)));
    }
    return number;
  }
  if (value.is_string()) {
    Result<double> parsed = parse_quantity(info.quantity, value.get<std::string>());
    if (!parsed) {
      return std::unexpected(with_context(parsed.error(), context.fail_prefix(path)));
    }
    return *parsed;
  }
  return context.fail_at(path,
                         fmt::format("must be a number in base units ({}) or a string with units, got {}",
                                     to_string(info.quantity), shown(value)));
}

Result<Measurement> read_measurement(const Context& context, const std::string& id, const json& entry) {
  std::string path = fmt::format("measurements.\"{}\"", id);
  const config::MetricInfo* info = config::find_metric(id);
  if (info == nullptr) {
    return context.fail_at(path, unknown_metric_message(id));
  }
  Measurement measurement;
  measurement.metric = id;
  measurement.source = "imported";
  if (!entry.is_object()) {
    Result<double> value = read_value(context, path, *info, entry);
    if (!value) {
      return std::unexpected(value.error());
    }
    measurement.value = *value;
    return measurement;
  }

  for (const auto& [key, field] : entry.items()) {
    if (key != "value" && key != "offered" && key != "source" && key != "note" && key != "histogram") {
      return context.fail_at(fmt::format("{}.{}", path, key),
                             "unknown key (expected value, offered, source, note, histogram)");
    }
  }
  if (!entry.contains("value")) {
    return context.fail_at(path, "missing \"value\"");
  }
  Result<double> value = read_value(context, path + ".value", *info, entry.at("value"));
  if (!value) {
    return std::unexpected(value.error());
  }
  measurement.value = *value;
  if (entry.contains("offered")) {
    // The rate an open-loop run offered: only a rate has one.
    if (info->quantity != Quantity::rate) {
      return context.fail_at(path + ".offered", fmt::format("only a rate has an offered rate; {} is a {}", id,
                                                            to_string(info->quantity)));
    }
    Result<double> offered = read_value(context, path + ".offered", *info, entry.at("offered"));
    if (!offered) {
      return std::unexpected(offered.error());
    }
    measurement.offered = *offered;
  }
  for (const char* key : {"source", "note"}) {
    if (!entry.contains(key)) {
      continue;
    }
    const json& text = entry.at(key);
    if (!text.is_string()) {
      return context.fail_at(fmt::format("{}.{}", path, key),
                             fmt::format("must be a string, got {}", shown(text)));
    }
    (std::string_view(key) == "source" ? measurement.source : measurement.note) = text.get<std::string>();
  }
  if (entry.contains("histogram")) {
    Result<Histogram> histogram = Histogram::from_json(entry.at("histogram"));
    if (!histogram) {
      return std::unexpected(with_context(histogram.error(), context.fail_prefix(path + ".histogram")));
    }
    measurement.histogram = std::move(*histogram);
  }
  return measurement;
}

Result<ImportedMeasurements> parse_document(const Context& context, const json& document) {
  if (!document.is_object()) {
    return fail(ErrorKind::input,
                fmt::format("{}: must be a JSON object with a \"measurements\" object, got {}", context.file,
                            document.type_name()));
  }
  for (const auto& [key, value] : document.items()) {
    if (key != "measurements" && key != "soak_duration" && key != "description") {
      return context.fail_at(key, "unknown key (expected measurements, soak_duration, description)");
    }
  }
  if (!document.contains("measurements")) {
    return fail(ErrorKind::input, fmt::format("{}: missing \"measurements\"", context.file));
  }
  const json& measurements = document.at("measurements");
  if (!measurements.is_object()) {
    return context.fail_at("measurements", fmt::format("must be an object of metric id -> value, got {}",
                                                       measurements.type_name()));
  }

  ImportedMeasurements imported;
  if (document.contains("soak_duration")) {
    const json& soak = document.at("soak_duration");
    Result<double> seconds =
        fail(ErrorKind::input, fmt::format("must be a duration such as \"24h\", got {}", shown(soak)));
    if (soak.is_string()) {
      seconds = parse_quantity(Quantity::duration, soak.get<std::string>());
    } else if (soak.is_number() && std::isfinite(soak.get<double>()) && soak.get<double>() >= 0) {
      seconds = soak.get<double>();  // a number is seconds, the base unit of a duration
    }
    if (!seconds) {
      return std::unexpected(with_context(seconds.error(), context.fail_prefix("soak_duration")));
    }
    // A soak is a day or so; a year bounds it well inside Duration's range (292 years of nanoseconds).
    constexpr double kMaxSoakSeconds = 365.0 * 24 * 3600;
    if (!(*seconds >= 0 && *seconds <= kMaxSoakSeconds)) {
      return context.fail_at("soak_duration",
                             fmt::format("must be a duration from 0 to 365d, got {}", shown(soak)));
    }
    imported.soak_duration = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*seconds));
  }
  if (document.contains("description")) {
    const json& description = document.at("description");
    if (!description.is_string()) {
      return context.fail_at("description", fmt::format("must be a string, got {}", shown(description)));
    }
    imported.description = description.get<std::string>();
  }

  std::map<Phase, std::vector<Measurement>> by_phase;
  for (const auto& [id, entry] : measurements.items()) {
    Result<Measurement> measurement = read_measurement(context, id, entry);
    if (!measurement) {
      return std::unexpected(measurement.error());
    }
    by_phase[config::find_metric(id)->phase].push_back(std::move(*measurement));
  }
  for (Phase phase : kFlowOrder) {
    eval::PhaseInput input;
    input.phase = phase;
    auto found = by_phase.find(phase);
    if (found == by_phase.end()) {
      input.status = eval::PhaseStatus::skipped;
      input.reason = fmt::format("no measurements for this phase in {}", context.file);
    } else {
      input.status = eval::PhaseStatus::completed;
      input.measurements = std::move(found->second);
    }
    imported.inputs.push_back(std::move(input));
  }
  return imported;
}

}  // namespace

Result<ImportedMeasurements> parse_measurements(std::string_view json_text,
                                                const std::filesystem::path& name) {
  Context context{name.string()};
  json document;
  // The object keys down to where the parser is: nlohmann's number overflow ("1e309") names the number, not
  // where it is, and the field is what a person needs to fix.
  std::vector<std::string> keys;
  const json::parser_callback_t track_key = [&keys](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth >= 1) {
      keys.resize(static_cast<std::size_t>(depth));
      keys.back() = parsed.get<std::string>();
    }
    return true;
  };
  try {
    document = json::parse(json_text, track_key);
  } catch (const json::out_of_range& error) {
    // 406 "number overflow parsing '1e309'": a number beyond a double's range, the one out_of_range the
    // parser throws.
    const std::string what = error.what();
    const std::size_t open = what.find('\'');
    const std::size_t close = what.rfind('\'');
    const std::string number =
        open != std::string::npos && close > open ? what.substr(open + 1, close - open - 1) : what;
    std::string path;
    for (const std::string& key : keys) {
      const bool quote = key.find('.') != std::string::npos;
      path += fmt::format("{}{}", path.empty() ? "" : ".", quote ? "\"" + key + "\"" : key);
    }
    return fail(ErrorKind::input,
                fmt::format("{}: {}{}must be a finite number, got {} (beyond a double's range)", context.file,
                            path, path.empty() ? "" : ": ", number));
  } catch (const json::parse_error& error) {
    // nlohmann's text starts with "[json.exception.parse_error.101] "; the rest is the useful part.
    std::string what = error.what();
    if (auto end = what.find("] "); what.starts_with("[json.exception") && end != std::string::npos) {
      what = what.substr(end + 2);
    }
    return fail(ErrorKind::input, fmt::format("{}: not valid JSON: {}", context.file, what));
  }
  try {
    return parse_document(context, document);
  } catch (const json::exception& error) {
    // The checks above make this unreachable; a message beats an escaping exception if one was missed.
    return fail(ErrorKind::input, fmt::format("{}: {}", context.file, error.what()));
  }
}

Result<ImportedMeasurements> load_measurements(const std::filesystem::path& file) {
  std::FILE* stream = std::fopen(file.c_str(), "rb");
  if (stream == nullptr) {
    return fail(ErrorKind::input, fmt::format("{}: cannot open: {}", file.string(), std::strerror(errno)));
  }
  std::string text;
  char buffer[65536];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, stream)) > 0) {
    text.append(buffer, got);
  }
  bool failed = std::ferror(stream) != 0;
  int saved = errno;
  std::fclose(stream);
  if (failed) {
    return fail(ErrorKind::input, fmt::format("{}: cannot read: {}", file.string(), std::strerror(saved)));
  }
  return parse_measurements(text, file);
}

}  // namespace kp::cli
