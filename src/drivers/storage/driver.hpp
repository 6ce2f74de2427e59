#pragma once

// The storage phase as an engine::Driver. Settings come from the plan's storage phase (settings.hpp); for
// `--target local` the volume defaults to the lab's directory <lab dir>/volume, created when missing. fio
// missing makes the phase SKIPPED with the reason. `--target cluster` runs the same fio job set in agent pods
// on PersistentVolumeClaims of the plan's StorageClass (cluster_volume.hpp), in a namespace of the run's own.
//
// The rate (random_rate.hpp) is resolved in validate(), so a `rate: capacity` without capacity.storage_iops
// is an input error before anything runs. A stress plan adds the iodepth search (depth_search.hpp) with the
// Critical level of storage.rand_4k.p99 from the run's criteria. run() puts the rate's notes, each random
// job's validity statement and the search's steps in PhaseRun::notes, the search in PhaseRun::stress.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/agent_pod.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::storage {

struct DriverOptions {
  std::filesystem::path lab_dir;                    // see driver_factory(lab_dir)
  std::optional<std::filesystem::path> compare_to;  // --compare-to: overrides the plan's settings.compare_to
  // --target cluster.
  std::optional<std::filesystem::path> kubeconfig;  // --kubeconfig; unset: kubectl's rules
  std::optional<std::string> context;               // --context
  std::string run_id;                               // the namespace is "<run id>-storage"
  // --agent-image and --image-pull-policy; the storage phase runs its storage variant (cluster_plan.hpp).
  cluster::AgentImage image{cluster::default_agent_image(), "IfNotPresent",
                            cluster::default_storage_agent_image()};
};
engine::DriverFactory driver_factory(DriverOptions options);

// `lab_dir` is where `--target local` keeps the lab (lab::default_state_dir() unless the CLI says otherwise).
engine::DriverFactory driver_factory(std::filesystem::path lab_dir);

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, std::filesystem::path lab_dir);

// For --dry-run on --target cluster: the claims and pods the storage phase will create (empty without an
// enabled storage phase). Errors: bad settings (input).
Result<std::vector<std::string>> describe_cluster_plan(const config::Plan& plan,
                                                       const DriverOptions& options);

// Before a --target cluster run starts anything: the plan's storage_class must exist on the cluster (an
// ErrorKind::input naming the plan's field and the class, exit 2). {} without an enabled storage phase, with
// the default class, on --target local, or when the cluster cannot be asked (the phase then says why).
Result<void> check_cluster_inputs(const config::Plan& plan, const DriverOptions& options);

// The lab's stand-in for a persistent volume: a directory on local disk.
std::filesystem::path lab_volume_dir(const std::filesystem::path& lab_dir);

}  // namespace kp::drivers::storage
