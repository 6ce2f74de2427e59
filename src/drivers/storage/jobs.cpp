#include "drivers/storage/jobs.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace kp::drivers::storage {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kDataFile = "kubeproof-fio.dat";
constexpr std::string_view kEtcdFile = "kubeproof-etcd.dat";
// fio's options take whole milliseconds; rounding down keeps a job within its share.
Duration whole_ms(Duration value) {
  return duration_cast<milliseconds>(value);
}

FioJob base_job(const Settings& s, Workload workload, std::string rw, std::uint64_t block_size, int iodepth) {
  FioJob job;
  job.workload = workload;
  job.rw = std::move(rw);
  job.file = std::string(kDataFile);
  job.size = s.size;
  job.block_size = block_size;
  job.ioengine = s.ioengine;
  job.direct = s.direct;
  job.iodepth = iodepth;
  job.numjobs = s.numjobs;
  return job;
}

void add_random_jobs(const Settings& s, Workload workload, const std::vector<int>& sweep, JobSet& set) {
  const std::string rw = workload == Workload::randread ? "randread" : "randwrite";
  const std::string name = fmt::format("{}-{}", rw, size_label(s.block_size));
  if (sweep.empty()) {
    FioJob job = base_job(s, workload, rw, s.block_size, s.iodepth);
    job.name = name;
    set.jobs.push_back(std::move(job));
    return;
  }
  for (int depth : sweep) {
    FioJob job = base_job(s, workload, rw, s.block_size, depth);
    job.name = fmt::format("{}-qd{}", name, depth);
    job.nominal = depth == s.iodepth;
    set.jobs.push_back(std::move(job));
  }
}

}  // namespace

std::optional<double> FioJob::offered_iops() const {
  if (!rate_iops) {
    return std::nullopt;
  }
  return double(*rate_iops) * numjobs;
}

int rate_iops_per_clone(Rate rate, int numjobs) {
  // fio takes a whole number per clone; rounding keeps the offered total within half an I/O per clone.
  const double per_clone = std::round(rate.per_second / std::max(1, numjobs));
  return static_cast<int>(std::clamp(per_clone, 1.0, 1e9));
}

