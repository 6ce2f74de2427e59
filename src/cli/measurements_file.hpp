#pragma once

// The measurements file `kubeproof evaluate` imports: results from another tool, or typed in by hand.
//
//   {
//     "measurements": {
//       "etcd.write.p99": "30ms",            a string with units, parsed for the metric's quantity
//       "dns.qps": 12000,                     a number in the metric's base unit (s, 1/s, ratio, bit/s, ...)
//       "api.mutating.p99": {"value": "220ms", "source": "kube-burner", "note": "...",
//                            "histogram": {...}}   the long form; histogram as in report.json (ns)
//       "dns.qps": {"value": "1k", "offered": "1k"}  a rate may say what an open-loop run offered
//     },
//     "soak_duration": "24h",                optional: how long the measured period was (checklist item 3)
//     "description": "..."                    optional, free text
//   }
//
// Every error names the file and the key and echoes the bad value, on one line:
//   `m.json: measurements."etcd.wrte.p99": unknown metric id (did you mean "etcd.write.p99"?)`

#include <filesystem>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/units.hpp"
#include "eval/evaluation.hpp"

namespace kp::cli {

struct ImportedMeasurements {
  // One input per phase in flow order; a phase without any value in the file is skipped ("no measurements for
  // this phase in <file>"), so it is shown but neither passes nor fails the run.
  std::vector<eval::PhaseInput> inputs;
  Duration soak_duration{0};
  std::string description;
};

Result<ImportedMeasurements> load_measurements(const std::filesystem::path& file);
Result<ImportedMeasurements> parse_measurements(std::string_view json_text,
                                                const std::filesystem::path& name);

}  // namespace kp::cli
