#include "report/report_text.hpp"

#include <fmt/format.h>
#include <cmath>
#include <ctime>

#include "config/metric_catalog.hpp"

namespace kp::report::detail {

Quantity quantity_of(std::string_view metric) {
  const config::MetricInfo* info = config::find_metric(metric);
  return info == nullptr ? Quantity::count : info->quantity;
}

std::string_view base_unit(Quantity quantity) {
  switch (quantity) {
    case Quantity::duration:
      return "s";
    case Quantity::rate:
      return "1/s";
    case Quantity::ratio:
      return "ratio";
    case Quantity::bandwidth:
      return "bit/s";
    case Quantity::count:
      return "count";
    case Quantity::size:
      return "B";
  }
  return "count";
}

std::string display_unit_of(const config::CriteriaRow& row) {
  if (!row.unit.empty()) {
    return row.unit;
  }
  const config::MetricInfo* info = config::find_metric(row.metric);
  return info == nullptr ? std::string() : std::string(info->display_unit);
}

std::string format_value(std::string_view metric, double value, std::string_view display_unit) {
  if (display_unit.empty()) {
    const config::MetricInfo* info = config::find_metric(metric);
    if (info != nullptr) {
      display_unit = info->display_unit;
    }
  }
  return format_quantity(quantity_of(metric), value, display_unit);
}

namespace {

// Up to six significant digits, no trailing zeros: 25 -> "25", 0.5 -> "0.5", 1e-4 -> "0.0001".
std::string compact(double value) {
  return fmt::format("{:.6g}", value);
}

std::string compact_duration(double seconds) {
  double magnitude = std::fabs(seconds);
  if (magnitude >= 60 && std::fmod(seconds, 60) == 0) {
    return compact(seconds / 60) + "m";
  }
  if (magnitude >= 1 || magnitude == 0) {
    return compact(seconds) + "s";
  }
  if (magnitude >= 1e-3) {
    return compact(seconds * 1e3) + "ms";
  }
  if (magnitude >= 1e-6) {
    return compact(seconds * 1e6) + "us";
  }
  return compact(seconds * 1e9) + "ns";
}

std::string compact_rate(double per_second, std::string_view display_unit) {
  // The seed writes "> 1000" and "> 500" in full but "5k", "10k", "50k" from 5,000 up.
  double magnitude = std::fabs(per_second);
  std::string number;
  if (magnitude >= 1e6) {
    number = compact(per_second / 1e6) + "M";
  } else if (magnitude >= 5e3) {
    number = compact(per_second / 1e3) + "k";
  } else {
    number = compact(per_second);
  }
  if (display_unit.empty() || display_unit == "/s") {
    return number + "/s";
  }
  return fmt::format("{} {}", number, display_unit);
}

std::optional<double> bandwidth_factor(std::string_view unit) {
  if (unit == "bps") {
    return 1.0;
  }
  if (unit == "kbps") {
    return 1e3;
  }
  if (unit == "Mbps") {
    return 1e6;
  }
  if (unit == "Gbps") {
    return 1e9;
  }
  if (unit == "Tbps") {
    return 1e12;
  }
  if (unit == "kB/s" || unit == "KB/s") {
    return 8e3;
  }
  if (unit == "MB/s") {
    return 8e6;
  }
  if (unit == "GB/s") {
    return 8e9;
  }
  return std::nullopt;
}

}  // namespace

std::string format_threshold(std::string_view metric, double value, std::string_view display_unit) {
  if (!std::isfinite(value)) {
    return format_value(metric, value, display_unit);
  }
  switch (quantity_of(metric)) {
    case Quantity::duration:
      return compact_duration(value);
    case Quantity::rate:
      return compact_rate(value, display_unit);
    case Quantity::ratio:
      return compact(value * 100) + "%";
    case Quantity::bandwidth:
      if (auto factor = bandwidth_factor(display_unit)) {
        return compact(value / *factor) + std::string(display_unit);
      }
      return format_value(metric, value, display_unit);
    case Quantity::count:
      return display_unit.empty() ? compact(value) : fmt::format("{} {}", compact(value), display_unit);
    case Quantity::size:
      return format_value(metric, value, display_unit);
  }
  return compact(value);
}

std::string format_level(const config::CriteriaRow& row, std::optional<double> level) {
  if (!level) {
    return {};
  }
  return fmt::format("{} {}", config::to_string(row.comparison),
                     format_threshold(row.metric, *level, display_unit_of(row)));
}

std::string_view status_name(eval::PhaseStatus status) {
  return eval::to_string(status);
}

bool is_set(WallTime time) {
  return time != WallTime{};
}

namespace {

std::string format_utc(WallTime time, const char* pattern) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm parts{};
  ::gmtime_r(&seconds, &parts);
  char buffer[64];
  std::size_t length = std::strftime(buffer, sizeof buffer, pattern, &parts);
  return std::string(buffer, length);
}

}  // namespace

