#include "report/prometheus_text.hpp"

#include <fmt/format.h>
#include <cmath>

#include "report/report_text.hpp"

namespace kp::report::detail {

std::string prometheus_label_value(std::string_view text) {
  std::string out;
  for (char c : valid_utf8(text)) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string prometheus_sample_value(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  return fmt::format("{}", value);
}

void Exposition::family(std::string_view name, std::string_view help, std::string_view type) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Exposition::sample(std::string_view name, Labels labels, double value) {
  out_ += name;
  labels_text(labels, nullptr);
  out_ += fmt::format(" {}\n", prometheus_sample_value(value));
}

void Exposition::sample(std::string_view name, Labels labels,
                        std::pair<std::string_view, std::string_view> extra, double value) {
  out_ += name;
  labels_text(labels, &extra);
  out_ += fmt::format(" {}\n", prometheus_sample_value(value));
}

void Exposition::labels_text(Labels labels, const std::pair<std::string_view, std::string_view>* extra) {
  if (labels.size() == 0 && extra == nullptr) {
    return;
  }
  out_ += '{';
  bool first = true;
  auto add = [&](std::string_view key, std::string_view value) {
    out_ += fmt::format("{}{}=\"{}\"", first ? "" : ",", key, prometheus_label_value(value));
    first = false;
  };
  for (const auto& [key, value] : labels) {
    add(key, value);
  }
  if (extra != nullptr) {
    add(extra->first, extra->second);
  }
  out_ += '}';
}

void measurement_samples(Exposition& out, std::string_view family, Phase phase,
                         const std::vector<Measurement>& measurements, bool offered,
                         std::set<std::string>& seen) {
  for (const Measurement& measurement : measurements) {
    if ((offered && !measurement.offered) || !seen.insert(measurement.metric).second) {
      continue;
    }
    const std::string unit(base_unit(quantity_of(measurement.metric)));
    out.sample(family, {{"id", measurement.metric}, {"phase", to_string(phase)}, {"unit", unit}},
               offered ? *measurement.offered : measurement.value);
  }
}

}  // namespace kp::report::detail
