#pragma once

// A phase whose load hands over no live counts on this run's target, and why: on --target cluster the
// network, dns and storage agents run as pods whose results are read from their logs when their load ends.
// The live consumers (the terminal view) then say so instead of showing a rate of 0 or "preparing" for the
// whole phase.
//
// Kept beside LiveSink rather than in it, as OfferedSink is: a driver holds a LiveSink* and announces through
// announce_no_live_counts(), which reaches the sinks that want it.

#include <string>
#include <string_view>

#include "core/live.hpp"
#include "core/phase.hpp"

namespace kp {

class LiveNoticeSink {
 public:
  virtual ~LiveNoticeSink() = default;
  // `phase` will hand over no live counts, for `why` ("the agents report from their pod logs when their
  // load ends"). Thread-safe.
  virtual void no_live_counts(Phase phase, std::string_view why) = 0;
};

// Announces to `sink` when it is a LiveNoticeSink; a null sink or one that does not want it: nothing.
inline void announce_no_live_counts(LiveSink* sink, Phase phase, std::string_view why) {
  if (auto* wants = dynamic_cast<LiveNoticeSink*>(sink); wants != nullptr) {
    wants->no_live_counts(phase, why);
  }
}

// What the cluster paths announce: one sentence, the same for every agent phase.
inline constexpr std::string_view kAgentPodsReportAtEnd =
    "live figures are not available on --target cluster: the agent pods' results are read from their logs "
    "when their load ends";

}  // namespace kp
