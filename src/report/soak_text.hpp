#pragma once

// A soak's record as people read it, for the console and summary.md: one summary line, and the hour-by-hour
// latency table (hour, metric, requests, P50, P99, max), ordered by metric then hour so a drift reads down a
// column.

#include <array>
#include <string>
#include <vector>

#include "report/soak_record.hpp"

namespace kp::report {

// "soak: 3h of 24h in 14 rounds; etcd's leader watched 3h; a checkpoint every 1m; resumed after 2h"
std::string soak_summary(const SoakRecord& soak);

inline constexpr std::array<std::string_view, 6> kSoakHourHeaders = {"metric", "hour", "count",
                                                                     "P50",    "P99",  "max"};
std::vector<std::array<std::string, 6>> soak_hour_cells(const SoakRecord& soak);

// The watches, as lines: first what each covered or why it did not watch ("watches: etcd 8.00s; nodes not
// watched: --target local: no cluster to watch; ..."), then one line per event with its time
// ("2026-12-03T11:40:05Z etcd election: election at ..."), or "no event seen", and how many were not kept.
std::vector<std::string> soak_watch_lines(const SoakRecord& soak);

}  // namespace kp::report
