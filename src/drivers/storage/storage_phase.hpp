#pragma once

// The storage phase itself, shared by the engine::Driver and `kubeproof agent storage`: find fio, check the
// directories (there, a directory, writable, room for the test files), run the job file with fio on the
// volume (and on the --compare-to path), turn the JSON into measurements, warnings and ratios, and remove
// every file it wrote, whatever happened.
//
// Files: a private work directory under $TMPDIR (the job file, fio's JSON and its log) and one scratch
// directory `.kubeproof-fio-XXXXXX` in each path under test (the test files). teardown() removes them all;
// the test files go as soon as their run ends, so the compare run has the room back.
//
// Stress (set_depth_search): after the jobs on the volume, the breaking-point search over the random jobs'
// queue depth runs there too (depth_search.hpp), one bounded fio run per step, on the same test file.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/live.hpp"
#include "drivers/storage/depth_search.hpp"
#include "drivers/storage/filesystem.hpp"
#include "drivers/storage/fio_series.hpp"
#include "drivers/storage/jobs.hpp"
#include "drivers/storage/results.hpp"
#include "drivers/storage/settings.hpp"
#include "engine/cancellation.hpp"
#include "engine/driver.hpp"
#include "engine/exit_deferral.hpp"
#include "load/criteria_view.hpp"

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
  FilesystemFacts volume_filesystem;  // tmpfs: not a disk (a warning and every metric's note)
  std::optional<FilesystemFacts> compare_filesystem;  // overlay or tmpfs: no "BEATS local disk" judgement
  // Stress: the iodepth search (also in run.stress, with its breaking point in run.measurements).
  std::optional<load::StressResult> search;
  std::vector<JobSummary> search_jobs;  // every step's jobs, on the volume
  bool cancelled = false;
  // Every fio run's per-second series (fio_series.hpp), as handed to the live sink, each with when it was
  // handed over: the agent carries them in its line, so a cluster's report has them too.
  std::vector<RecordedSeries> series;
};

// The one validity rule on the volume's random jobs (results.hpp generator_account): each job's statement
// goes into run.notes, a reason into run.invalid_reasons. A rate is judged where a criteria row judges the
// job's IOPS metric; lateness is judged against the tightest storage latency target.
void apply_validity(engine::PhaseRun& run, const std::vector<JobSummary>& jobs,
                    const load::CriteriaView& criteria);

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

  // Stress: run the iodepth search on the volume after its jobs. Call before run().
  void set_depth_search(DepthSearchPlan plan) { search_ = std::move(plan); }
  // Where each fio run's per-second series go (fio_series.hpp), as it ends; null: nowhere.
  void set_live_sink(LiveSink* sink) { live_ = sink; }

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
  // Runs `job_file` (the jobs of `set`) in the target's scratch directory; `name` names fio's JSON and log.
  Result<FioRun> run_fio(const Target& target, const std::filesystem::path& job_file, const JobSet& set,
                         std::string_view name, engine::CancellationToken& cancel);
  Result<void> run_search(const Target& target, engine::CancellationToken& cancel, StorageResult& result);
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
  std::optional<DepthSearchPlan> search_;
  LiveSink* live_ = nullptr;
  std::vector<RecordedSeries> series_;  // handed over so far, for StorageResult::series
  // Held from the first file created to the last one removed: a second Ctrl-C waits for the removal rather
  // than leave fio's scratch files on the volume under test.
  std::optional<engine::ExitDeferral> files_guard_;
};

}  // namespace kp::drivers::storage
