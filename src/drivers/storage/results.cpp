#include "drivers/storage/results.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "config/metric_catalog.hpp"

namespace kp::drivers::storage {
namespace {

std::string_view direction_name(const FioJob& job) {
  return job.workload == Workload::randread || job.workload == Workload::seqread ? "read" : "write";
}

std::string format_bytes(std::uint64_t bytes) {
  return format_quantity(Quantity::size, static_cast<double>(bytes));
}

// "fio randread, 4 KiB blocks, iodepth 32 x 1 job, libaio, direct: 1.8M I/Os in 22.0s after a 2.0s ramp"
std::string describe_job(const JobSummary& summary) {
  const FioJob& job = summary.job;
  std::string text = fmt::format("fio {} {} blocks", job.rw, format_bytes(job.block_size));
  if (job.fdatasync) {
    text += " with fdatasync after each";
  }
  text += fmt::format(", iodepth {} x {} job{}, {}{}: {} I/Os in {}", job.iodepth, job.numjobs,
                      job.numjobs == 1 ? "" : "s", job.ioengine, job.direct ? ", direct" : ", buffered",
                      summary.ios, format_duration(summary.runtime));
  if (job.ramp_time > Duration(0)) {
    text += fmt::format(" after a {} ramp", format_duration(job.ramp_time));
  }
  return text;
}

std::string format_seconds_ms(double seconds) {
  return format_quantity(Quantity::duration, seconds, "ms");
}

std::vector<const JobSummary*> jobs_of(const std::vector<JobSummary>& jobs, Workload workload) {
  std::vector<const JobSummary*> out;
  for (const JobSummary& job : jobs) {
    if (job.job.workload == workload) {
      out.push_back(&job);
    }
  }
  return out;
}

const JobSummary* nominal_of(const std::vector<const JobSummary*>& jobs) {
  for (const JobSummary* job : jobs) {
    if (job->job.nominal) {
      return job;
    }
  }
  return nullptr;
}

// IOPS of one random workload: the single job's, or in a sweep the peak, with the sweep in the note.
std::optional<Measurement> iops_measurement(const std::vector<JobSummary>& jobs, Workload workload,
                                            std::string_view metric, const std::string& source) {
  const std::vector<const JobSummary*> runs = jobs_of(jobs, workload);
  if (runs.empty()) {
    return std::nullopt;
  }
  const JobSummary* best = *std::ranges::max_element(runs, {}, [](const JobSummary* j) { return j->iops; });
  Measurement m;
  m.metric = std::string(metric);
  m.value = best->iops;
  // At a rate the value cannot exceed what was offered: eval judges it like every capacity row.
  m.offered = best->job.offered_iops();
  m.source = source;
  if (runs.size() == 1) {
    m.note = describe_job(*best);
  } else {
    std::string sweep;
    const JobSummary* knee = nullptr;
    for (const JobSummary* run : runs) {
      sweep += fmt::format("{}qd{} {}", sweep.empty() ? "" : ", ", run->job.iodepth,
                           format_quantity(Quantity::rate, run->iops, "IOPS"));
      // The saturation point: the first depth that reaches 95 % of the peak; deeper queues add latency only.
      if (knee == nullptr && run->iops >= 0.95 * best->iops) {
        knee = run;
      }
    }
    m.note =
        fmt::format("peak over the queue-depth sweep ({}); saturates at qd{}{}; {}", sweep, knee->job.iodepth,
                    knee->p99 ? fmt::format(" (P99 {})", format_seconds_ms(*knee->p99)) : std::string(),
                    describe_job(*best));
  }
  if (best->job.block_size != 4 * kKiB) {
    m.note += fmt::format("; measured with {} blocks, not the 4 KiB the metric is named for",
                          format_bytes(best->job.block_size));
  }
  return m;
}

std::optional<Measurement> bandwidth_measurement(const std::vector<JobSummary>& jobs, Workload workload,
                                                 std::string_view metric, const std::string& source) {
  const std::vector<const JobSummary*> runs = jobs_of(jobs, workload);
  if (runs.empty()) {
    return std::nullopt;
  }
  const JobSummary& job = *runs.front();
  return Measurement{
      .metric = std::string(metric),
      .value = job.bytes_per_second * 8,
      .offered = std::nullopt,
      .histogram = std::nullopt,
      .source = source,
      .note = fmt::format("{} ({})", describe_job(job), format_quantity(Quantity::rate, job.iops, "IOPS"))};
}

}  // namespace

Result<std::vector<JobSummary>> summarize_jobs(const JobSet& set, const FioOutput& output, bool partial,
                                               std::string_view source) {
  std::vector<JobSummary> out;
  for (const FioJob& job : set.jobs) {
    const FioJobResult* result = output.find(job.name);
    if (result == nullptr) {
      if (partial) {
        continue;
      }
      return fail(ErrorKind::protocol, fmt::format("{}: no job \"{}\" in fio's output", source, job.name));
    }
    const DirectionStats& stats = direction_name(job) == "read" ? result->read : result->write;
    if (stats.io_bytes == 0) {
      if (partial) {
        continue;
      }
      return fail(ErrorKind::protocol, fmt::format("{}: {}: {}.io_bytes: 0 (the job did no I/O)", source,
                                                   job_label(*result), direction_name(job)));
    }
    JobSummary summary{.job = job,
                       .iops = stats.iops,
                       .bytes_per_second = stats.bw_bytes,
                       .ios = stats.total_ios,
                       .runtime = std::chrono::milliseconds(stats.runtime_ms),
                       .p50 = std::nullopt,
                       .p99 = std::nullopt,
                       .p999 = std::nullopt,
                       .mean = std::nullopt,
                       .latency = std::nullopt};
    const LatencyStats* latency = &stats.clat;
    std::string field = fmt::format("{}.clat_ns", direction_name(job));
    if (job.fdatasync) {
      if (!result->sync) {
        return fail(ErrorKind::protocol,
                    fmt::format("{}: {}: sync.lat_ns: missing (fio reports fdatasync latency "
                                "from version 3.5 on)",
                                source, job_label(*result)));
      }
      latency = &*result->sync;
      field = "sync.lat_ns";
    }
    const std::optional<double> p99 = latency->percentile_ns(99);
    if (!p99) {
      if (partial) {
        continue;
      }
      return fail(ErrorKind::protocol,
                  fmt::format("{}: {}: {}.percentile: no 99th percentile (\"99.000000\")", source,
                              job_label(*result), field));
    }
    summary.p99 = *p99 / 1e9;
    if (auto p50 = latency->percentile_ns(50)) {
      summary.p50 = *p50 / 1e9;
    }
    if (auto p999 = latency->percentile_ns(99.9)) {
      summary.p999 = *p999 / 1e9;
    }
    if (latency->samples > 0) {
      summary.mean = latency->mean_ns / 1e9;
    }
    summary.latency = latency->histogram;
    out.push_back(std::move(summary));
  }
  return out;
}

std::vector<Measurement> measurements_from(const std::vector<JobSummary>& jobs,
                                           const std::string& fio_version) {
  const std::string source = fio_version.empty() ? "fio" : fio_version;
  std::vector<Measurement> out;
  if (auto m = iops_measurement(jobs, Workload::randread, kRandReadIops, source)) {
    out.push_back(std::move(*m));
  }
  if (auto m = iops_measurement(jobs, Workload::randwrite, kRandWriteIops, source)) {
    out.push_back(std::move(*m));
  }
  // The OLTP row's P99 is one number for a workload that both reads and writes: the worse of the two, so a
  // slow write path cannot hide behind fast reads.
  const JobSummary* read = nominal_of(jobs_of(jobs, Workload::randread));
  const JobSummary* write = nominal_of(jobs_of(jobs, Workload::randwrite));
  if (read != nullptr || write != nullptr) {
    const JobSummary* worse = read == nullptr            ? write
                              : write == nullptr         ? read
                              : *write->p99 > *read->p99 ? write
                                                         : read;
    std::string parts;
    for (const JobSummary* job : {read, write}) {
      if (job != nullptr) {
        parts +=
            fmt::format("{}{} P99 {}", parts.empty() ? "" : ", ", job->job.rw, format_seconds_ms(*job->p99));
      }
    }
    out.push_back(
        Measurement{.metric = std::string(kRandP99),
                    .value = *worse->p99,
                    .offered = std::nullopt,
                    .histogram = worse->latency,
                    .source = source,
                    .note = fmt::format("completion latency (fio clat) at iodepth {}, the worse of {}",
                                        worse->job.iodepth, parts)});
  }
  if (auto m = bandwidth_measurement(jobs, Workload::seqwrite, kSeqWriteBandwidth, source)) {
    out.push_back(std::move(*m));
  }
  if (auto m = bandwidth_measurement(jobs, Workload::seqread, kSeqReadBandwidth, source)) {
    out.push_back(std::move(*m));
  }
  const std::vector<const JobSummary*> etcd = jobs_of(jobs, Workload::etcd_fsync);
  if (!etcd.empty()) {
    const JobSummary& job = *etcd.front();
    out.push_back(Measurement{
        .metric = std::string(kEtcdFsyncP99),
        .value = *job.p99,
        .offered = std::nullopt,
        .histogram = job.latency,
        .source = source,
        .note =
            fmt::format("etcd's disk check: {} sequential {}-byte writes, fdatasync after each ({:.0f}/s); "
                        "read beside etcd.fsync.p99 (etcd's WAL fsync: target < 10ms, critical < 25ms)",
                        job.ios, job.job.block_size, job.iops)});
  }
  return out;
}

load::GeneratorAccount generator_account(const JobSummary& summary, bool rate_judged) {
  load::GeneratorAccount account;
  account.what = fmt::format("{} I/Os", summary.job.name);
  account.window = summary.runtime;
  account.sent = summary.ios;
  const std::optional<double> offered = summary.job.offered_iops();
  if (!offered) {
    account.open_loop = false;
    return account;
  }
  account.offered = *offered;
  account.rate_judged = rate_judged;
  const double seconds = std::chrono::duration<double>(summary.runtime).count();
  // Range-checked before converting: fio's runtime is outside input, and a high rate over a long one is more
  // than llround's long long (or a uint64) holds, where the conversion is undefined.
  const double due = std::round(*offered * seconds);
  account.due = !(due >= 0)                    ? 0
                : due < 18446744073709551616.0 ? static_cast<std::uint64_t>(due)
                                               : std::numeric_limits<std::uint64_t>::max();
  if (account.due > account.sent && summary.mean && *summary.mean > 0) {
    const double slots = double(summary.job.iodepth) * summary.job.numjobs;
    if (slots / *summary.mean < *offered) {
      account.queued_for_server = account.due - account.sent;
      account.unsent_for_server = account.queued_for_server;
    }
  }
  return account;
}

std::vector<std::string> cache_warnings(const std::vector<JobSummary>& jobs, bool direct,
                                        std::uint64_t file_size, std::uint64_t memory_bytes) {
  std::vector<std::string> out;
  const bool small_file = memory_bytes > 0 && file_size < 2 * memory_bytes;
  const std::string ram = memory_bytes > 0 ? format_bytes(memory_bytes) : "unknown";
  bool reads = false;
  for (const JobSummary& summary : jobs) {
    reads = reads || summary.job.workload == Workload::randread || summary.job.workload == Workload::seqread;
  }
  if (!direct && small_file && reads) {
    out.push_back(
        fmt::format("reads likely come from the page cache: buffered I/O (direct: false) over a {} test "
                    "file on a host with {} of RAM; use direct: true, or a size of at least {}",
                    format_bytes(file_size), ram, format_bytes(2 * memory_bytes)));
  }
  std::vector<std::string> implausible;
  for (const JobSummary& summary : jobs) {
    if (summary.job.workload == Workload::randread && summary.p50 &&
        *summary.p50 < kCachedReadMedianSeconds) {
      implausible.push_back(fmt::format("{} median completion {} (a device takes longer than {})",
                                        summary.job.name,
                                        format_quantity(Quantity::duration, *summary.p50, "us"),
                                        format_quantity(Quantity::duration, kCachedReadMedianSeconds, "us")));
    }
    if (summary.job.workload == Workload::seqread &&
        summary.bytes_per_second > kCachedSeqReadBytesPerSecond) {
      implausible.push_back(
          fmt::format("{} at {} (beyond a PCIe 5.0 x4 NVMe link)", summary.job.name,
                      format_quantity(Quantity::bandwidth, summary.bytes_per_second * 8, "MB/s")));
    }
  }
  if (!implausible.empty()) {
    std::string text = "reads look served from a cache, not the device: ";
    for (std::size_t i = 0; i < implausible.size(); ++i) {
      text += (i == 0 ? "" : "; ") + implausible[i];
    }
    if (!direct) {
      text += "; I/O was buffered (direct: false)";
    } else if (memory_bytes > 0 && file_size < memory_bytes) {
      text += fmt::format(
          "; the {} test file is smaller than this host's {} of RAM, so a cache below the file "
          "system (hypervisor, network storage, controller) may hold it: raise size",
          format_bytes(file_size), ram);
    }
    out.push_back(std::move(text));
  }
  return out;
}

std::vector<ComparisonRow> compare(const std::vector<Measurement>& volume,
                                   const std::vector<Measurement>& local) {
  std::vector<ComparisonRow> out;
  for (const Measurement& v : volume) {
    auto l = std::ranges::find(local, v.metric, &Measurement::metric);
    if (l == local.end() || !(l->value > 0)) {
      continue;
    }
    ComparisonRow row{.metric = v.metric, .volume = v.value, .local = l->value, .ratio = v.value / l->value};
    // Latencies are better when lower; everything else here when higher.
    const bool lower_is_better = v.metric == kRandP99 || v.metric == kEtcdFsyncP99;
    row.volume_beats_local =
        lower_is_better ? row.ratio < 1 / kBeatsLocalMargin : row.ratio > kBeatsLocalMargin;
    out.push_back(std::move(row));
  }
  return out;
}

std::string comparison_note(const ComparisonRow& row, std::string_view local_path) {
  std::string text =
      fmt::format("x{:.2f} of {} ({} there)", row.ratio, local_path, format_metric(row.metric, row.local));
  if (row.volume_beats_local) {
    text +=
        "; the volume BEATS local disk: a sign of caching or of writes acknowledged before they are durable";
  }
  return text;
}

std::string format_metric(std::string_view metric, double value) {
  if (const config::MetricInfo* info = config::find_metric(metric); info != nullptr) {
    return format_quantity(info->quantity, value, info->display_unit);
  }
  if (metric == kEtcdFsyncP99) {
    return format_seconds_ms(value);
  }
  return fmt::format("{}", value);
}

}  // namespace kp::drivers::storage
