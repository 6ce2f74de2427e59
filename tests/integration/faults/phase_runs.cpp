#include "phase_runs.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include <fmt/format.h>

namespace kp::faults {

std::string plan_text(std::string_view phase, std::string_view settings) {
  // The large cluster tier: the spec gives the small tier's ingress rows a target and no critical level, so
  // there even a dead ingress is at worst a CONDITIONAL PASS. Capacities as the shipped smoke plan's; at its
  // 10 % load the phases offer 550 etcd ops/s, 1100 DNS queries/s, 1100 HTTP requests/s.
  return fmt::format(R"(name: faults
type: smoke
target: local
criteria: {{storage_tier: ssd, cluster_size: large, pod_images: cached}}
capacity:
  etcd_ops: 5.5k
  dns_qps: 11k
  ingress_rps: 11k
  ingress_connection_rate: 5.5k/s
  pod_network: 1Gbps
phases:
  - phase: {}
    duration: 1m
    load: 10%
    settings: {}
)",
                     phase, settings);
}

PhaseOutcome run_phase(const std::filesystem::path& dir, std::string_view phase, std::string_view settings,
                       const std::function<void(Running&)>& during) {
  PhaseOutcome outcome;
  // `run --lab-dir` wants an existing folder, also when the phase's server is a peer of the test's own.
  std::filesystem::create_directories(dir / "lab");
  {
    std::ofstream plan(dir / "plan.yaml");
    plan << plan_text(phase, settings);
  }
  Running run(dir, {"run", "--plan", (dir / "plan.yaml").string(), "--only", std::string(phase),
                    "--duration-scale", kDurationScale, "--lab-dir", (dir / "lab").string(), "--results",
                    (dir / "results").string(), "--format", "json"});
  const std::string starting = fmt::format("[{}] starting", phase);
  if (!run.wait_for_stderr(starting, std::chrono::seconds(60))) {
    outcome.exit_code = run.wait(std::chrono::seconds(10));
    outcome.err = run.err();
    return outcome;
  }
  const TimePoint start = real_clock().now();
  if (during) {
    during(run);
  }
  for (pid_t child : descendants_of(run.pid())) {
    outcome.started.push_back(child);
    outcome.started_as.push_back(cmdline_of(child));
  }
  outcome.exit_code = run.wait(kPhaseDuration + kGrace);
  outcome.signal = run.signalled();
  outcome.took = real_clock().now() - start;
  outcome.err = run.err();
  outcome.report = nlohmann::json::parse(run.out(), nullptr, false);
  if (outcome.report.is_discarded()) {
    outcome.report = nullptr;
  } else {
    for (const nlohmann::json& entry : outcome.report.value("phases", nlohmann::json::array())) {
      if (entry.value("phase", "") == phase) {
        outcome.phase = entry;
      }
    }
  }
  outcome.files = check_report(dir / "results");
  return outcome;
}

std::optional<double> measured(const nlohmann::json& phase, std::string_view metric) {
  if (!phase.is_object()) {
    return std::nullopt;
  }
  for (const char* key : {"rows", "informational"}) {
    for (const nlohmann::json& m : phase.value(key, nlohmann::json::array())) {
      if (m.value("metric", "") != metric) {
        continue;
      }
      const nlohmann::json value =
          m.contains("measured") ? m["measured"] : m.value("value", nlohmann::json());
      if (value.is_number()) {
        return value.get<double>();
      }
    }
  }
  return std::nullopt;
}

std::string reasons_of(const nlohmann::json& phase) {
  if (!phase.is_object()) {
    return "";
  }
  std::string text =
      phase.value("reason", nlohmann::json()).is_string() ? phase["reason"].get<std::string>() : "";
  for (const nlohmann::json& reason : phase.value("invalid_reasons", nlohmann::json::array())) {
    text += (text.empty() ? "" : "; ") + reason.get<std::string>();
  }
  return text;
}

void expect_clear_failure(const PhaseOutcome& outcome, std::string_view phase) {
  ASSERT_TRUE(outcome.exit_code.has_value())
      << "the run did not end within the phase plus " << kGrace.count() / 1'000'000'000 << " s (signal "
      << outcome.signal.value_or(0) << "); stderr:\n"
      << outcome.err;
  EXPECT_LT(outcome.took, kPhaseDuration + kGrace);
  // 1 FAIL, 4 INVALID / INCOMPLETE: never 0 PASS nor 3 CONDITIONAL PASS.
  EXPECT_TRUE(*outcome.exit_code == 1 || *outcome.exit_code == 4)
      << "exit " << *outcome.exit_code << "; stderr:\n"
      << outcome.err;
  ASSERT_TRUE(outcome.phase.is_object()) << "no " << phase << " phase in the report; stderr:\n"
                                         << outcome.err;
  // A server that is broken from the first byte fails the driver's prepare (or its run) outright: the phase
  // is then an "error", INCOMPLETE with that error as its reason, which is as clear and exits 4 as INVALID.
  const std::string verdict = outcome.phase.value("verdict", "");
  const bool driver_error = verdict == "INCOMPLETE" && outcome.phase.value("status", "") == "error";
  EXPECT_TRUE(verdict == "FAIL" || verdict == "INVALID" || driver_error)
      << phase << " verdict " << verdict << " (" << reasons_of(outcome.phase) << "); stderr:\n"
      << outcome.err;
  EXPECT_FALSE(reasons_of(outcome.phase).empty()) << outcome.phase.dump(1);
  EXPECT_TRUE(outcome.files.complete) << outcome.files.problem;
  EXPECT_EQ(outcome.files.exit_code, *outcome.exit_code);
}

void expect_nothing_left(const PhaseOutcome& outcome) {
  // A run that quits at once (a second Ctrl-C) leaves its agents to PR_SET_PDEATHSIG's SIGKILL, which the
  // kernel finishes shortly after the parent is gone (closing an agent's sockets takes a moment): so each
  // process gets a short, bounded time to go rather than being judged the instant the run ended.
  for (std::size_t i = 0; i < outcome.started.size(); ++i) {
    EXPECT_TRUE(gone_within(outcome.started[i], kProcessExitGrace))
        << "pid " << outcome.started[i] << " (" << outcome.started_as[i] << ") outlived the run by "
        << kProcessExitGrace.count() / 1'000'000 << " ms";
  }
}

}  // namespace kp::faults
