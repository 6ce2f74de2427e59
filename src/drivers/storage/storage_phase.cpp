#include "drivers/storage/storage_phase.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "config/yaml_fields.hpp"
#include "core/private_file.hpp"
#include "drivers/storage/child_process.hpp"
#include "drivers/storage/filesystem.hpp"
#include "drivers/storage/fio_live.hpp"
#include "drivers/storage/fio_series.hpp"
#include "drivers/storage/medium_notes.hpp"
#include "lab/process.hpp"

namespace kp::drivers::storage {
namespace {

namespace fs = std::filesystem;

constexpr Duration kVersionTimeout = std::chrono::seconds(30);
constexpr std::size_t kSaidLines = 4;

// A file fio may not have written (it died first): its text, or nothing.
std::string text_of(const fs::path& file) {
  return config::read_text_file(file.string()).value_or(std::string());
}

// mkdtemp under `parent`; the template's X's become the unique part.
Result<fs::path> make_temp_dir(const fs::path& parent, std::string_view prefix) {
  std::string pattern = (parent / fmt::format("{}XXXXXX", prefix)).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return fail(ErrorKind::io, std::strerror(errno));
  }
  return fs::path(pattern);
}

// "; fio said: fio: ENOSPC on laying out file, stopping | ..." from the lines fio put before its JSON and its
// log, each once, the first few (fio repeats one io_u error per failed I/O).
std::string fio_said(std::string_view json_text, const fs::path& log_file) {
  std::vector<std::string> lines;
  auto add = [&](std::string_view text) {
    std::size_t start = 0;
    while (start < text.size() && lines.size() < kSaidLines) {
      std::size_t end = text.find('\n', start);
      end = end == std::string_view::npos ? text.size() : end;
      std::string line(text.substr(start, end - start));
      start = end + 1;
      if (line.starts_with("{")) {
        return;  // the JSON begins: what follows is results, not diagnostics
      }
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
        line.pop_back();
      }
      if (!line.empty() && std::ranges::find(lines, line) == lines.end()) {
        lines.push_back(std::move(line));
      }
    }
  };
  add(json_text);
  add(text_of(log_file));
  if (lines.empty()) {
    return {};
  }
  std::string joined;
  for (const std::string& line : lines) {
    joined += (joined.empty() ? "" : " | ") + line;
  }
  return "; fio said: " + joined;
}

void append_note(Measurement& measurement, std::string_view text) {
  measurement.note += measurement.note.empty() ? std::string(text) : fmt::format("; {}", text);
}

std::string job_line(std::string_view role, const JobSummary& job) {
  std::string text =
      fmt::format("{} {}: {}", role, job.job.name, format_quantity(Quantity::rate, job.iops, "IOPS"));
  if (job.job.workload == Workload::seqread || job.job.workload == Workload::seqwrite) {
    text += fmt::format(", {}", format_quantity(Quantity::bandwidth, job.bytes_per_second * 8, "MB/s"));
  }
  if (job.p99) {
    text += fmt::format(", P99 {}{}", format_quantity(Quantity::duration, *job.p99, "ms"),
                        job.job.fdatasync ? " (fdatasync)" : "");
  }
  return text;
}

}  // namespace

std::uint64_t memory_total_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemTotal:") {
      return kib * 1024;
    }
  }
  return 0;
}

Result<void> check_directories(const Settings& settings,
                               const std::function<config::YamlField(std::string_view key)>& field_of) {
  std::vector<std::pair<std::string_view, fs::path>> paths;
  if (!settings.volume.empty()) {
    paths.emplace_back("volume", settings.volume);
  }
  if (settings.compare_to) {
    paths.emplace_back("compare_to", *settings.compare_to);
  }
  for (const auto& [key, path] : paths) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
      return field_of(key).fail_got(fmt::format("must be an existing directory ({})", std::strerror(errno)));
    }
    if (!S_ISDIR(info.st_mode)) {
      return field_of(key).fail_got("must be a directory, not a file");
    }
    // fio lays out its test files here: a directory this user may not write (a root-owned hostPath volume
    // under a non-root agent) is one clear line now, not an fio error later.
    if (Result<void> writable = check_writable(path); !writable) {
      return field_of(key).fail(writable.error().message);
    }
  }
  return {};
}