JobSet plan_jobs(const Settings& s, config::TestType /*type*/, Duration phase_duration,
                 const JobPlanOptions& options) {
  JobSet set;
  std::vector<int> sweep;
  if (s.qd_sweep) {
    sweep = *s.qd_sweep;
  }
  if (!sweep.empty() && std::ranges::find(sweep, s.iodepth) == sweep.end()) {
    // The P99 row is judged at the nominal depth, so the sweep always includes it.
    sweep.insert(std::ranges::upper_bound(sweep, s.iodepth), s.iodepth);
  }

  for (Workload workload : s.workloads) {
    switch (workload) {
      case Workload::randread:
      case Workload::randwrite:
        add_random_jobs(s, workload, sweep, set);
        if (options.random_rate) {
          for (FioJob& job : set.jobs) {
            if (job.workload == workload) {
              job.rate_iops = rate_iops_per_clone(*options.random_rate, job.numjobs);
            }
          }
        }
        break;
      case Workload::seqwrite:
      case Workload::seqread: {
        const bool write = workload == Workload::seqwrite;
        FioJob job = base_job(s, workload, write ? "write" : "read", s.seq_block_size, s.seq_iodepth);
        job.name = fmt::format("{}-{}", write ? "seqwrite" : "seqread", size_label(s.seq_block_size));
        set.jobs.push_back(std::move(job));
        break;
      }
      case Workload::etcd_fsync: {
        // etcd's own recipe, kept as etcd documents it: buffered writes through the sync engine, each
        // followed by fdatasync, one writer, a fixed amount of data.
        FioJob job;
        job.name = "etcd-fsync";
        job.workload = workload;
        job.rw = "write";
        job.file = std::string(kEtcdFile);
        job.size = s.etcd_size;
        job.block_size = s.etcd_block_size;
        job.ioengine = "sync";
        job.direct = false;
        job.fdatasync = true;
        job.iodepth = 1;
        job.numjobs = 1;
        job.time_based = false;
        set.jobs.push_back(std::move(job));
        break;
      }
    }
  }

  Duration runtime{};
  Duration ramp = s.ramp_time;
  if (s.runtime) {
    runtime = *s.runtime;
  } else {
    const auto passes = s.compare_to ? 2 : 1;
    const auto slots = static_cast<Duration::rep>(set.jobs.size()) * passes + options.search_slots;
    const Duration slot = slots > 0 ? phase_duration / slots : Duration(0);
    ramp = std::min(ramp, slot / 4);
    runtime = std::max<Duration>(seconds(1), slot - ramp);
    std::string shared;
    if (s.compare_to) {
      shared += options.search_slots > 0 ? ", each again on the compare-to path"
                                         : ", half of it for the compare-to path";
    }
    if (options.search_slots > 0) {
      shared += fmt::format(", {} slots for the stress search's steps", options.search_slots);
    }
    set.notes.push_back(fmt::format("each of the {} fio jobs runs {} after a {} ramp ({} shared out{})",
                                    set.jobs.size(), format_duration(whole_ms(runtime)),
                                    format_duration(whole_ms(ramp)), format_duration(phase_duration),
                                    shared));
  }
  runtime = whole_ms(runtime);
  ramp = whole_ms(ramp);
  set.runtime = runtime;
  set.ramp_time = ramp;
  bool uses_data_file = false;
  bool uses_etcd_file = false;
  for (FioJob& job : set.jobs) {
    if (job.time_based) {
      job.runtime = runtime;
      job.ramp_time = ramp;
      uses_data_file = true;
    } else {
      // A size-bound job usually ends well before this; the cap keeps a very slow disk within its share.
      job.runtime = std::max<Duration>(runtime + ramp, seconds(10));
      uses_etcd_file = true;
    }
    set.planned += job.runtime + job.ramp_time;
  }
  set.bytes_needed = (uses_data_file ? s.size : 0) + (uses_etcd_file ? s.etcd_size : 0);
  return set;
}

std::string render_job_file(const JobSet& set) {
  std::string out =
      "; kubeproof storage phase: generated fio job file. fio runs in the directory under test; each job is "
      "a\n"
      "; stonewall (one after another, its own reporting group) and ramp_time is excluded from the results.\n"
      "[global]\n"
      "group_reporting=1\n";
  for (const FioJob& job : set.jobs) {
    out += fmt::format(
        "\n[{}]\nstonewall\nfilename={}\nsize={}\nrw={}\nbs={}\nioengine={}\ndirect={}\niodepth={}\nnumjobs={"
        "}\n",
        job.name, job.file, job.size, job.rw, job.block_size, job.ioengine, job.direct ? 1 : 0, job.iodepth,
        job.numjobs);
    if (job.fdatasync) {
      out += "fdatasync=1\n";
    }
    if (job.rate_iops) {
      out += fmt::format("rate_iops={}\n", *job.rate_iops);
    }
    if (job.time_based) {
      out += "time_based=1\n";
    }
    out += fmt::format("runtime={}ms\n", duration_cast<milliseconds>(job.runtime).count());
    if (job.ramp_time > Duration(0)) {
      out += fmt::format("ramp_time={}ms\n", duration_cast<milliseconds>(job.ramp_time).count());
    }
  }
  return out;
}

Duration default_timeout(const JobSet& set) {
  constexpr double kLayoutBytesPerSecond = 20e6;
  const auto layout =
      std::chrono::duration<double>(static_cast<double>(set.bytes_needed) / kLayoutBytesPerSecond);
  return set.planned + set.planned / 2 + std::chrono::minutes(2) + duration_cast<Duration>(layout);
}

}  // namespace kp::drivers::storage
