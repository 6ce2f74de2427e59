#pragma once

// The storage phase as an engine::Driver. Settings come from the plan's storage phase (settings.hpp); for
// `--target local` the volume defaults to the lab's directory <lab dir>/volume, created when missing. fio
// missing makes the phase SKIPPED with the reason; `--target cluster` is SKIPPED too until agent pods can be
// scheduled (run `kubeproof agent storage --dir <mount>` in a pod meanwhile).
//
// The rate (random_rate.hpp) is resolved in validate(), so a `rate: capacity` without capacity.storage_iops
// is an input error before anything runs. A stress plan adds the iodepth search (depth_search.hpp) with the
// Critical level of storage.rand_4k.p99 from the run's criteria. run() puts the rate's notes, each random
// job's validity statement and the search's steps in PhaseRun::notes, the search in PhaseRun::stress.

#include <filesystem>
#include <memory>
#include <optional>

#include "engine/driver.hpp"

namespace kp::drivers::storage {

struct DriverOptions {
  std::filesystem::path lab_dir;                    // see driver_factory(lab_dir)
  std::optional<std::filesystem::path> compare_to;  // --compare-to: overrides the plan's settings.compare_to
};
engine::DriverFactory driver_factory(DriverOptions options);

// `lab_dir` is where `--target local` keeps the lab (lab::default_state_dir() unless the CLI says otherwise).
engine::DriverFactory driver_factory(std::filesystem::path lab_dir);

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, std::filesystem::path lab_dir);

// The lab's stand-in for a persistent volume: a directory on local disk.
std::filesystem::path lab_volume_dir(const std::filesystem::path& lab_dir);

}  // namespace kp::drivers::storage