StoragePhase::StoragePhase(Settings settings, JobSet jobs, Clock& clock, ProgressFn progress)
    : settings_(std::move(settings)), jobs_(std::move(jobs)), clock_(clock), progress_(std::move(progress)) {
  if (!progress_) {
    progress_ = [](std::string_view) {};
  }
  targets_.push_back(Target{.role = "volume", .path = settings_.volume, .scratch = {}});
  if (settings_.compare_to) {
    targets_.push_back(Target{.role = "compare_to", .path = *settings_.compare_to, .scratch = {}});
  }
}

StoragePhase::~StoragePhase() {
  teardown();
}

Result<void> StoragePhase::prepare() {
  // fio first: without it there is nothing to do and nothing should be created.
  std::optional<fs::path> fio = lab::find_executable(settings_.fio_binary);
  if (!fio) {
    if (settings_.fio_binary.find('/') == std::string::npos) {
      return fail(
          ErrorKind::unavailable,
          fmt::format("storage: {} not found on PATH (install the Debian package fio, or set fio_binary "
                      "to its path)",
                      settings_.fio_binary));
    }
    return fail(ErrorKind::unavailable,
                fmt::format("storage: fio_binary \"{}\": not found or not executable", settings_.fio_binary));
  }
  fio_ = *fio;

  Result<void> prepared = prepare_files();
  if (!prepared) {
    teardown();
    return prepared;
  }
  progress_(fmt::format("{} at {}; {} job{} on {}{}, about {} each run", fio_version_, fio_.string(),
                        jobs_.jobs.size(), jobs_.jobs.size() == 1 ? "" : "s", settings_.volume.string(),
                        settings_.compare_to ? fmt::format(" and on {}", settings_.compare_to->string()) : "",
                        format_duration(jobs_.planned)));
  for (const std::string& note : jobs_.notes) {
    progress_(note);
  }
  return {};
}

Result<void> StoragePhase::prepare_files() {
  // The work files (job file, fio's JSON and logs) go to $TMPDIR (or /tmp), else under the volume: in a pod
  // with a read-only root file system, /tmp may not be writable, and the volume always is (checked).
  files_guard_.emplace();
  std::error_code code;
  const fs::path temp = fs::temp_directory_path(code);
  Result<fs::path> work =
      code ? fail(ErrorKind::io, code.message()) : make_temp_dir(temp, "kubeproof-storage-");
  if (!work) {
    Result<fs::path> beside = make_temp_dir(settings_.volume, ".kubeproof-work-");
    if (!beside) {
      return fail(ErrorKind::io,
                  fmt::format("storage: cannot create a work directory in {} ({}) nor in {} ({})",
                              code ? std::string("$TMPDIR") : temp.string(), work.error().message,
                              settings_.volume.string(), beside.error().message));
    }
    work = std::move(beside);
  }
  work_dir_ = *work;

  // A wrong binary (fio_binary pointing at something else) shows here, not as a puzzling JSON error later.
  engine::CancellationToken never;
  const ChildSpec version_spec{.binary = fio_,
                               .args = {"--version"},
                               .working_dir = work_dir_,
                               .output_file = work_dir_ / "fio-version.txt",
                               .timeout = kVersionTimeout,
                               .stop_grace = std::chrono::seconds(2),
                               .on_tick = {}};
  Result<ChildExit> version = run_child(version_spec, clock_, never);
  if (!version) {
    return std::unexpected(with_context(version.error(), "storage: "));
  }
  std::string said = text_of(version_spec.output_file);
  said = said.substr(0, said.find('\n'));
  if (!version->success() || !said.starts_with("fio-")) {
    return fail(ErrorKind::unavailable,
                fmt::format("storage: {} does not look like fio: `--version` gave {} and printed \"{}\"",
                            fio_.string(), version->describe(), said));
  }
  fio_version_ = said;

  for (Target& target : targets_) {
    if (Result<void> ready = prepare_target(target); !ready) {
      return ready;
    }
  }
  job_file_ = work_dir_ / "jobs.fio";
  if (Result<void> written = write_private_file(job_file_, render_job_file(jobs_)); !written) {
    return fail(ErrorKind::io, "storage: " + written.error().message);
  }
  return {};
}

