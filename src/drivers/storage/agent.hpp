#pragma once

// `kubeproof agent storage ...`: the storage phase on its own, with flags instead of a plan: in a pod that
// mounts the PersistentVolume under test (--target cluster), or beside fio run by hand
// (bench/compare-storage.sh). It prints one JSON line (agent_json_line): the measurements with their fio
// histograms (lossless, so results of many agents merge), every job's numbers, the volume/local ratios and
// the cache warnings.
//
// The CLI attaches the flags with attach_agent_options() to its `agent storage` subcommand, then calls
// run_agent() and prints agent_json_line() of the result on stdout (progress goes to stderr).

#include <string>

#include <CLI/CLI.hpp>

#include "core/clock.hpp"
#include "drivers/storage/storage_phase.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::storage {

// Flag values as typed; units are parsed by to_agent_settings() so errors name the flag and echo the value.
// Empty means the setting's default (settings.hpp), except runtime: 10s per job.
struct AgentOptions {
  std::string dir;          // --dir: the directory under test (required)
  std::string compare_to;   // --compare-to DIR
  std::string fio;          // --fio: fio binary (default: fio on PATH)
  std::string workloads;    // --workloads randread,randwrite,seqwrite,seqread,etcd_fsync
  std::string ioengine;     // --ioengine
  bool buffered = false;    // --buffered: direct=0
  std::string size;         // --size
  std::string bs;           // --bs: random block size
  std::string iodepth;      // --iodepth
  std::string seq_bs;       // --seq-bs
  std::string seq_iodepth;  // --seq-iodepth
  std::string numjobs;      // --numjobs
  std::string runtime;      // --runtime: per job
  std::string ramp_time;    // --ramp-time
  std::string qd_sweep;     // --qd-sweep 1,4,16,32
  std::string etcd_bs;      // --etcd-bs
  std::string etcd_size;    // --etcd-size
  std::string timeout;      // --timeout
  std::string rate;         // --rate: the random jobs' IOPS, or max (no capacity here: a plan's field)
  // --live-lines: each job's I/Os and latencies once a second, from fio's status dumps, as `kp-live` lines
  // (core/live_lines.hpp) through `progress`, for kubeproof following the agent pod's log.
  bool live_lines = false;
};

void attach_agent_options(CLI::App& app, AgentOptions& options);

inline constexpr Duration kAgentDefaultRuntime = std::chrono::seconds(10);

// Parses and validates the flags: `kubeproof agent storage: --iodepth: must be a whole number within 1..4096,
// got "0"` (ErrorKind::usage).
Result<Settings> to_agent_settings(const AgentOptions& options);

// Runs the jobs and cleans up. fio missing -> ErrorKind::unavailable; other errors as StoragePhase's.
Result<StorageResult> run_agent(const AgentOptions& options, Clock& clock, engine::CancellationToken& cancel,
                                const ProgressFn& progress);

// {"kind":"kubeproof.agent.storage","version":1,"fio_version":..,"measurements":[..],"jobs":[..],
//  "comparison":[..],"warnings":[..],"invalid_reasons":[..],"notes":[..],"cancelled":false} on one line.
std::string agent_json_line(const StorageResult& result);

}  // namespace kp::drivers::storage
