#pragma once

// Checkpoints: while a run goes on, what it has measured so far is handed to a writer every `interval` of
// the injected clock, so a run killed outright (kill -9, a lost machine) keeps its data up to the last one.
//
// CheckpointCadence is the schedule as pure logic: due every interval from the start; after a checkpoint the
// next is the first tick after it (ticks missed while a slow write ran are skipped, never bunched).
//
// Checkpointer owns one ticker thread between start() and stop(): it waits on the clock until the next tick
// and calls `checkpoint`. On the real clock it waits on a condition variable (stop() wakes it at once); on a
// FakeClock it waits for the test to move the clock (FakeClock::wait_reached) and never moves time itself.
// `checkpoint` runs on the ticker thread, or on the caller's of poll(); calls never overlap. The callback
// must not throw (the ticker catches and drops what it throws: a failed checkpoint must not end a 24 h run;
// the writer reports its own errors).

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "core/clock.hpp"

namespace kp::engine {

class CheckpointCadence {
 public:
  // interval > 0.
  CheckpointCadence(Duration interval, TimePoint start);
  bool due(TimePoint now) const { return now >= next_; }
  TimePoint next() const { return next_; }
  // A checkpoint was taken at `now`: the next is the first tick strictly after it.
  void taken(TimePoint now);

 private:
  Duration interval_;
  TimePoint start_;
  TimePoint next_;
};

class Checkpointer {
 public:
  Checkpointer(Clock& clock, Duration interval, std::function<void()> checkpoint);
  ~Checkpointer();  // stops the ticker
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // The first checkpoint is due one interval from now.
  void start();
  // Joins the ticker; no checkpoint begins after it returns. Idempotent.
  void stop();
  // Takes a checkpoint if one is due on the clock; returns whether it did.
  bool poll();
  // How many checkpoints were taken.
  int taken() const { return taken_.load(); }

 private:
  void tick_loop();
  // Waits until `deadline` or stop(); returns true when stopped.
  bool wait(TimePoint deadline);

  Clock& clock_;
  Duration interval_;
  std::function<void()> checkpoint_;
  std::mutex mutex_;  // guards cadence_ and serialises checkpoints
  CheckpointCadence cadence_;
  std::mutex wait_mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> taken_{0};
  std::thread ticker_;
};

}  // namespace kp::engine