Result<void> StoragePhase::prepare_target(Target& target) {
  const std::string where = fmt::format("storage: {} {}", target.role, target.path.string());
  struct stat info {};
  if (::stat(target.path.c_str(), &info) != 0) {
    return fail(ErrorKind::input, fmt::format("{}: {}", where, std::strerror(errno)));
  }
  if (!S_ISDIR(info.st_mode)) {
    return fail(ErrorKind::input, fmt::format("{}: not a directory", where));
  }
  struct statvfs fs_info {};
  if (::statvfs(target.path.c_str(), &fs_info) != 0) {
    return fail(ErrorKind::io, fmt::format("{}: {}", where, std::strerror(errno)));
  }
  if ((fs_info.f_flag & ST_RDONLY) != 0) {
    return fail(ErrorKind::io,
                fmt::format("{}: read-only file system; the storage phase writes its test files "
                            "there",
                            where));
  }
  // Room for the test files plus a little for the file system's own blocks, checked before writing anything
  // so a full volume fails cleanly instead of half-way through laying the file out.
  const std::uint64_t needed = jobs_.bytes_needed + jobs_.bytes_needed / 100 + kMiB;
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(fs_info.f_bavail) * fs_info.f_frsize;
  if (free_bytes < needed) {
    return fail(ErrorKind::io,
                fmt::format("{}: only {} free, the test files need {} (lower size, or free space there)",
                            where, format_quantity(Quantity::size, static_cast<double>(free_bytes)),
                            format_quantity(Quantity::size, static_cast<double>(needed))));
  }
  Result<fs::path> scratch = make_temp_dir(target.path, ".kubeproof-fio-");
  if (!scratch) {
    return fail(ErrorKind::io,
                fmt::format("{}: cannot create a test directory: {}", where, scratch.error().message));
  }
  target.scratch = *scratch;
  return {};
}

Result<StoragePhase::FioRun> StoragePhase::run_fio(const Target& target, const fs::path& job_file,
                                                   const JobSet& set, std::string_view name,
                                                   engine::CancellationToken& cancel) {
  const fs::path json = work_dir_ / fmt::format("{}.json", name);
  const fs::path log = work_dir_ / fmt::format("{}.log", name);
  const Duration timeout = settings_.timeout.value_or(default_timeout(set));
  const std::string suffix = target.role == "volume" ? "" : std::string(kCompareToSeriesSuffix);
  FioLiveFeed live(set, suffix, live_, fmt::format("fio status {}", json.string()));
  const ChildSpec spec{.binary = fio_,
                       // A status dump per second gives the report its per-second series (fio_series.hpp).
                       .args = {"--output-format=json+", "--eta=never", "--status-interval=1",
                                "--output=" + json.string(), job_file.string()},
                       .working_dir = target.scratch,
                       .output_file = log,
                       .timeout = timeout,
                       .on_tick = [&live, &json](TimePoint now) { live.follow(json, now); }};
  Result<ChildExit> exit = run_child(spec, clock_, cancel);
  live.follow(json, clock_.now(), /*force=*/true);  // the final document: the last partial second
  if (live.stopped()) {
    // Only the watching stops: the result is read from the whole file below, which says what is wrong.
    progress_(fmt::format("live counts stopped: {}", live.stopped()->message));
  }
  if (!exit) {
    return std::unexpected(with_context(exit.error(), "storage: "));
  }
  const std::string where = fmt::format("{} {}", target.role, target.path.string());
  const std::string text = text_of(json);
  if (exit->timed_out) {
    return fail(ErrorKind::timeout,
                fmt::format("storage: fio on {} did not finish within {} (timeout); stopped it{}", where,
                            format_duration(timeout), fio_said(text, log)));
  }
  Result<FioOutput> parsed = parse_fio_output(text, fmt::format("storage: fio output for {}", where));
  if (parsed) {
    const WallTime at = clock_.wall_now();
    for (FinishedSeries& series : fio_series(*parsed, set, suffix)) {
      hand_over_series(live_, series);
      series_.push_back(RecordedSeries{.series = std::move(series), .at = at});
    }
  }
  if (exit->cancelled) {
    // Whatever fio finished before the stop still counts; an unreadable remainder is simply nothing.
    return FioRun{.output = parsed.value_or(FioOutput{}), .cancelled = true};
  }
  if (!parsed) {
    if (!exit->success()) {
      return fail(ErrorKind::io, fmt::format("storage: fio failed on {} ({}){}", where, exit->describe(),
                                             fio_said(text, log)));
    }
    return std::unexpected(parsed.error());
  }
  for (const FioJobResult& job : parsed->jobs) {
    if (job.error != 0) {
      return fail(ErrorKind::io,
                  fmt::format("storage: fio failed on {}: job \"{}\" stopped with error {} ({}){}", where,
                              job.name, job.error, std::strerror(job.error), fio_said(text, log)));
    }
  }
  if (!exit->success()) {
    return fail(ErrorKind::io, fmt::format("storage: fio failed on {} ({}){}", where, exit->describe(),
                                           fio_said(text, log)));
  }
  return FioRun{.output = std::move(*parsed), .cancelled = false};
}