std::string iso_utc(WallTime time) {
  if (!is_set(time)) {
    return {};
  }
  return format_utc(time, "%Y-%m-%dT%H:%M:%SZ");
}

std::string compact_utc(WallTime time) {
  return format_utc(time, "%Y%m%dT%H%M%SZ");
}

double seconds_between(WallTime from, WallTime to) {
  if (!is_set(from) || !is_set(to)) {
    return 0;
  }
  return std::chrono::duration<double>(to - from).count();
}

std::string tiers_text(const config::TierSelection& tiers) {
  std::string text;
  for (const auto& [group, name] : tiers.chosen) {
    if (!text.empty()) {
      text += ", ";
    }
    text += fmt::format("{}={}", group, name);
  }
  return text;
}

std::string duration_scale_note(const RunMeta& meta) {
  if (meta.duration_scale == 1.0) {
    return {};
  }
  return fmt::format(
      "DURATIONS SHORTENED: every phase ran for {:g}x its planned duration (--duration-scale {:g}); "
      "this is a quick run, not a full-length {} test",
      meta.duration_scale, meta.duration_scale, meta.profile);
}

std::string continue_on_fail_note(const RunMeta& meta) {
  if (!meta.continue_on_fail) {
    return {};
  }
  return "--continue-on-fail: phases above a failed phase ran anyway; their numbers stand on a failed "
         "foundation";
}

std::string row_name(const config::CriteriaRow& row) {
  return fmt::format("{} [{}]", row.metric, row.table);
}

const eval::PhaseInput* input_of(const RunReport& report, Phase phase) {
  for (const eval::PhaseInput& input : report.inputs) {
    if (input.phase == phase) {
      return &input;
    }
  }
  return nullptr;
}

const std::vector<Measurement>& measurements_of(const RunReport& report, Phase phase) {
  static const std::vector<Measurement> kNone;
  const eval::PhaseInput* input = input_of(report, phase);
  return input == nullptr ? kNone : input->measurements;
}

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    if (lead < 0x80U) {
      length = 1;
    } else if (lead >= 0xC2U && lead <= 0xDFU) {
      length = 2;
    } else if (lead >= 0xE0U && lead <= 0xEFU) {
      length = 3;
    } else if (lead >= 0xF0U && lead <= 0xF4U) {
      length = 4;
    }
    bool ok = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; ok && k < length; ++k) {
      ok = (static_cast<unsigned char>(text[i + k]) & 0xC0U) == 0x80U;
    }
    if (ok && length >= 3) {
      // Reject overlong forms, UTF-16 surrogates and code points above U+10FFFF.
      auto second = static_cast<unsigned char>(text[i + 1]);
      ok = !(lead == 0xE0U && second < 0xA0U) && !(lead == 0xEDU && second >= 0xA0U) &&
           !(lead == 0xF0U && second < 0x90U) && !(lead == 0xF4U && second >= 0x90U);
    }
    if (ok) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (char c : text) {
    // Count every byte except UTF-8 continuation bytes (10xxxxxx).
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) {
      ++width;
    }
  }
  return width;
}

std::string markup_escape(std::string_view text, MarkupPlace place) {
  const bool attribute = place == MarkupPlace::attribute;
  std::string out;
  out.reserve(text.size());
  for (char c : valid_utf8(text)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\n':
        out += attribute ? "&#10;" : "\n";
        break;
      case '\t':
        out += attribute ? "&#9;" : "\t";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) {
          out += c;
        }
        break;
    }
  }
  return out;
}

}  // namespace kp::report::detail
