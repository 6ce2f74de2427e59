#pragma once

// One phase of `kubeproof run --only PHASE` against test-private services, with a fault injected while it
// runs, and what every fault test checks afterwards: the run ended within the phase's duration plus a
// bounded grace, its verdict is clear (FAIL or INVALID with a reason, or INCOMPLETE when the driver itself
// failed on the broken server, with that error as the reason; never PASS), errors were counted, the
// reports were written whole, and no process the run started is left.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fault_support.hpp"

namespace kp::faults {

// Every phase of these plans is planned 1m and run at --duration-scale 0.05: 3 s.
inline constexpr const char* kDurationScale = "0.05";
inline constexpr Duration kPhaseDuration = std::chrono::seconds(3);
// What a phase may take beyond its duration: prepare (connections, fio's file layout, the agents), its
// drain (timeouts of requests in flight) and the reports, on a loaded 2-core CI machine.
inline constexpr Duration kGrace = std::chrono::seconds(20);
// How long a process the run started may take to go once the run has ended (see expect_nothing_left).
inline constexpr Duration kProcessExitGrace = std::chrono::seconds(2);

// A smoke plan with one phase (`phase`, its `settings` as YAML flow mapping text, "{}" for none).
std::string plan_text(std::string_view phase, std::string_view settings);

struct PhaseOutcome {
  std::optional<int> exit_code;  // nullopt: did not end in time (killed) or died of a signal
  std::optional<int> signal;
  std::string err;
  nlohmann::json report;                // stdout (--format json); null when it did not parse
  nlohmann::json phase;                 // report.phases[] of the phase; null when absent
  Duration took{0};                     // from the phase's "starting" line to exit
  std::vector<pid_t> started;           // descendants of the run seen while it ran
  std::vector<std::string> started_as;  // their command lines then (a dying process has none)
  ReportCheck files;
};

// Runs the phase in `dir` (work folder; results under dir/results). `during` runs in the test's thread once
// the phase's "starting" line is on stderr; it gets the run to find or signal its processes.
PhaseOutcome run_phase(const std::filesystem::path& dir, std::string_view phase, std::string_view settings,
                       const std::function<void(Running&)>& during = {});

// A value of the phase's row or informational measurement `metric`; nullopt when not measured.
std::optional<double> measured(const nlohmann::json& phase, std::string_view metric);

// The phase's reason and its invalid reasons, joined, for messages and checks.
std::string reasons_of(const nlohmann::json& phase);

// gtest checks shared by the fault tests (call with EXPECT semantics; returns nothing).
void expect_clear_failure(const PhaseOutcome& outcome, std::string_view phase);
void expect_nothing_left(const PhaseOutcome& outcome);

}  // namespace kp::faults
