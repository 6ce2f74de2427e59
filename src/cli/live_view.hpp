#pragma once

// The live terminal view of a run (issue 17): when stderr is a terminal, progress lines scroll as before and
// below them one status block per running phase (report/live_board.hpp) is redrawn in place, at most
// kRedrawInterval apart, by a thread of its own. When stderr is not a terminal (CI, a pipe, a file) the run
// writes the plain progress lines only: make_progress() returns a StderrProgress then.
//
// In place: the block is erased by moving the cursor up over it and clearing to the end of the screen, then
// written again, in one write; a progress line erases the block, prints, and redraws it. Every line of the
// block is cut to the terminal's width so no line wraps (a wrapped line would break the count of lines to
// move up over). Nothing else may write to stderr while a block is drawn; the CLI prints its own lines
// before the run starts and after stop().
//
// Cost: the load generators hand over their counts once a second per thread whatever the view does; the
// view's thread wakes 4 times a second and formats a few lines (bench/RESULTS.md: its CPU cost).

#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "engine/driver.hpp"
#include "report/live_board.hpp"

namespace kp::cli {

inline constexpr Duration kRedrawInterval = std::chrono::milliseconds(250);

class LiveView final : public engine::ProgressSink {
 public:
  // Draws on `terminal` (a TTY); `planned`: each phase's duration from the plan, for the bar.
  LiveView(std::FILE* terminal, const Clock& clock, std::map<Phase, Duration> planned);
  ~LiveView() override;
  LiveView(const LiveView&) = delete;
  LiveView& operator=(const LiveView&) = delete;

  void message(Phase phase, std::string_view text) override;
  void phase_started(Phase phase, WallTime at) override;
  void phase_finished(Phase phase, const std::vector<Measurement>& measurements, eval::Verdict verdict,
                      WallTime at) override;
  LiveSink* live_sink() override { return &board_; }

  // Erases the block and stops the redraw thread; after it, stderr is the caller's again. Idempotent.
  void stop();

 private:
  void redraw_loop();
  // With mutex_ held: the erase sequence for what is on screen, then (when `draw`) the block as of now.
  std::string frame(bool draw);

  std::FILE* terminal_;
  const Clock& clock_;
  report::LiveBoard board_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::size_t drawn_lines_ = 0;  // lines of the block now on screen
  std::thread thread_;
};

// The progress sink for people: a LiveView on stderr when it is a terminal, else plain lines
// (StderrProgress).
std::unique_ptr<engine::ProgressSink> make_progress(const Clock& clock, std::map<Phase, Duration> planned);

}  // namespace kp::cli
