#pragma once

// An agent's live counts cross the process boundary as lines on its stderr (`--live-lines`): the net client
// in the lab is a child process inside a network namespace (drivers/net/agent_process.hpp), and on a cluster
// the net and dns agents are pods whose logs kubeproof follows (cluster/pod_runner.hpp: follow_lines), so
// their LiveSeries cannot reach kubeproof's LiveSink directly. One line per hand-over, `kp-live {json}`, next
// to the agent's human progress lines; the parent reads them as they come and hands them to its own sink.
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

// The line for one hand-over, without its newline. The series is not sent: the parent knows the test.
std::string live_line(const LiveDelta& delta);

// The counts of a live line (phase and series left to the caller), or nullopt when `line` is not one or is
// malformed: a count that is not an unsigned integer, a bucket list of the wrong length, or buckets that do
// not add up to `ok` (a Prometheus histogram whose count differs from its +Inf bucket is malformed).
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
