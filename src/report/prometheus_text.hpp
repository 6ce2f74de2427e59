#pragma once

// Writing the Prometheus text exposition format (0.0.4), shared by the final metrics.prom and the live
// endpoint of `run --metrics-listen`. Internal to src/report.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

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

}  // namespace kp::report::detail
