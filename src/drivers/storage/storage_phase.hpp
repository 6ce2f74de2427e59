#pragma once

// The storage phase itself, shared by the engine::Driver and `kubeproof agent storage`: find fio, check the
// directories (there, a directory, writable, room for the test files), run the job file with fio on the
// volume (and on the --compare-to path), turn the JSON into measurements, warnings and ratios, and remove
// every file it wrote, whatever happened.
//
// Files: a private work directory under $TMPDIR (the job file, fio's JSON and its log) and one scratch
// directory `.kubeproof-fio-XXXXXX` in each path under test (the test files). teardown() removes them all;
// the test files go as soon as their run ends, so the compare run has the room back.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "drivers/storage/jobs.hpp"
#include "drivers/storage/results.hpp"
#include "drivers/storage/settings.hpp"
#include "engine/cancellation.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::storage {

using ProgressFn = std::function<void(std::string_view)>;

struct StorageResult {
  engine::PhaseRun run;  // the measurements of the volume, with warnings and ratios in their notes
  std::string fio_version;
  std::vector<JobSummary> jobs;          // on the volume
  std::vector<JobSummary> compare_jobs;  // on compare_to
  std::vector<Measurement> compare_measurements;
  std::vector<ComparisonRow> comparison;
  std::vector<std::string> warnings;  // cache warnings, for people (also in the read metrics' notes)
  bool cancelled = false;
};

// Checks that `path` (the value of setting `key`) is an existing directory: "must be an existing directory,
// got "/x" (No such file or directory)", blamed on field_of(key).
Result<void> check_directories(const Settings& settings,
                               const std::function<config::YamlField(std::string_view key)>& field_of);

// This host's RAM from /proc/meminfo (0 when unknown).
std::uint64_t memory_total_bytes();

class StoragePhase {
 public:
  // settings.volume must be set (the driver fills in the lab's default).
  StoragePhase(Settings settings, JobSet jobs, Clock& clock, ProgressFn progress);
  ~StoragePhase();
  StoragePhase(const StoragePhase&) = delete;
  StoragePhase& operator=(const StoragePhase&) = delete;

  // fio missing or not fio -> ErrorKind::unavailable. A path that is missing -> input; read-only, full or not
  // writable -> io, each naming the path. Nothing is left behind on error.
  Result<void> prepare();
  // A failed or timed-out fio is an error naming the path, the job and what fio said; a cancelled one returns
  // what finished (StorageResult::cancelled).
  Result<StorageResult> run(engine::CancellationToken& cancel);
  // Removes every file prepare() and run() created. Idempotent.
  void teardown() noexcept;

  const std::string& fio_version() const { return fio_version_; }
  const std::filesystem::path& work_dir() const { return work_dir_; }

 private:
  struct Target {
    std::string role;  // "volume" or "compare_to"
    std::filesystem::path path;
    std::filesystem::path scratch;
  };
  struct FioRun {
    FioOutput output;
    bool cancelled = false;
  };

  // The work directory, the check that fio is fio, the paths under test, the job file.
  Result<void> prepare_files();
  Result<void> prepare_target(Target& target);
  Result<FioRun> run_fio(const Target& target, engine::CancellationToken& cancel);
  void remove_scratch(Target& target) noexcept;

  Settings settings_;
  JobSet jobs_;
  Clock& clock_;
  ProgressFn progress_;
  std::filesystem::path fio_;
  std::string fio_version_;
  std::filesystem::path work_dir_;
  std::filesystem::path job_file_;
  std::vector<Target> targets_;
};

}  // namespace kp::drivers::storage
