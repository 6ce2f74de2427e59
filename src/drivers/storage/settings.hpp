#pragma once

// The storage phase's settings: the `settings:` node of the storage phase in a plan, or the flags of
// `kubeproof agent storage`, read by the same code so both give the same messages. Parsed strictly: an
// unknown key is an error naming it, a bad value is an error echoing it.
//
//   volume: ./.kubeproof/lab/volume   # the directory under test (default: <lab dir>/volume for --target
//   local) compare_to: /var/tmp              # run the same jobs here too and report volume/local ratios
//   (kbench's idea) fio_binary: fio                   # a name looked up on PATH, or a path workloads:
//   [randread, randwrite, seqwrite, seqread, etcd_fsync]   # which jobs run (always in this order) ioengine:
//   libaio                  # libaio | io_uring | psync | sync | pvsync | pvsync2 | posixaio direct: true #
//   O_DIRECT (false: buffered, and the page-cache warning applies) size: 1GiB                        # the
//   test file the four workloads share block_size: 4KiB  iodepth: 32     # random 4K read and write (the OLTP
//   rows) seq_block_size: 1MiB  seq_iodepth: 8   # sequential write and read (logging and OLAP rows) numjobs:
//   1                        # fio processes per job, aggregated (group_reporting) runtime: 30s # per job;
//   default: the phase's duration shared out over the jobs ramp_time: 2s                     # per job,
//   before statistics start (excluded from the results) qd_sweep: [1, 4, 16, 32, 64, 128] # queue depths of
//   the random jobs; default: this list in stress, else none etcd_block_size: 2300  etcd_size: 22MiB   #
//   etcd's disk check (sequential writes, fdatasync after each) timeout: 10m                      # bound on
//   one fio run; default: the jobs' time plus a generous margin

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

  bool runs(Workload workload) const;
};

// Parses the settings node (null -> defaults). Messages carry the field's location:
// `plans/x.yaml:31: phases[4].settings.iodepth: must be a whole number within 1..4096, got "deep"`.
Result<Settings> parse_settings(const config::YamlField& field);

// Reads one key's value into `settings` (the agent turns each flag into a field and calls this).
Result<void> read_setting(Settings& settings, std::string_view key, const config::YamlField& value);

// Checks across keys (the test file holds a block, the two paths differ). `field_of(key)` gives the field to
// blame for a key (the field itself when given, else the enclosing settings).
Result<void> check_settings(const Settings& settings,
                            const std::function<config::YamlField(std::string_view key)>& field_of);

// "4k", "1m", "2300": block sizes as fio job names carry them.
std::string size_label(std::uint64_t bytes);

}  // namespace kp::drivers::storage
