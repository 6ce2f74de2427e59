#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <mutex>

#include "cli/soak.hpp"
#include "cli/soak_watches.hpp"
#include "core/clock.hpp"
#include "engine/checkpoint.hpp"
#include "engine/orchestrator.hpp"
#include "report/soak_ledger.hpp"
#include "report/timeline.hpp"

namespace kp::cli {
namespace {

// Forwards everything to the round's timeline sink and folds each finished phase's histograms into the
// ledger's hour of the soak in which that phase started.
class SoakProgress final : public engine::ProgressSink {
 public:
  SoakProgress(engine::ProgressSink& inner, report::SoakLedger& ledger, std::mutex& mutex,
               std::function<Duration()> elapsed)
      : inner_(inner), ledger_(ledger), mutex_(mutex), elapsed_(std::move(elapsed)) {}
  void message(Phase phase, std::string_view text) override { inner_.message(phase, text); }
  void phase_started(Phase phase, WallTime at) override {
    {
      const std::lock_guard lock(mutex_);
      started_[phase] = elapsed_();
    }
    inner_.phase_started(phase, at);
  }
  void phase_finished(Phase phase, const std::vector<Measurement>& measurements, eval::Verdict verdict,
                      WallTime at) override {
    {
      const std::lock_guard lock(mutex_);
      ledger_.phase_finished(measurements, started_[phase]);
    }
    inner_.phase_finished(phase, measurements, verdict, at);
  }
  LiveSink* live_sink() override { return inner_.live_sink(); }

