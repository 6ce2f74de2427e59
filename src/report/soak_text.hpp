#pragma once

// A soak's record as people read it, for the console and summary.md: one summary line, and the hour-by-hour
// latency table (hour, metric, requests, P50, P99, max), ordered by metric then hour so a drift reads down a
// column.

#include <array>
#include <string>
#include <vector>

#include "report/soak_record.hpp"

namespace kp::report {

// "soak: 3h of 24h in 14 rounds; etcd watched 1h10m; a checkpoint every 1m; resumed once (after 2h)"
std::string soak_summary(const SoakRecord& soak);

inline constexpr std::array<std::string_view, 6> kSoakHourHeaders = {"metric", "hour", "count",
                                                                     "P50",    "P99",  "max"};
std::vector<std::array<std::string, 6>> soak_hour_cells(const SoakRecord& soak);

}  // namespace kp::report
