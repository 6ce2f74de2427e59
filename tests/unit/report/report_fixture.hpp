#pragma once

// A RunReport with one of everything a report must show: PASS, CONDITIONAL PASS (with and without a critical
// level), FAIL, NOT MEASURED, a SKIPPED phase, an informational measurement, a histogram, a metric judged by
// two tables, and text that needs escaping in XML and Markdown.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "config/criteria.hpp"
#include "eval/evaluation.hpp"
#include "report/run_report.hpp"

namespace kp::report::testing {

inline config::CriteriaRow make_row(std::string metric, std::string table, std::string label,
                                    config::Comparison comparison, std::optional<double> target,
                                    std::optional<double> critical, std::string unit) {
  config::CriteriaRow row;
  row.metric = std::move(metric);
  row.table = std::move(table);
  row.component = "component";
  row.label = std::move(label);
  row.comparison = comparison;
  row.target = target;
  row.critical = critical;
  row.unit = std::move(unit);
  row.reference = "seed";
  return row;
}

inline Measurement measure(std::string metric, double value) {
  Measurement measurement;
  measurement.metric = std::move(metric);
  measurement.value = value;
  measurement.source = "test";
  return measurement;
}

inline std::vector<config::CriteriaRow> fixture_rows() {
  using config::Comparison;
  std::vector<config::CriteriaRow> rows = {
      make_row("etcd.write.p99", "Control Plane", "Write latency P99", Comparison::less, 0.025, 0.050, "ms"),
      make_row("etcd.read.p99", "Control Plane", "Read latency <P99> & \"quoted\"", Comparison::less, 0.010,
               0.025, "ms"),
      make_row("api.mutating.p99", "Kubernetes SLO", "Mutating API latency (P99)", Comparison::less_equal,
               1.0, 1.0, "ms"),
      make_row("api.mutating.p99", "Control Plane", "Mutating P99", Comparison::less, 0.5, 1.0, "ms"),
      make_row("dns.qps", "Data Plane", "Query rate | pipes", Comparison::greater, 10000, 5000, "QPS"),
      make_row("storage.randread_4k.iops", "Storage", "Random 4K read IOPS", Comparison::greater, 10000,
               std::nullopt, "IOPS"),
      make_row("ingress.rps", "Ingress", "Requests/sec", Comparison::greater, 10000, std::nullopt, "RPS"),
  };
  rows[5].tier = config::TierRef{"storage_tier", "ssd"};
  rows[6].tier = config::TierRef{"cluster_size", "small"};
  return rows;
}

// The histogram behind etcd.write.p99: 1..1000 us.
inline Histogram fixture_histogram() {
  Histogram histogram;
  for (std::int64_t us = 1; us <= 1000; ++us) {
    histogram.record(us * 1000);
  }
  return histogram;
}

inline RunReport fixture_report(double duration_scale = 1.0) {
  std::vector<eval::PhaseInput> inputs;
  auto add = [&inputs](Phase phase, eval::PhaseStatus status, std::string reason,
                       std::vector<Measurement> measurements) {
    eval::PhaseInput input;
    input.phase = phase;
    input.status = status;
    input.reason = std::move(reason);
    input.measurements = std::move(measurements);
    inputs.push_back(std::move(input));
  };
  Measurement write = measure("etcd.write.p99", 0.012);  // PASS
  write.histogram = fixture_histogram();
  write.note = "client side <corrected> & \"open loop\"";
  add(Phase::etcd, eval::PhaseStatus::completed, "", {write, measure("etcd.read.p99", 0.030)});  // read: FAIL
  add(Phase::api, eval::PhaseStatus::completed, "",
      {measure("api.mutating.p99", 0.7)});  // SLO PASS, CP CONDITIONAL
  add(Phase::network, eval::PhaseStatus::skipped, "no driver for \"network\" <yet> & more", {});
  add(Phase::dns, eval::PhaseStatus::completed, "",
      {measure("dns.qps", 12000), measure("dns.cache_hit_ratio", 0.95)});  // PASS + informational
  add(Phase::storage, eval::PhaseStatus::completed, "",
      {measure("storage.randread_4k.iops", 8000)});           // CONDITIONAL, no critical level
  add(Phase::ingress, eval::PhaseStatus::completed, "", {});  // NOT MEASURED

  eval::EvaluationOptions options;
  RunReport report;
  report.meta.tool_version = "0.1.0-test";
  report.meta.command = "run";
  report.meta.profile = "smoke";
  report.meta.plan_name = "smoke";
  report.meta.target = "local";
  report.meta.criteria_file = "criteria/default.yaml";
  report.meta.duration_scale = duration_scale;
  report.meta.started = WallTime{} + std::chrono::seconds(1'795'820'712);  // 2026-11-27T23:05:12Z
  report.meta.finished = report.meta.started + std::chrono::seconds(90);
  report.timings[Phase::etcd] = {report.meta.started, report.meta.started + std::chrono::seconds(30)};
  report.evaluation = eval::evaluate(inputs, fixture_rows(), options);
  report.inputs = std::move(inputs);
  return report;
}

// A fresh folder under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kp-report-test-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    path_ = made == nullptr ? std::filesystem::path() : std::filesystem::path(made);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_file(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

struct CommandOutput {
  int status = -1;
  std::string output;
};

// Runs a shell command and captures stdout and stderr.
inline CommandOutput run_command(const std::string& command) {
  CommandOutput result;
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    return result;
  }
  std::array<char, 4096> buffer{};
  std::size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), got);
  }
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline std::vector<std::string> folder_entries(const std::filesystem::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace kp::report::testing
