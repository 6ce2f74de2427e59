#pragma once

// The per-second series of an fio run for the report's timeline (core/finished_series.hpp), from its
// --status-interval=1 dumps (fio_json.hpp). Each dump holds every job's cumulative values since the job
// started (since its ramp ended, once it has: fio then starts counting again), so the difference between two
// dumps is what the job did between them, by fio's own accounting, the same the final result sums:
// - I/Os completed per second: the difference of read + write total_ios over that of the job's runtime;
// - throughput: the same for io_bytes, in bits per second;
// - P50 and P99 of the completion latency (clat): from the difference of the json+ bins (fio's ~1.6 % wide
//   buckets, the same the phase's histogram is made of), so they are exact to a bucket. Unset for a second
//   with no completion.
// A dump in which a job has no latency sample (not started, or in its ramp: fio counts the ramp's I/Os but
// records no latency, then counts again from 0 when the ramp ends) or its runtime did not advance (finished)
// gives it no second; the first second after its ramp counts from the ramp's end. An interval of under 250 ms
// (fio writes its final document moments after its last dump) is added to the one before. Errors are not
// counted per second: a job that fails stops fio, and the phase says why.
//
// Placement: a job's last second ended when its last dump was written; fio's final document is written as it
// exits, so the series ends (final timestamp - last dump's timestamp) before fio's exit.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/finished_series.hpp"
#include "drivers/storage/fio_json.hpp"
#include "drivers/storage/jobs.hpp"

namespace kp::drivers::storage {

// What a job did between two documents, read and write together: I/Os, bytes, runtime, and the completion
// latency bins' difference (ns -> count).
struct FioInterval {
  std::uint64_t ios = 0;
  std::uint64_t bytes = 0;
  std::uint64_t runtime_ms = 0;
  std::map<std::int64_t, std::uint64_t> bins;
};

// One job's documents, in order, turned into what it did between them by the rules above (ramp, restart,
// finished). Shared by the series after the run and the live counts during it (fio_live.hpp), so both count
// the same seconds the same way.
class FioJobSteps {
 public:
  // What `job` (as the next document holds it) did since the previous document; nullopt when it gives no
  // interval (no latency sample yet, or its runtime did not advance).
  std::optional<FioInterval> next(const FioJobResult& job);

 private:
  struct Cumulative {
    std::uint64_t ios = 0;
    std::uint64_t bytes = 0;
    std::uint64_t runtime_ms = 0;
    std::map<std::int64_t, std::uint64_t> bins;
  };
  Cumulative previous_;
};

// A finished series and the wall-clock time it was handed over at (fio's exit): its last second ended
// series.ended_before before `at`. The storage agent carries these in its line (agent_line.hpp).
struct RecordedSeries {
  FinishedSeries series;
  WallTime at;
};

// The suffix of the series of the jobs run on --compare-to (or the emptyDir baseline), after the job's name.
inline constexpr std::string_view kCompareToSeriesSuffix = " on compare_to";

// One series per job of `set` that ran, named after the job (with `suffix`, e.g. kCompareToSeriesSuffix),
// with the job's rate (offered_iops) as its offered rate.
std::vector<FinishedSeries> fio_series(const FioOutput& output, const JobSet& set, std::string_view suffix);

}  // namespace kp::drivers::storage
