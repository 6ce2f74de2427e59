#pragma once

// How much CPU this process may use, and how much it was throttled: the container's CPU quota from its cgroup
// (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us) and its cpu.stat throttling counters.
//
// Why: an agent pod limited to 500m that starts one worker per hardware thread spends most of each 100 ms
// period throttled, and its latencies then measure the quota, not the system under test. Every agent's
// default thread count comes from usable_cpus(), and every agent line reports the quota and the throttling
// during its run (load/validity.hpp judges it).
//
// The quota is the smallest along the process's cgroup and its ancestors up to the hierarchy's mount (a pod's
// limit may sit on the pod's cgroup as well as the container's). The cgroup is the one /proc/self/cgroup
// names (the v1 line with the cpu controller, else v2's "0::" line), placed under its mount from
// /proc/self/mountinfo; inside a cgroup namespace that is the mount itself. Every file is read under `root`
// ("/" in use; a folder of fixture files in tests). Nothing here fails: a file that is missing or unreadable
// means "no quota known".
//
// Threads: pure functions and reads of procfs/cgroupfs; safe from any thread.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/units.hpp"

namespace kp {

// cgroup v2 cpu.max: "max 100000" -> nullopt (no quota); "50000 100000" -> 0.5 CPUs. Nullopt also for text
// that is not a quota.
std::optional<double> parse_cpu_max(std::string_view text);
// cgroup v1: cpu.cfs_quota_us "-1" -> nullopt (no quota); "50000" with period "100000" -> 0.5 CPUs.
std::optional<double> parse_cfs_quota(std::string_view quota_us, std::string_view period_us);

// cpu.stat's throttling counters, as read at one moment.
struct CpuStat {
  std::uint64_t periods = 0;    // nr_periods: enforcement periods in which the cgroup ran
  std::uint64_t throttled = 0;  // nr_throttled: periods in which it used up its quota and was stopped
  Duration throttled_time{0};   // v2 throttled_usec, v1 throttled_time (ns): time stopped, summed over CPUs
};
// v2 ("nr_periods 10\nnr_throttled 2\nthrottled_usec 3000\n...") and v1 ("nr_periods 10\nnr_throttled 2\n
// throttled_time 3000000\n"). Nullopt when nr_periods is absent (a cgroup without a quota controller).
std::optional<CpuStat> parse_cpu_stat(std::string_view text);

// Throttling over a run: after - before.
struct CpuThrottling {
  std::uint64_t periods = 0;
  std::uint64_t throttled = 0;
  Duration throttled_time{0};
  double share() const { return periods == 0 ? 0.0 : double(throttled) / double(periods); }
};
CpuThrottling throttling_between(const CpuStat& before, const CpuStat& after);

struct CpuBudget {
  unsigned hardware_threads = 1;     // std::thread::hardware_concurrency(), at least 1
  std::optional<double> quota_cpus;  // the cgroup quota in CPUs; nullopt: none (or none found)
  std::string cgroup;                // the folder the quota and cpu.stat were read from ("" when none)
  int cgroup_version = 0;            // 1 or 2; 0 when no cgroup CPU controller was found

  // Worker threads worth starting: min(hardware threads, the quota rounded up), at least 1.
  int usable_cpus() const;
};

// Reads the process's CPU budget. `hardware_threads` 0 = std::thread::hardware_concurrency().
CpuBudget read_cpu_budget(const std::filesystem::path& root = "/", unsigned hardware_threads = 0);
// The process's cgroup cpu.stat now (nullopt when there is none to read).
std::optional<CpuStat> read_cpu_stat(const CpuBudget& budget, const std::filesystem::path& root = "/");

// read_cpu_budget().usable_cpus(): what every agent's default thread count starts from.
int usable_cpus();

}  // namespace kp
