#pragma once

// The fio jobs of the storage phase and the job file that runs them. Every job is its own stonewall (they run
// one after another, each its own reporting group, numjobs clones aggregated), ramp_time is excluded from the
// statistics, and I/O is direct unless the settings say otherwise. Job files name their test files relative
// to fio's working directory, so the same file runs on the volume and on the --compare-to path.

#include <cstdint>
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
  // The queue depth the settings ask for (a stress sweep adds other depths; the P99 row is judged here).
  bool nominal = true;
};

struct JobSet {
  std::vector<FioJob> jobs;
  std::vector<std::string> notes;  // how the phase's time was shared out, for the report
  // Upper bound of the jobs' own time (ramp + runtime each), not counting the test file's layout.
  Duration planned{0};
  // Bytes the test files take on the path under test.
  std::uint64_t bytes_needed = 0;
};

// The queue depths a stress test sweeps when the settings give none.
inline constexpr int kDefaultQdSweep[] = {1, 4, 16, 32, 64, 128};

// The jobs for the settings and the test type: one job per workload at the configured depths; in stress (or
// with qd_sweep) the random jobs at each depth of the sweep plus the nominal one. Without settings.runtime,
// each job gets an equal share of `phase_duration` (halved when compare_to runs every job twice), of which
// ramp_time takes at most a quarter; at least 1 s of runtime each.
JobSet plan_jobs(const Settings& settings, config::TestType type, Duration phase_duration);

// The fio job file (INI) for the set.
std::string render_job_file(const JobSet& set);

// The bound on one fio run when settings.timeout is unset: the planned time plus half again, plus two
// minutes and enough to lay the test file out at 20 MB/s (a slow network volume), so only a hung fio hits it.
Duration default_timeout(const JobSet& set);

}  // namespace kp::drivers::storage
