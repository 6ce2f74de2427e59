#pragma once

// An agent's live counts cross the process boundary as lines on its stderr (`--live-lines`): the net client
// in the lab is a child process inside a network namespace (drivers/net/agent_process.hpp), and on a cluster
// the net, dns and storage agents are pods whose logs kubeproof follows (cluster/pod_runner.hpp:
// follow_lines), so their LiveSeries cannot reach kubeproof's LiveSink directly. One line per hand-over,
// `kp-live {json}`, next to the agent's human progress lines; the parent reads them as they come and hands
// them to its own sink.
//
// Live counts are for watching (core/live.hpp): a garbled line is dropped, never an error of the test.

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/live.hpp"

namespace kp {

inline constexpr std::string_view kLiveLinePrefix = "kp-live ";

// The line for one hand-over, without its newline. The phase is not sent: the parent knows the test. The
// series is sent when the delta names one, for parents that cannot know it: a storage agent runs its fio jobs
// one after another, and only it knows which job a count belongs to.
std::string live_line(const LiveDelta& delta);

// A live line as read: its counts, and the series the agent named.
struct LiveLine {
  LiveDelta delta;     // phase and series left to the caller (a string_view could not own the name)
  std::string series;  // empty when the line names none
};

// The live line `line`, or nullopt when it is not one or is malformed: a count that is not an unsigned
// integer, a bucket list of the wrong length, buckets that do not add up to `ok` (a Prometheus histogram
// whose count differs from its +Inf bucket is malformed), or a series name that is not 1 to
// kMaxLiveSeriesName characters of letters, digits, space and `_.:+/-` (it becomes a label of /metrics).
std::optional<LiveLine> read_live_line(std::string_view line);
inline constexpr std::size_t kMaxLiveSeriesName = 80;

// read_live_line's counts alone, for parents that name the series themselves.
std::optional<LiveDelta> parse_live_line(std::string_view line);

// A LiveSink that writes each hand-over as a live line. Thread-safe: every stream worker hands over to it.
// `write` gets one whole line at a time, under the sink's lock.
class LineLiveSink final : public LiveSink {
 public:
  explicit LineLiveSink(std::function<void(std::string_view)> write) : write_(std::move(write)) {}
  void add(const LiveDelta& delta) override;

 private:
  std::mutex mutex_;
  std::function<void(std::string_view)> write_;
};

}  // namespace kp