 private:
  engine::ProgressSink& inner_;
  report::SoakLedger& ledger_;
  std::mutex& mutex_;
  std::function<Duration()> elapsed_;
  std::map<Phase, Duration> started_;
};

// The plan of one round: the plan itself, or, when less than a whole round is left, every phase's slice
// shortened in proportion so the soak ends on time (never below 1 ms: a phase that runs for no time measures
// nothing).
config::Plan round_plan(const config::Plan& plan, const std::set<Phase>& only, Duration remaining) {
  Duration round{0};
  for (const config::PhasePlan& phase : plan.phases) {
    if (phase.enabled && (only.empty() || only.contains(phase.phase))) {
      round += phase.duration;
    }
  }
  config::Plan out = plan;
  if (round <= remaining || round <= Duration::zero()) {
    return out;
  }
  const double scale = static_cast<double>(remaining.count()) / static_cast<double>(round.count());
  for (config::PhasePlan& phase : out.phases) {
    phase.duration = std::max<Duration>(std::chrono::milliseconds(1),
                                        Duration(static_cast<Duration::rep>(std::llround(
                                            static_cast<double>(phase.duration.count()) * scale))));
  }
  return out;
}

// The phase a round's progress line is filed under: its first.
Phase first_phase(const config::Plan& plan, const std::set<Phase>& only) {
  for (const config::PhasePlan& phase : plan.phases) {
    if (phase.enabled && (only.empty() || only.contains(phase.phase))) {
      return phase.phase;
    }
  }
  return Phase::etcd;
}

}  // namespace

Outcome run_soak(const RunOptions& options, RunSetup& setup, Duration planned, std::string digest,
                 std::optional<ResumePoint> resume, Duration cluster_watch_interval) {
  Clock& clock = real_clock();
  Result<std::unique_ptr<RunHarness>> harness_or = RunHarness::start(options, setup);
  if (!harness_or) {
    return std::unexpected(harness_or.error());
  }
  RunHarness& harness = **harness_or;
  engine::CancellationToken& cancel = harness.cancel();

  std::mutex mutex;  // guards everything below that the checkpoint thread reads
  report::SoakLedger ledger(setup.rows, config::TestType::soak);
  report::SoakRecord record;
  record.planned = report::to_record_precision(planned);
  record.checkpoint = report::to_record_precision(setup.orchestrator.checkpoint_interval);
  record.plan_file = setup.plan.source.string();
  record.plan_digest = std::move(digest);
  record.load_profile = setup.plan.load_profile ? setup.plan.load_profile->text() : "";
  WallTime started = clock.wall_now();
  Duration elapsed_before{0};
  int round = 0;
  std::optional<ReportFolder> folder;
  if (resume) {
    const report::SoakRecord& before = *resume->report.soak;
    ledger.resume_from(before, resume->report.inputs);
    started = resume->report.meta.started;
    elapsed_before = before.elapsed;
    round = before.rounds;
    record.resumes = before.resumes;
    record.resumes.push_back({std::chrono::floor<std::chrono::seconds>(clock.wall_now()), before.elapsed});
    folder.emplace(options.output.results_dir, resume->folder);
    fmt::print(stderr, "[kubeproof] resuming the soak in {}/ after {} of {} ({} rounds)\n",
               resume->folder.string(), format_duration(before.elapsed), format_duration(planned), round);
  } else {
    folder.emplace(options.output.results_dir);
  }
  std::unique_ptr<SoakWatches> watches =
      open_soak_watches(clock, setup, cluster_watch_interval, resume ? &*resume->report.soak : nullptr);
  harness.progress().message(first_phase(setup.plan, setup.orchestrator.only), watches->describe());
  watches->start();
  const TimePoint session_start = clock.now();
  auto elapsed = [&] { return elapsed_before + (clock.now() - session_start); };

  engine::Orchestrator* running = nullptr;  // the round going on, for checkpoints
  report::Timeline* timeline = nullptr;     // its per-second series
  auto soak_report = [&](const engine::RunResult* current, bool in_progress) {
    std::map<Phase, engine::PhaseTiming> timings;
    SoakWatchView watched = watches->view();
    ledger.watched_elections(watched.elections, watched.election_notes);
    engine::RunResult whole;
    whole.inputs = ledger.inputs(current, round, timings);
    whole.timings = std::move(timings);
    whole.started = started;
    whole.finished = clock.wall_now();
    whole.aborted = cancel.requested();
    // The checklist's soak is the time etcd's leader was watched: the whole soak when the soak's own watch
    // ran, else the etcd phases' time.
    whole.soak = watched.etcd_watched ? std::max(ledger.etcd_watched(current), watched.etcd_covered)
                                      : ledger.etcd_watched(current);
    eval::EvaluationOptions evaluation_options;
    evaluation_options.tiers = setup.plan.tiers;
    evaluation_options.soak_duration = whole.soak;
    evaluation_options.test_type = config::TestType::soak;
    evaluation_options.aborted = whole.aborted;
    evaluation_options.in_progress = in_progress;
    whole.evaluation = eval::evaluate(whole.inputs, setup.rows, evaluation_options);
    report::Timeline empty(clock);
    report::RunReport report =
        report_of(whole, setup, options, timeline != nullptr ? *timeline : empty, "soak");
    report::SoakRecord soak = record;
    soak.elapsed = report::to_record_precision(elapsed());
    soak.rounds = round;
    soak.etcd_watched = report::to_record_precision(whole.soak);
    soak.phases = ledger.phase_rounds(current, round);
    soak.hours = ledger.hours();
    soak.watches = std::move(watched.watches);
    soak.events = std::move(watched.events);
    soak.events_dropped = watched.events_dropped;
    if (setup.plan.load_profile) {
      soak.factors = ledger.factors();
    }
    report.soak = std::move(soak);
    return report;
  };

  // One cadence for the whole soak, whatever the rounds' lengths: a round shorter than the interval must not
  // escape checkpoints.
  auto write_checkpoint = checkpoint_writer(*folder);
  int checkpoints = 0;
  engine::Checkpointer checkpointer(clock, setup.orchestrator.checkpoint_interval, [&] {
    const std::lock_guard lock(mutex);
    std::optional<engine::RunResult> current = running != nullptr ? running->snapshot() : std::nullopt;
    write_checkpoint(soak_report(current ? &*current : nullptr, true));
    if (std::optional<std::filesystem::path> written = folder->path()) {
      // Said, so whoever watches (a person, a test that kills the soak on purpose) knows what is safe.
      harness.progress().message(
          first_phase(setup.plan, setup.orchestrator.only),
          fmt::format("soak checkpoint {} written to {}/ (round {}, {} of {})", ++checkpoints,
                      written->string(), round, format_duration(elapsed()), format_duration(planned)));
    }
  });
  checkpointer.start();

  engine::OrchestratorOptions orchestrator_options = setup.orchestrator;
  orchestrator_options.checkpoint_interval = Duration{0};  // the soak's own cadence (above)
  std::optional<Error> failure;
  while (!cancel.requested()) {
    const Duration remaining = planned - elapsed();
    if (remaining < std::chrono::milliseconds(100)) {
      break;  // less than any phase can measure in
    }
    // The load profile's factor at the round's start scales every phase's load for the whole round.
    const double factor = config::load_factor(setup.plan, planned - remaining);
    const config::Plan plan =
        config::with_load_factor(round_plan(setup.plan, setup.orchestrator.only, remaining), factor);
    report::Timeline round_timeline(clock);
    report::TimelineProgress timeline_progress(harness.progress(), round_timeline);
    SoakProgress progress(timeline_progress, ledger, mutex, elapsed);
    engine::Orchestrator orchestrator(driver_registry(setup.registry), setup.rows, orchestrator_options,
                                      clock, progress);
    {
      const std::lock_guard lock(mutex);
      ++round;
      ledger.round_started(round, planned - remaining, factor);
      running = &orchestrator;
      timeline = &round_timeline;
    }
    harness.progress().message(
        first_phase(plan, setup.orchestrator.only),
        fmt::format(
            "soak round {} ({} of {} done){}", round, format_duration(planned - remaining),
            format_duration(planned),
            setup.plan.load_profile ? fmt::format(", load factor {}", config::factor_text(factor)) : ""));
    Result<engine::RunResult> ran = orchestrator.run(plan, cancel);
    {
      const std::lock_guard lock(mutex);
      running = nullptr;
      timeline = nullptr;
      if (ran) {
        ledger.round_finished(*ran, round);
      }
    }
    if (!ran && (ran.error().kind == ErrorKind::usage || ran.error().kind == ErrorKind::input)) {
      // The plan's settings were rejected before anything ran (the first round): nothing to report.
      checkpointer.stop();
      harness.stop_view();
      return std::unexpected(ran.error());
    }
    if (!ran) {
      failure = ran.error();
      fmt::print(stderr, "kubeproof: soak round {}: {}\n", round, ran.error().message);
      break;
    }
    if (ran->aborted) {
      break;
    }
  }
  checkpointer.stop();
  watches->stop();
  harness.stop_view();
  report::RunReport report;
  {
    const std::lock_guard lock(mutex);
    // Only a soak whose time was up is finished: after Ctrl-C or a round that could not run, `--resume`
    // continues it.
    record.finished = !cancel.requested() && !failure;
    report = soak_report(nullptr, false);
  }
  if (failure && report.evaluation.overall != eval::Verdict::fail) {
    // A round that could not run (a driver's bug) ends the soak: what the rounds before it measured stays.
    report.evaluation.overall = eval::Verdict::incomplete;
    report.evaluation.overall_reason = fmt::format("the soak stopped in round {}: {}; {}", round,
                                                   failure->message, report.evaluation.overall_reason);
  }
  harness.run_finished(report.evaluation.overall);
  Outcome delivered = deliver_report(report, options.output, *folder);
  harness.linger();
  return delivered;
}

}  // namespace kp::cli
