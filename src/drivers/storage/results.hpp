#pragma once

// From fio's parsed output to the storage phase's measurements, plus the two judgements fio cannot make on
// its own: whether reads look served from a cache, and how the volume compares with a local path.
//
// Metric ids (base units): storage.randread_4k.iops and storage.randwrite_4k.iops (per second; in a stress
// sweep the peak over the queue depths), storage.rand_4k.p99 (seconds: the worse of the random read and write
// jobs' completion-latency P99 at the nominal depth), storage.seqwrite.bandwidth and
// storage.seqread.bandwidth (bits per second), storage.etcd_fsync.p99 (seconds: fdatasync latency of etcd's
// disk check, informational, to read beside etcd.fsync.p99).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/histogram.hpp"
#include "core/measurement.hpp"
#include "drivers/storage/fio_json.hpp"
#include "drivers/storage/jobs.hpp"
#include "load/validity.hpp"

namespace kp::drivers::storage {

inline constexpr std::string_view kRandReadIops = "storage.randread_4k.iops";
inline constexpr std::string_view kRandWriteIops = "storage.randwrite_4k.iops";
inline constexpr std::string_view kRandP99 = "storage.rand_4k.p99";
inline constexpr std::string_view kSeqWriteBandwidth = "storage.seqwrite.bandwidth";
inline constexpr std::string_view kSeqReadBandwidth = "storage.seqread.bandwidth";
inline constexpr std::string_view kEtcdFsyncP99 = "storage.etcd_fsync.p99";

// One job's result, in base units.
struct JobSummary {
  FioJob job;
  double iops = 0;
  double bytes_per_second = 0;
  std::uint64_t ios = 0;
  Duration runtime{0};
  // Completion latency (clat) for the data jobs; fdatasync latency for etcd-fsync. Seconds.
  std::optional<double> p50;
  std::optional<double> p99;
  std::optional<double> p999;
  std::optional<double> mean;        // seconds: the mean of the same latency
  std::optional<Histogram> latency;  // ns, when fio gave its bins (json+)
};

// Matches each planned job with its result. With `partial` (a cancelled run) jobs that did not run are left
// out; otherwise a missing job, a job that did no I/O or lacks the P99 is an error naming it.
Result<std::vector<JobSummary>> summarize_jobs(const JobSet& set, const FioOutput& output, bool partial,
                                               std::string_view source);

// The phase's measurements from the jobs that ran. `fio_version` goes into each measurement's source.
std::vector<Measurement> measurements_from(const std::vector<JobSummary>& jobs,
                                           const std::string& fio_version);

// What fio did against what it was asked, for the one validity rule (load/validity.hpp). Closed loop (no
// rate_iops): a statement only. At a rate, fio does not time its own submissions, so no own lateness is
// recorded; the I/Os it owed and did not make are the device's ("queued for a connection": every iodepth slot
// was busy) when the slots could not carry the rate at the latency the device gave (Little's law: iodepth x
// numjobs / mean completion latency below the rate), else fio's own shortfall.
load::GeneratorAccount generator_account(const JobSummary& job, bool rate_judged);

// Reads faster than a device can serve them: random 4K reads with a median completion under this, or
// sequential reads above the fastest single NVMe link (PCIe 5.0 x4, ~15.75 GB/s).
inline constexpr double kCachedReadMedianSeconds = 5e-6;
inline constexpr double kCachedSeqReadBytesPerSecond = 16e9;

// Warnings that the reads look cached. `memory_bytes` is this host's RAM (0: unknown). Buffered I/O over a
// file smaller than twice the RAM warns whatever the numbers; direct I/O warns when the numbers are
// implausible.
std::vector<std::string> cache_warnings(const std::vector<JobSummary>& jobs, bool direct,
                                        std::uint64_t file_size, std::uint64_t memory_bytes);

// Volume vs --compare-to (kbench's idea). A result this much better on the volume than on the local path is
// flagged: a sign of caching or of writes acknowledged before they are durable.
inline constexpr double kBeatsLocalMargin = 1.10;

struct ComparisonRow {
  std::string metric;
  double volume = 0;
  double local = 0;
  double ratio = 0;  // volume / local
  bool volume_beats_local = false;
};

std::vector<ComparisonRow> compare(const std::vector<Measurement>& volume,
                                   const std::vector<Measurement>& local);

// "x0.82 of /var/tmp (local 12.3k IOPS)" and, when flagged, why it matters.
std::string comparison_note(const ComparisonRow& row, std::string_view local_path);

// A metric's value for people: "88.2k IOPS", "0.578ms", "334.3MB/s".
std::string format_metric(std::string_view metric, double value);

}  // namespace kp::drivers::storage
