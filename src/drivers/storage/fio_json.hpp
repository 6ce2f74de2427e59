#pragma once

// fio's JSON output (`--output-format=json` or `json+`, fio 3.x), read defensively: fio writes its own error
// lines ("fio: ENOSPC on laying out file, stopping") into the output file before the JSON, a killed fio
// leaves it truncated, and a job that failed still appears with its errno. With `--status-interval` the file
// holds a status dump (a whole document of cumulative values) per interval before the final document: the
// final one is the result, the earlier ones are kept for the per-second series (fio_series.hpp). Every error
// names the source, the job and the field: `fio output /tmp/x/volume.json: jobs[1] "randwrite-4k":
// write.clat_ns.N: must be a number, got "x"`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/histogram.hpp"

namespace kp::drivers::storage {

struct LatencyStats {
  std::uint64_t samples = 0;  // fio's N
  double min_ns = 0;
  double max_ns = 0;
  double mean_ns = 0;
  // (percent, ns), ascending by percent, as fio computed them (absent when N is 0).
  std::vector<std::pair<double, double>> percentiles;
  // The whole distribution, from json+ "bins" (fio's own buckets, ~1.6 % wide), for merging across agents.
  std::optional<Histogram> histogram;
  // The same bins as fio wrote them, (ns, count) ascending by ns: status dumps are subtracted bin by bin.
  std::vector<std::pair<std::int64_t, std::uint64_t>> bins;

  // fio's value at exactly `percent` (it reports a fixed list that includes 50, 90, 99, 99.9).
  std::optional<double> percentile_ns(double percent) const;
};

struct DirectionStats {
  std::uint64_t io_bytes = 0;
  std::uint64_t total_ios = 0;
  double iops = 0;
  double bw_bytes = 0;  // bytes per second
  std::uint64_t runtime_ms = 0;
  LatencyStats clat;  // completion latency: submission to completion, fio's "clat_ns"
};

struct FioJobResult {
  std::size_t index = 0;  // position in "jobs", for messages
  std::string name;
  int error = 0;  // errno of the job's first error, 0 when it ran cleanly
  DirectionStats read;
  DirectionStats write;
  std::optional<LatencyStats> sync;  // fsync/fdatasync latency, fio's "sync.lat_ns"
};

// One --status-interval dump: every job's cumulative values at that moment.
struct FioStatus {
  std::int64_t timestamp_ms = 0;  // fio's "timestamp_ms": when it wrote the dump (Unix time)
  std::vector<FioJobResult> jobs;
};

struct FioOutput {
  std::string fio_version;            // "fio-3.33"
  std::vector<std::string> messages;  // the lines fio wrote outside its JSON ("fio: ..."), in order
  std::vector<FioJobResult> jobs;
  std::int64_t timestamp_ms = 0;  // when fio wrote the final document; 0 when it has none
  std::vector<FioStatus> status;  // the status dumps before the final document, in order

  const FioJobResult* find(std::string_view name) const;
};

// Parses fio's output. `source` names it in messages ("fio output /tmp/x/volume.json"). Errors are
// ErrorKind::protocol; text that is cut short says so and where: `... is truncated or not JSON at byte 5123,
// inside jobs[1] "randwrite-4k" at write.clat_ns.percentile: ...`. Status dumps before the final document
// are read like it; the last document is the result (a killed fio's cut-short last document is an error,
// never replaced by an earlier dump).
Result<FioOutput> parse_fio_output(std::string_view text, std::string_view source);

// fio's output file as it grows while fio runs (the live counts, fio_live.hpp): feed() the bytes appended
// since the last call; every document that is whole by then (status dumps, and the final one) comes back
// once, read as parse_fio_output reads a status dump (bins, no Histogram). fio's own lines are skipped; a
// document or line still being written waits for the next call.
class FioStatusStream {
 public:
  explicit FioStatusStream(std::string source) : source_(std::move(source)) {}
  // ErrorKind::protocol naming the document when a whole one is not fio's JSON.
  Result<std::vector<FioStatus>> feed(std::string_view more);

 private:
  std::string source_;
  std::string pending_;       // bytes after the last whole document or line
  std::size_t consumed_ = 0;  // bytes before pending_, for messages
  std::size_t documents_ = 0;
};

// "jobs[1] \"randwrite-4k\"": how messages name a job.
std::string job_label(const FioJobResult& job);

}  // namespace kp::drivers::storage