Result<StorageResult> StoragePhase::run(engine::CancellationToken& cancel) {
  if (job_file_.empty()) {
    return fail(ErrorKind::internal, "storage: run() before a successful prepare()");
  }
  StorageResult result;
  result.fio_version = fio_version_;
  for (Target& target : targets_) {
    progress_(fmt::format("running fio on {} {}", target.role, target.path.string()));
    Result<FioRun> ran = run_fio(target, job_file_, jobs_, target.role, cancel);
    if (!ran) {
      remove_scratch(target);
      return std::unexpected(ran.error());
    }
    Result<std::vector<JobSummary>> jobs =
        summarize_jobs(jobs_, ran->output, ran->cancelled,
                       fmt::format("storage: fio output for {} {}", target.role, target.path.string()));
    if (!jobs) {
      remove_scratch(target);
      return std::unexpected(jobs.error());
    }
    for (const JobSummary& job : *jobs) {
      progress_(job_line(target.role, job));
    }
    if (search_ && target.role == "volume" && !ran->cancelled) {
      // On the test file the jobs just laid out: no second layout, and the compare run gets the room after.
      if (Result<void> searched = run_search(target, cancel, result); !searched) {
        remove_scratch(target);
        return std::unexpected(searched.error());
      }
    }
    remove_scratch(target);
    std::vector<Measurement> measurements = measurements_from(*jobs, fio_version_);
    if (target.role == "volume") {
      result.jobs = std::move(*jobs);
      result.run.measurements = std::move(measurements);
    } else {
      result.compare_jobs = std::move(*jobs);
      result.compare_measurements = std::move(measurements);
    }
    if (ran->cancelled ||
        (result.search && result.search->steps.size() > 0 && result.search->steps.back().cancelled)) {
      result.cancelled = true;
      progress_("cancelled: keeping the jobs fio finished");
      break;
    }
  }

  result.warnings = cache_warnings(result.jobs, settings_.direct, settings_.size, memory_total_bytes());
  for (const std::string& warning : result.warnings) {
    progress_(fmt::format("WARNING: {}", warning));
    for (Measurement& m : result.run.measurements) {
      if (m.metric == kRandReadIops || m.metric == kSeqReadBandwidth) {
        append_note(m, warning);
      }
    }
  }
  note_filesystems(result, settings_, progress_);
  if (settings_.compare_to && !result.compare_measurements.empty()) {
    result.comparison = compare(result.run.measurements, result.compare_measurements);
    qualify_reference(result, settings_, progress_);
    for (const ComparisonRow& row : result.comparison) {
      const std::string note = comparison_note(row, settings_.compare_to->string());
      progress_(fmt::format("{}: {}", row.metric, note));
      for (Measurement& m : result.run.measurements) {
        if (m.metric == row.metric) {
          append_note(m, note);
        }
      }
    }
    struct stat volume_info {};
    struct stat local_info {};
    if (::stat(settings_.volume.c_str(), &volume_info) == 0 &&
        ::stat(settings_.compare_to->c_str(), &local_info) == 0 && volume_info.st_dev == local_info.st_dev) {
      result.warnings.push_back(
          fmt::format("{} and {} are on the same device: the ratios compare it with itself",
                      settings_.volume.string(), settings_.compare_to->string()));
      progress_(fmt::format("WARNING: {}", result.warnings.back()));
    }
  }
  if (result.search) {
    for (const load::StepRecord& step : result.search->steps) {
      result.run.notes.push_back(fmt::format("stress {}", step_line(step)));
    }
    if (std::optional<Measurement> breaking = breaking_measurement(*result.search)) {
      result.run.measurements.push_back(std::move(*breaking));
    }
    result.run.stress.push_back(*result.search);
  }
  result.series = std::move(series_);
  series_.clear();
  return result;
}

