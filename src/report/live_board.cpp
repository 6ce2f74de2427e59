#include "report/live_board.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

#include "core/units.hpp"
#include "report/timeline.hpp"

namespace kp::report {
namespace {

// Whole seconds as people read a countdown: "8s", "2m05s", "1h02m".
std::string clock_text(Duration duration) {
  const std::int64_t total =
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(duration).count());
  if (total < 60) {
    return fmt::format("{}s", total);
  }
  if (total < 3600) {
    return fmt::format("{}m{:02}s", total / 60, total % 60);
  }
  return fmt::format("{}h{:02}m", total / 3600, total % 3600 / 60);
}

std::string rate_text(double per_second) {
  return format_quantity(Quantity::rate, per_second, "/s");
}

std::string latency_text(std::optional<double> seconds) {
  return seconds ? format_quantity(Quantity::duration, *seconds) : std::string("-");
}

}  // namespace

std::string progress_bar(double done, std::size_t width) {
  const double share = std::clamp(std::isfinite(done) ? done : 0.0, 0.0, 1.0);
  const auto filled = static_cast<std::size_t>(std::floor(share * static_cast<double>(width)));
  return "[" + std::string(filled, '#') + std::string(width - filled, '-') + "]";
}

std::string cut_to_width(std::string_view text, std::size_t width) {
  if (width == 0) {
    return std::string(text);
  }
  std::size_t columns = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    // A code point starts at every byte that is not a UTF-8 continuation byte.
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (columns == width) {
        return std::string(text.substr(0, i));
      }
      ++columns;
    }
  }
  return std::string(text);
}

LiveBoard::LiveBoard(const Clock& clock, std::map<Phase, Duration> planned)
    : clock_(clock), planned_(std::move(planned)) {}

void LiveBoard::phase_started(Phase phase) {
  PhaseState state;
  state.started = clock_.now();
  state.step_started = state.started;
  if (auto found = planned_.find(phase); found != planned_.end() && found->second > Duration::zero()) {
    state.planned = found->second;
  }
  std::lock_guard lock(mutex_);
  running_[phase] = std::move(state);
}

void LiveBoard::phase_finished(Phase phase) {
  std::lock_guard lock(mutex_);
  running_.erase(phase);
}

void LiveBoard::add(const LiveDelta& delta) {
  const TimePoint now = clock_.now();
  std::lock_guard lock(mutex_);
  auto found = running_.find(delta.phase);
  if (found == running_.end()) {
    return;  // a worker's last hand-over after its phase was judged: the block is gone
  }
  PhaseState& state = found->second;
  state.ok += delta.ok;
  state.errors += delta.errors;
  state.bytes += delta.bytes;
  for (std::size_t i = 0; i < kLiveBuckets; ++i) {
    state.buckets[i] += delta.buckets[i];
  }
  if (delta.finished_later) {
    state.current = std::string(delta.series);
  }
  state.recent.push_back(Arrival{now, delta.ok, delta.bytes});
  while (!state.recent.empty() && state.recent.front().at <= now - kRateWindow) {
    state.recent.pop_front();
  }
}

void LiveBoard::offered(Phase phase, std::optional<double> per_second) {
  std::lock_guard lock(mutex_);
  if (auto found = running_.find(phase); found != running_.end()) {
    found->second.announced = true;
    found->second.offered = per_second;
    // A new step's rate: the window would mix the old step's completions into the new one's.
    found->second.recent.clear();
    found->second.step_started = clock_.now();
  }
}

void LiveBoard::no_live_counts(Phase phase, std::string_view why) {
  std::lock_guard lock(mutex_);
  if (auto found = running_.find(phase); found != running_.end()) {
    found->second.no_live = std::string(why);
  }
}

bool LiveBoard::running() const {
  std::lock_guard lock(mutex_);
  return !running_.empty();
}

std::vector<std::string> LiveBoard::render(TimePoint now, std::size_t width) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> lines;
  for (const auto& [phase, state] : running_) {
    const Duration elapsed = std::max(Duration::zero(), now - state.started);
    std::string head = fmt::format("[{}] {}", to_string(phase), clock_text(elapsed));
    if (state.planned) {
      const double done =
          std::chrono::duration<double>(elapsed) / std::chrono::duration<double>(*state.planned);
      head += fmt::format(" of {} {} ", clock_text(*state.planned), progress_bar(done, 20));
      head += elapsed <= *state.planned ? fmt::format("{} left", clock_text(*state.planned - elapsed))
                                        : fmt::format("overtime {}", clock_text(elapsed - *state.planned));
    }
    std::string offered = !state.announced ? std::string("-")
                          : state.offered  ? rate_text(*state.offered)
                                           : std::string("closed loop");
    std::string achieved = "-";
    if (!state.recent.empty()) {
      // Each hand-over carries about a second of counts: over the window, or over the time since the step
      // started when that is shorter.
      const Duration since = now - state.step_started;
      std::uint64_t ok = 0;
      std::uint64_t bytes = 0;
      for (const Arrival& arrival : state.recent) {
        if (arrival.at > now - kRateWindow) {
          ok += arrival.ok;
          bytes += arrival.bytes;
        }
      }
      const double window =
          std::chrono::duration<double>(std::clamp<Duration>(since, std::chrono::seconds(1), kRateWindow))
              .count();
      // A stream test moves bytes and completes nothing: its rate is a bandwidth.
      achieved = ok == 0 && bytes > 0
                     ? format_quantity(Quantity::bandwidth, 8.0 * static_cast<double>(bytes) / window)
                     : rate_text(static_cast<double>(ok) / window);
    }
    std::string body = fmt::format("      offered {} · achieved {} · P50 {} · P99 {} · errors {}", offered,
                                   achieved, latency_text(live_percentile(state.buckets, 50.0)),
                                   latency_text(live_percentile(state.buckets, 99.0)), state.errors);
    if (!state.current.empty()) {
      body += fmt::format(" · now {}", state.current);
    }
    if (state.no_live) {
      body = "      " + *state.no_live;
    } else if (!state.announced && state.ok == 0 && state.errors == 0 && state.bytes == 0) {
      body = "      preparing: no load yet";
    }
    lines.push_back(cut_to_width(head, width));
    lines.push_back(cut_to_width(body, width));
  }
  return lines;
}

}  // namespace kp::report
