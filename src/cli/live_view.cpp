#include "cli/live_view.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/progress.hpp"

namespace kp::cli {
namespace {

// Columns of the terminal behind `file`; 0 when unknown. The last column stays empty: some terminals wrap
// a line that fills it.
std::size_t columns_of(std::FILE* file) {
  winsize size{};
  if (ioctl(fileno(file), TIOCGWINSZ, &size) != 0 || size.ws_col < 2) {
    return 0;
  }
  return static_cast<std::size_t>(size.ws_col) - 1;
}

}  // namespace

LiveView::LiveView(std::FILE* terminal, const Clock& clock, std::map<Phase, Duration> planned)
    : terminal_(terminal), clock_(clock), board_(clock, std::move(planned)) {
  thread_ = std::thread([this] { redraw_loop(); });
}

LiveView::~LiveView() {
  stop();
}

void LiveView::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
    const std::string erase = frame(false);
    std::fputs(erase.c_str(), terminal_);
    std::fflush(terminal_);
  }
  wake_.notify_all();
  thread_.join();
}

std::string LiveView::frame(bool draw) {
  std::string out;
  if (drawn_lines_ > 0) {
    out += fmt::format("\r\x1b[{}A\x1b[J", drawn_lines_);
    drawn_lines_ = 0;
  }
  if (!draw) {
    return out;
  }
  for (const std::string& line : board_.render(clock_.now(), columns_of(terminal_))) {
    out += line;
    out += '\n';
    ++drawn_lines_;
  }
  return out;
}

void LiveView::message(Phase phase, std::string_view text) {
  std::lock_guard lock(mutex_);
  // The line goes above the block: erase, print, draw again, in one write.
  std::string out = frame(false);
  out += fmt::format("[{}] {}\n", to_string(phase), text);
  if (!stopping_) {
    out += frame(true);
  }
  std::fputs(out.c_str(), terminal_);
  std::fflush(terminal_);
}

void LiveView::phase_started(Phase phase, WallTime /*at*/) {
  board_.phase_started(phase);
  wake_.notify_all();
}

void LiveView::phase_finished(Phase phase, const std::vector<Measurement>& /*measurements*/,
                              eval::Verdict /*verdict*/, WallTime /*at*/) {
  board_.phase_finished(phase);
  std::lock_guard lock(mutex_);
  const std::string out = frame(!stopping_);
  std::fputs(out.c_str(), terminal_);
  std::fflush(terminal_);
}

void LiveView::redraw_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (board_.running()) {
      const std::string out = frame(true);
      std::fputs(out.c_str(), terminal_);
      std::fflush(terminal_);
      // A UI cadence, not a synchronisation: nothing waits for a frame.
      wake_.wait_for(lock, kRedrawInterval, [this] { return stopping_; });
    } else {
      wake_.wait_for(lock, kRedrawInterval, [this] { return stopping_ || board_.running(); });
    }
  }
}

std::unique_ptr<engine::ProgressSink> make_progress(const Clock& clock, std::map<Phase, Duration> planned) {
  if (isatty(fileno(stderr)) == 1) {
    return std::make_unique<LiveView>(stderr, clock, std::move(planned));
  }
  return std::make_unique<StderrProgress>();
}

}  // namespace kp::cli
