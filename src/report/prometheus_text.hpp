#pragma once

// Writing the Prometheus text exposition format (0.0.4), shared by the final metrics.prom and the live
// endpoint of `run --metrics-listen`. Internal to src/report.

#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/measurement.hpp"
#include "core/phase.hpp"

namespace kp::report::detail {

// A label value escaped as the format asks (backslash, double quote, newline); invalid UTF-8 replaced.
std::string prometheus_label_value(std::string_view text);
// A sample value: shortest round-trip decimal, or NaN, +Inf, -Inf.
std::string prometheus_sample_value(double value);

class Exposition {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  // `type`: gauge, counter or histogram.
  void family(std::string_view name, std::string_view help, std::string_view type = "gauge");
  void sample(std::string_view name, Labels labels, double value);
  // A sample with one label more than `labels` (a histogram's `le`).
  void sample(std::string_view name, Labels labels, std::pair<std::string_view, std::string_view> extra,
              double value);
  std::string take() { return std::move(out_); }

 private:
  void labels_text(Labels labels, const std::pair<std::string_view, std::string_view>* extra);
  std::string out_;
};

// One phase's measurements as samples of `family` labelled {id, phase, unit}, in base units: the values, or
// with `offered` the rates an open-loop run offered (measurements without one are left out). A metric id
// already in `seen` is skipped, so a series appears once and the first value wins.
void measurement_samples(Exposition& out, std::string_view family, Phase phase,
                         const std::vector<Measurement>& measurements, bool offered,
                         std::set<std::string>& seen);

}  // namespace kp::report::detail
