#pragma once

// A soak's record as people read it, for the console and summary.md: one summary line, and the hour-by-hour
// latency table (metric, hour, requests, P50, P99, max, and the load factor when the soak has a load
// profile), ordered by metric then hour so a drift reads down a column.

#include <string>
#include <vector>

#include "report/soak_record.hpp"

namespace kp::report {

// "soak: 3h of 24h in 14 rounds; etcd's leader watched 3h; a checkpoint every 1m; resumed once (after 2h)",
// and
// "; load profile steps: 20% from 0s, 100% from 8h" when it has one.
std::string soak_summary(const SoakRecord& soak);

// The table's headers and rows: "load factor" is a column only when the soak has a load profile.
std::vector<std::string> soak_hour_headers(const SoakRecord& soak);
std::vector<std::vector<std::string>> soak_hour_cells(const SoakRecord& soak);

// An hour's factors as the table shows them: "20%", or "20%, 100%" when a step fell within the hour.
std::string load_factors_text(const std::vector<double>& factors);

// The watches, as lines: first what each covered or why it did not watch ("watches: etcd 8.00s; nodes not
// watched: --target local: no cluster to watch; ..."), then one line per event with its time
// ("2026-12-03T11:40:05Z etcd election: election at ..."), or "no event seen", and how many were not kept.
std::vector<std::string> soak_watch_lines(const SoakRecord& soak);

}  // namespace kp::report
