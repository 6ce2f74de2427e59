#pragma once

// Live counts of a running fio for the watchers (core/live.hpp: the terminal view, /metrics): fio writes a
// status dump per second into its output file (--status-interval=1, fio_json.hpp); the storage phase follows
// that file from its wait loop and hands each job's I/Os since the previous dump over to the LiveSink, with
// their completion latencies placed into the live buckets from fio's own bins. fio counts, so the run pays
// nothing more for this than reading about one dump a second.
//
// The counts are marked LiveDelta::finished_later: when fio exits the phase hands over the exact per-second
// series (fio_series.hpp) for the report, and the timeline keeps that one. Both come from the same
// differences between dumps (FioJobSteps).
//
// Not thread-safe: one thread feeds it (the one waiting for fio).

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/fd.hpp"
#include "core/live.hpp"
#include "drivers/storage/fio_json.hpp"
#include "drivers/storage/fio_series.hpp"
#include "drivers/storage/jobs.hpp"

namespace kp::drivers::storage {

// How often the output file is read: fio writes a dump a second.
inline constexpr Duration kFollowInterval = std::chrono::seconds(1);

// What one job did between two dumps, as live counts: its latency samples (fio records one per completed
// I/O once its ramp is over) in the live buckets, each at its bin's value.
LiveDelta live_delta(const FioInterval& interval, std::string_view series);

class FioLiveFeed {
 public:
  // `set`: the jobs fio runs, each a series named as fio_series() names it (job name and `suffix`). A null
  // sink: nothing is read. `source` names the file in errors.
  FioLiveFeed(const JobSet& set, std::string_view suffix, LiveSink* sink, std::string source);

  // Hands over what the bytes fio appended (`more`) complete.
  void feed(std::string_view more);
  // Reads what fio appended to `output` since the last read, when kFollowInterval has passed since the last
  // read by `now`, or when `force`d (after fio exited). A file that is not there yet is nothing yet.
  void follow(const std::filesystem::path& output, TimePoint now, bool force = false);
  // Why the live counts stopped (a document that is not fio's JSON, a read error); the run itself goes on.
  const std::optional<Error>& stopped() const { return stopped_; }

 private:
  struct Job {
    std::string name;    // fio's
    std::string series;  // the live series
    FioJobSteps steps;
  };

  LiveSink* sink_;
  FioStatusStream stream_;
  std::vector<Job> jobs_;
  Fd file_;
  std::optional<TimePoint> last_read_;
  std::optional<Error> stopped_;
};

}  // namespace kp::drivers::storage
