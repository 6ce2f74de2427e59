#pragma once

// The rate a phase's load schedule offers, announced to the live consumers (the terminal view, report.json's
// per-second offered series) once per steady run or stress step: never per request.
//
// Kept beside LiveSink rather than in it: a load engine holds a LiveSink* and announces through
// announce_offered(), which reaches the sinks that want it (those that also derive from OfferedSink).

#include <optional>

#include "core/live.hpp"
#include "core/phase.hpp"

namespace kp {

class OfferedSink {
 public:
  virtual ~OfferedSink() = default;
  // `phase`'s schedule offers `per_second` from now on (nullopt: closed loop, as fast as it goes). Called by
  // the thread that starts the run or step. Thread-safe.
  virtual void offered(Phase phase, std::optional<double> per_second) = 0;
};

// Announces to `sink` when it is an OfferedSink; a null sink or one that does not want it: nothing.
inline void announce_offered(LiveSink* sink, Phase phase, std::optional<double> per_second) {
  if (auto* wants = dynamic_cast<OfferedSink*>(sink); wants != nullptr) {
    wants->offered(phase, per_second);
  }
}

}  // namespace kp
