#include "drivers/net/result_series.hpp"

#include <map>

namespace kp::drivers::net {

FinishedSeries finished_series(const ClientResult& result, std::string name) {
  FinishedSeries out;
  out.phase = Phase::network;
  out.series = std::move(name);
  if (is_stream(result.spec.scenario)) {
    for (double bits : result.per_second_bps) {
      FinishedSecond second;
      second.bits_per_second = bits;
      out.seconds.push_back(second);
    }
    return out;
  }
  if (result.spec.rate) {
    out.offered = result.spec.rate->per_second;
  }
  // The snapshots count exactly per second of the window; the control thread's samples (per_second_tps) are
  // the fallback where there are none (a merged result).
  std::map<std::int64_t, const SecondSnapshot*> snapshots;
  for (const SecondSnapshot& snapshot : result.latency_series) {
    snapshots[snapshot.second] = &snapshot;
  }
  const std::size_t count = result.per_second_tps.size();
  for (std::size_t i = 0; i < count; ++i) {
    FinishedSecond second;
    second.completions = result.per_second_tps[i];
    if (auto found = snapshots.find(static_cast<std::int64_t>(i)); found != snapshots.end()) {
      second.completions = static_cast<double>(found->second->count);
      if (found->second->count > 0) {
        second.p50 = static_cast<double>(found->second->p50) / 1e9;
        second.p99 = static_cast<double>(found->second->p99) / 1e9;
      }
    } else if (!snapshots.empty()) {
      second.completions = 0;  // the snapshots are complete: a second without one had no transaction
    }
    out.seconds.push_back(second);
  }
  return out;
}

}  // namespace kp::drivers::net
