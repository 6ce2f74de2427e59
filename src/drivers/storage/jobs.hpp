#pragma once

// The fio jobs of the storage phase and the job file that runs them. Every job is its own stonewall (they run
// one after another, each its own reporting group, numjobs clones aggregated), ramp_time is excluded from the
// statistics, and I/O is direct unless the settings say otherwise. Job files name their test files relative
// to fio's working directory, so the same file runs on the volume and on the --compare-to path.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "core/units.hpp"
#include "drivers/storage/settings.hpp"

namespace kp::drivers::storage {

struct FioJob {
  std::string
      name;  // the fio job name and the key into its JSON: "randread-4k", "randread-4k-qd16", "etcd-fsync"
  Workload workload = Workload::randread;
  std::string rw;    // fio's rw: randread | randwrite | write | read
  std::string file;  // relative to fio's working directory
  std::uint64_t size = 0;
  std::uint64_t block_size = 0;
  std::string ioengine;
  bool direct = true;
  bool fdatasync = false;  // fdatasync after every write (etcd's WAL pattern)
  int iodepth = 1;
  int numjobs = 1;
  bool time_based = true;  // false: the job ends when it has written `size` (runtime is then only a cap)
  Duration runtime{0};
  Duration ramp_time{0};
  // The queue depth the settings ask for (a sweep adds other depths; the P99 row is judged here).
  bool nominal = true;
  // fio's rate_iops: I/Os per second for each of the numjobs clones (fio applies it per clone); unset: closed
  // loop at iodepth.
  std::optional<int> rate_iops;

  // The whole job's rate (every clone), when it has one.
  std::optional<double> offered_iops() const;
};

struct JobSet {
  std::vector<FioJob> jobs;
  std::vector<std::string> notes;  // how the phase's time was shared out, for the report
  // Upper bound of the jobs' own time (ramp + runtime each), not counting the test file's layout.
  Duration planned{0};
  // Bytes the test files take on the path under test.
  std::uint64_t bytes_needed = 0;
  // Each time-based job's runtime and ramp (the stress search's steps get the same).
  Duration runtime{0};
  Duration ramp_time{0};
};

struct JobPlanOptions {
  // The random jobs' rate, each job's total over its clones (resolved from settings.rate); unset: closed
  // loop.
  std::optional<Rate> random_rate;
  // Job runs the stress search adds on the volume (depth_search.hpp): they share the phase's time too.
  int search_slots = 0;
};

// The jobs for the settings and the test type: one job per workload at the configured depths; with qd_sweep
// the random jobs at each depth of the sweep plus the nominal one (a stress run's depth ramp is the search's,
// depth_search.hpp). Without settings.runtime, each job gets an equal share of `phase_duration` (the
// compare_to path runs every job a second time; the search's steps take their slots too), of which ramp_time
// takes at most a quarter; at least 1 s of runtime each.
JobSet plan_jobs(const Settings& settings, config::TestType type, Duration phase_duration,
                 const JobPlanOptions& options = {});

// fio's rate_iops for one clone of a job with `numjobs` clones and a total of `rate`: at least 1.
int rate_iops_per_clone(Rate rate, int numjobs);

// The fio job file (INI) for the set.
std::string render_job_file(const JobSet& set);

// The bound on one fio run when settings.timeout is unset: the planned time plus half again, plus two
// minutes and enough to lay the test file out at 20 MB/s (a slow network volume), so only a hung fio hits it.
Duration default_timeout(const JobSet& set);

}  // namespace kp::drivers::storage