Result<void> StoragePhase::run_search(const Target& target, engine::CancellationToken& cancel,
                                      StorageResult& result) {
  const DepthSearchPlan& plan = *search_;
  load::BreakingPointSearch search(plan.ramp, plan.bisect, plan.nominal_iodepth, /*integral=*/true);
  std::string ramp;
  for (double depth : plan.ramp) {
    ramp += fmt::format("{}{:g}", ramp.empty() ? "" : ", ", depth);
  }
  progress_(fmt::format(
      "stress: the random 4K jobs' breaking iodepth: ramp {}, up to {} bisection step{}; a step breaks at "
      "P99 > {} (critical of {}) or when fio fails",
      ramp, plan.bisect, plan.bisect == 1 ? "" : "s",
      plan.limits.p99_critical ? format_quantity(Quantity::duration, *plan.limits.p99_critical, "ms")
                               : std::string("(no critical level: only fio failing)"),
      kRandP99));
  while (const std::optional<double> level = search.next_level()) {
    const int depth = static_cast<int>(*level);
    load::StepRecord step;
    if (cancel.requested()) {
      step.cancelled = true;
      search.record(step);
      break;
    }
    const JobSet set = step_jobs(settings_, depth, jobs_);
    const fs::path file = work_dir_ / fmt::format("step-qd{}.fio", depth);
    if (Result<void> written = write_private_file(file, render_job_file(set)); !written) {
      return fail(ErrorKind::io, "storage: " + written.error().message);
    }
    Result<FioRun> ran = run_fio(target, file, set, fmt::format("step-qd{}", depth), cancel);
    if (!ran) {
      // fio failing or hanging at a depth is the device giving up under that load: the step broke. Anything
      // else (fio's output unreadable) is the phase's error.
      if (ran.error().kind != ErrorKind::io && ran.error().kind != ErrorKind::timeout) {
        return std::unexpected(ran.error());
      }
      step.broke = ran.error().message;
    } else {
      Result<std::vector<JobSummary>> jobs =
          summarize_jobs(set, ran->output, ran->cancelled,
                         fmt::format("storage: fio output for the stress step at iodepth {}", depth));
      if (!jobs) {
        return std::unexpected(jobs.error());
      }
      step = step_record(*jobs);
      step.cancelled = ran->cancelled;
      if (!step.cancelled) {
        step.broke = load::step_break_reason(step, plan.limits, "iodepth");
      }
      result.search_jobs.insert(result.search_jobs.end(), jobs->begin(), jobs->end());
    }
    search.record(std::move(step));
    progress_(fmt::format("stress {}", step_line(search.steps().back())));
  }
  result.search = finish_search(search);
  progress_(fmt::format("stress: {}", result.search->note));
  return {};
}

void apply_validity(engine::PhaseRun& run, const std::vector<JobSummary>& jobs,
                    const load::CriteriaView& criteria) {
  const std::string_view latency_rows[] = {kRandP99};
  const std::optional<double> tightest = criteria.tightest_latency_target(Phase::storage, latency_rows);
  for (const JobSummary& job : jobs) {
    if (job.job.workload != Workload::randread && job.job.workload != Workload::randwrite) {
      continue;
    }
    const std::string_view metric = job.job.workload == Workload::randread ? kRandReadIops : kRandWriteIops;
    const load::Validity validity =
        load::judge_validity(generator_account(job, criteria.judged(metric)), tightest);
    std::string statement = validity.statement;
    if (job.job.rate_iops) {
      statement += "; fio does not time its own submissions, so no own lateness is measured";
    }
    run.notes.push_back(std::move(statement));
    for (const std::string& reason : validity.invalid_reasons) {
      run.invalid_reasons.push_back(fmt::format("{}: {}", job.job.name, reason));
    }
  }
}

void StoragePhase::remove_scratch(Target& target) noexcept {
  if (!target.scratch.empty()) {
    std::error_code ignored;
    fs::remove_all(target.scratch, ignored);
    target.scratch.clear();
  }
}

void StoragePhase::teardown() noexcept {
  for (Target& target : targets_) {
    remove_scratch(target);
  }
  if (!work_dir_.empty()) {
    std::error_code ignored;
    fs::remove_all(work_dir_, ignored);
    work_dir_.clear();
  }
  job_file_.clear();
  files_guard_.reset();
}

}  // namespace kp::drivers::storage
