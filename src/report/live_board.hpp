#pragma once

// What the live terminal view shows while a run goes on (cli/live_view.hpp draws it): one status block per
// running phase, from the same once-a-second hand-overs live metrics get (core/live.hpp), so the load
// generators pay nothing per request for it:
//
//   [dns] 12s of 30s [##########----------] 18s left
//         offered 1.00k/s · achieved 998/s · P50 1.20ms · P99 4.50ms · errors 0
//
// - elapsed counts from phase_started (the phase's prepare included); the planned length is the phase's
//   duration in the plan; past it, "overtime" instead of the time left (a stress search, agents' start-up);
// - offered is what the phase's schedule announced last (OfferedSink::offered): "closed loop" for a max rate,
//   "-" when it announced none (fio's jobs: each has its own rate);
// - a phase that runs one test after another and hands over counts for watching only (LiveDelta::
//   finished_later: fio's jobs, the network tests) also shows which one ran last ("now randread-4k");
// - a phase that hands over no live counts on this target (core/live_notice.hpp: agent pods on a cluster)
//   says why instead of its figures;
// - achieved is the successful completions of the last kRateWindow, counted when each hand-over arrives, so
//   it trails the load by about a second; P50/P99 are over the phase so far, interpolated within the live
//   buckets (report/timeline.hpp: live_percentile); errors is the count so far.
//
// Thread-safe: workers add() and offered() from their threads, the orchestrator's thread reports phase
// events, the view's thread renders. Time comes from the injected clock.

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/live.hpp"
#include "core/live_notice.hpp"
#include "core/offered_sink.hpp"
#include "core/phase.hpp"

namespace kp::report {

// The window the achieved rate is counted over.
inline constexpr Duration kRateWindow = std::chrono::seconds(3);

class LiveBoard final : public LiveSink, public OfferedSink, public LiveNoticeSink {
 public:
  // `planned`: each phase's duration from the plan (a phase without one shows no bar).
  LiveBoard(const Clock& clock, std::map<Phase, Duration> planned);

  void phase_started(Phase phase);
  void phase_finished(Phase phase);
  void add(const LiveDelta& delta) override;
  void offered(Phase phase, std::optional<double> per_second) override;
  void no_live_counts(Phase phase, std::string_view why) override;

  bool running() const;
  // The blocks of the running phases at `now`, two lines each, each cut to `width` columns (0: no limit).
  std::vector<std::string> render(TimePoint now, std::size_t width) const;

 private:
  struct Arrival {
    TimePoint at;
    std::uint64_t ok = 0;
    std::uint64_t bytes = 0;
  };
  struct PhaseState {
    TimePoint started{};
    std::optional<Duration> planned;
    bool announced = false;         // the schedule announced a rate (or closed loop)
    std::optional<double> offered;  // unset with `announced`: closed loop
    TimePoint step_started{};       // the phase's start, or its last announcement
    std::deque<Arrival> recent;     // hand-overs within kRateWindow of the last one
    std::uint64_t ok = 0;
    std::uint64_t errors = 0;
    std::uint64_t bytes = 0;
    std::array<std::uint64_t, kLiveBuckets> buckets{};
    std::string current;                 // the series of the last finished_later hand-over
    std::optional<std::string> no_live;  // why no live counts come (core/live_notice.hpp)
  };

  const Clock& clock_;
  const std::map<Phase, Duration> planned_;
  mutable std::mutex mutex_;
  std::map<Phase, PhaseState> running_;
};

// "[##########----------]": `done` of `width` cells filled (done clamped to 0..1).
std::string progress_bar(double done, std::size_t width);
// `text` cut to `width` display columns (code points; 0: unchanged).
std::string cut_to_width(std::string_view text, std::size_t width);

}  // namespace kp::report
