#include "load/start_time.hpp"

#include <unistd.h>

#include <cctype>
#include <charconv>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/flag_values.hpp"

namespace kp::load {

std::int64_t epoch_ms(WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

WallTime from_epoch_ms(std::int64_t ms) {
  // Callers check times from outside against kLatestEpochMs; the clamp keeps any other value from overflowing
  // the conversion to nanoseconds.
  return WallTime{} + std::chrono::milliseconds(std::clamp(ms, -kLatestEpochMs, kLatestEpochMs));
}

std::string format_wall_ms(WallTime time) {
  const std::int64_t ms = epoch_ms(time);
  const std::int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ms - seconds * 1000);
}

Result<WallTime> parse_start_at(std::string_view flag, std::string_view text, WallTime now) {
  std::int64_t ms = 0;
  const bool digits = !text.empty() && text.size() <= 18 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c) != 0; });
  if (!digits || std::from_chars(text.data(), text.data() + text.size(), ms).ec != std::errc()) {
    return flag_error(flag, "not Unix epoch milliseconds (e.g. 1733140800123)", text);
  }
  if (ms > kLatestEpochMs) {
    return flag_error(
        flag, fmt::format("past the latest time this agent can hold ({}, in 2262)", kLatestEpochMs), text);
  }
  const WallTime start = from_epoch_ms(ms);
  if (start - now > kStartAtMaxAhead) {
    return flag_error(flag,
                      fmt::format("{} is {} ahead of this agent's clock (at most {})", format_wall_ms(start),
                                  format_duration(std::chrono::duration_cast<Duration>(start - now)),
                                  format_duration(kStartAtMaxAhead)),
                      text);
  }
  return start;
}

Result<TimePoint> start_deadline(WallTime start, const Clock& clock) {
  const WallTime wall = clock.wall_now();
  const TimePoint now = clock.now();
  if (wall - start > kStartAtMaxLate) {
    const double late = std::chrono::duration<double>(wall - start).count();
    return fail(
        ErrorKind::timeout,
        fmt::format("--start-at: {} passed {:.1f} s before this agent was ready (more than {}: its "
                    "window would not line up with the other agents'; the runner's lead was too short)",
                    format_wall_ms(start), late,
                    fmt::format("{:g} s", std::chrono::duration<double>(kStartAtMaxLate).count())));
  }
  return now + std::chrono::duration_cast<Duration>(start - wall);
}

std::optional<std::int64_t> process_start_epoch_ms() {
  std::ifstream file("/proc/self/stat");
  std::string stat;
  std::getline(file, stat);
  // Field 2 (comm) may hold spaces and parentheses: the fields after it start past the last ')'.
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  // starttime is field 22; the text after ')' begins with field 3 (state).
  for (int index = 3; index <= 22; ++index) {
    if (!(fields >> field)) {
      return std::nullopt;
    }
  }
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  std::uint64_t ticks = 0;
  if (ticks_per_second <= 0 ||
      std::from_chars(field.data(), field.data() + field.size(), ticks).ec != std::errc()) {
    return std::nullopt;
  }
  timespec boot{};
  timespec wall{};
  if (::clock_gettime(CLOCK_BOOTTIME, &boot) != 0 || ::clock_gettime(CLOCK_REALTIME, &wall) != 0) {
    return std::nullopt;
  }
  const std::int64_t boot_ms = std::int64_t{boot.tv_sec} * 1000 + boot.tv_nsec / 1'000'000;
  const std::int64_t wall_ms = std::int64_t{wall.tv_sec} * 1000 + wall.tv_nsec / 1'000'000;
  const auto started_ms =
      static_cast<std::int64_t>(ticks * 1000 / static_cast<std::uint64_t>(ticks_per_second));
  return wall_ms - (boot_ms - started_ms);
}

}  // namespace kp::load
