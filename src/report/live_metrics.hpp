#pragma once

// What `kubeproof run --metrics-listen` serves while a run goes on: the run, each phase's state, live
// completion counts and latency histograms from the load generators' worker threads (core/live.hpp), and,
// as soon as a phase is judged, its measured values and verdict under the same names metrics.prom uses
// (kubeproof_metric, kubeproof_phase_verdict, kubeproof_verdict), so one dashboard serves both.
//
// Thread-safe: workers add() from their threads, the orchestrator's thread reports phase events, the
// metrics server's thread render()s.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/live.hpp"
#include "core/live_notice.hpp"
#include "core/measurement.hpp"
#include "core/offered_sink.hpp"
#include "engine/driver.hpp"
#include "eval/verdict.hpp"

namespace kp::report {

struct LiveRunInfo {
  std::string run_id;
  std::string plan;    // the plan's name
  std::string type;    // smoke, load, stress (metrics.prom's `profile` label)
  std::string target;  // local, cluster
};

class LiveMetrics final : public LiveSink {
 public:
  explicit LiveMetrics(LiveRunInfo info);

  void add(const LiveDelta& delta) override;
  void phase_started(Phase phase, WallTime at);
  void phase_finished(Phase phase, const std::vector<Measurement>& measurements, eval::Verdict verdict,
                      WallTime at);
  void run_finished(eval::Verdict overall);

  // The exposition text (format 0.0.4) as of now.
  std::string render() const;

  // The metric family names render() can produce (for dashboards and their tests).
  static std::vector<std::string_view> families();

 private:
  struct Totals {
    std::uint64_t ok = 0;
    std::uint64_t errors = 0;
    std::array<std::uint64_t, kLiveBuckets> buckets{};
    std::int64_t latency_sum_ns = 0;
    std::uint64_t bytes = 0;
  };
  struct PhaseState {
    std::optional<WallTime> started;
    std::optional<WallTime> finished;
    std::optional<eval::Verdict> verdict;
    std::vector<Measurement> measurements;
  };

  const LiveRunInfo info_;
  mutable std::mutex mutex_;
  std::map<std::pair<Phase, std::string>, Totals> totals_;
  std::map<Phase, PhaseState> phases_;
  std::optional<eval::Verdict> overall_;
};

// Progress for people (forwarded) plus live metrics for `run --metrics-listen`: phase events and the load
// generators' counts go to `live` and to people's own sink (the live terminal view). Both must outlive this
// object.
class LiveProgress final : public engine::ProgressSink,
                           public LiveSink,
                           public OfferedSink,
                           public LiveNoticeSink {
 public:
  LiveProgress(engine::ProgressSink& people, LiveMetrics& live) : people_(people), live_(live) {}
  void message(Phase phase, std::string_view text) override { people_.message(phase, text); }
  void phase_started(Phase phase, WallTime at) override {
    live_.phase_started(phase, at);
    people_.phase_started(phase, at);
  }
  void phase_finished(Phase phase, const std::vector<Measurement>& measurements, eval::Verdict verdict,
                      WallTime at) override {
    live_.phase_finished(phase, measurements, verdict, at);
    people_.phase_finished(phase, measurements, verdict, at);
  }
  void add(const LiveDelta& delta) override {
    live_.add(delta);
    if (LiveSink* sink = people_.live_sink(); sink != nullptr) {
      sink->add(delta);
    }
  }
  void offered(Phase phase, std::optional<double> per_second) override {
    announce_offered(people_.live_sink(), phase, per_second);
  }
  void no_live_counts(Phase phase, std::string_view why) override {
    announce_no_live_counts(people_.live_sink(), phase, why);
  }
  LiveSink* live_sink() override { return this; }

 private:
  engine::ProgressSink& people_;
  LiveMetrics& live_;
};

}  // namespace kp::report
