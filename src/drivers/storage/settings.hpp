#pragma once

// The storage phase's settings: the `settings:` node of the storage phase in a plan, or the flags of
// `kubeproof agent storage`, read by the same code so both give the same messages. Parsed strictly: an
// unknown key is an error naming it, a bad value is an error echoing it.
//
//   volume: /mnt/pv          # the directory under test (default for --target local: <lab dir>/volume)
//   compare_to: /var/tmp     # run the same jobs here too, report volume/local ratios (kbench's idea)
//   fio_binary: fio          # a name looked up on PATH, or a path
//   workloads: [randread, randwrite, seqwrite, seqread, etcd_fsync]   # which jobs run (in this order)
//   ioengine: libaio         # libaio | io_uring | psync | sync | pvsync | pvsync2 | posixaio
//   direct: true             # O_DIRECT (false: buffered, and the page-cache warning applies)
//   size: 1GiB               # the test file the four workloads share
//   block_size: 4KiB         # random 4K read and write (the OLTP rows)
//   iodepth: 32
//   seq_block_size: 1MiB     # sequential write and read (logging and OLAP rows)
//   seq_iodepth: 8
//   numjobs: 1               # fio processes per job, aggregated (group_reporting)
//   runtime: 30s             # per job; default: the phase's duration shared out over the jobs
//   ramp_time: 2s            # per job, before statistics start (excluded from the results)
//   qd_sweep: [1, 4, 16]     # extra queue depths of the random jobs (default: none)
//   etcd_block_size: 2300    # etcd's disk check (sequential writes, fdatasync after each)
//   etcd_size: 22MiB
//   timeout: 10m             # bound on one fio run; default: the jobs' time plus a generous margin
//   rate: max                # the random 4K jobs' rate (load/rate_setting.hpp), see below
//   stress: {steps: [25%, 50%, 100%, 200%], bisect: 3}   # the iodepth search, see below
//   storage_class, volume_size, emptydir_baseline, agents, bind_timeout, image, pods: --target cluster only,
//                            # read by cluster_plan.hpp (parse_settings accepts and skips them)
//
// rate: the IOPS rows measure what the volume can do, so the default is `max`: fio runs closed loop at its
// iodepth and the rows carry no offered rate. `capacity` caps each random job at capacity.storage_iops x the
// phase's load, a number (`5000`, `5k IOPS`) at that rate; the IOPS rows then carry `offered` like every
// capacity row, and the generator's share of the due I/Os is judged (load/validity.hpp). The sequential and
// etcd jobs always run closed loop: their rows are bandwidths and fsync latency, not IOPS.
//
// stress: the breaking point is an iodepth (storage.rand_4k.breaking_iodepth): the random jobs run closed
// loop at each depth of a ramp, lowest first, until their P99 crosses the Critical level of
// storage.rand_4k.p99 or fio fails, then bisect on whole depths. Default ramp 1, 2, 4, ..., 128 (a device's
// knee can be anywhere from 1 to 128); `stress.steps` are multiples of `iodepth` instead (25% of 32 = 8),
// each within 0%..500%.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/yaml_fields.hpp"
#include "core/error.hpp"
#include "core/units.hpp"
#include "load/rate_setting.hpp"

namespace kp::drivers::storage {

// The seed's storage workloads plus etcd's disk check, in run order.
enum class Workload { randread, randwrite, seqwrite, seqread, etcd_fsync };
inline constexpr Workload kAllWorkloads[] = {Workload::randread, Workload::randwrite, Workload::seqwrite,
                                             Workload::seqread, Workload::etcd_fsync};
std::string_view to_string(Workload workload);  // "randread", ..., "etcd_fsync"
std::optional<Workload> parse_workload(std::string_view name);

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

struct Settings {
  std::filesystem::path volume;  // empty: the caller's default (the lab's volume directory)
  std::optional<std::filesystem::path> compare_to;
  std::string fio_binary = "fio";
  std::vector<Workload> workloads = {std::begin(kAllWorkloads), std::end(kAllWorkloads)};
  std::string ioengine = "libaio";
  bool direct = true;
  std::uint64_t size = kGiB;
  std::uint64_t block_size = 4 * kKiB;
  int iodepth = 32;
  std::uint64_t seq_block_size = kMiB;
  int seq_iodepth = 8;
  int numjobs = 1;
  std::optional<Duration> runtime;
  Duration ramp_time = std::chrono::seconds(2);
  std::optional<std::vector<int>> qd_sweep;  // sorted, distinct; empty list: no sweep even in stress
  // etcd's documented disk check: `fio --rw=write --ioengine=sync --fdatasync=1 --size=22m --bs=2300`.
  std::uint64_t etcd_block_size = 2300;
  std::uint64_t etcd_size = 22 * kMiB;
  std::optional<Duration> timeout;
  // The random jobs' rate; max: closed loop (see the header comment for why that is the default).
  load::RateSetting rate = load::RateSetting::maximum();
  // The iodepth ramp of a stress run as multiples of `iodepth`; unset: kDefaultDepthRamp.
  std::optional<std::vector<double>> stress_steps;
  int stress_bisect = 3;  // extra steps between the last depth held and the first broken

  bool runs(Workload workload) const;
};

// Parses the settings node (null -> defaults). Messages carry the field's location:
// `plans/x.yaml:31: phases[4].settings.iodepth: must be a whole number within 1..4096, got "deep"`.
Result<Settings> parse_settings(const config::YamlField& field);

// The keys only --target cluster reads (cluster_plan.hpp); parse_settings skips them.
bool is_cluster_only_key(std::string_view key);

// Reads one key's value into `settings` (the agent turns each flag into a field and calls this).
Result<void> read_setting(Settings& settings, std::string_view key, const config::YamlField& value);

// Checks across keys (the test file holds a block, the two paths differ). `field_of(key)` gives the field to
// blame for a key (the field itself when given, else the enclosing settings).
Result<void> check_settings(const Settings& settings,
                            const std::function<config::YamlField(std::string_view key)>& field_of);

// "4k", "1m", "2300": block sizes as fio job names carry them.
std::string size_label(std::uint64_t bytes);

}  // namespace kp::drivers::storage
