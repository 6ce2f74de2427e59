#pragma once

// The time logic of one load worker, without sockets: the schedule (open loop: an OpenLoopQueue of intended
// send times; closed loop: a request budget), which connection takes which intended time, the request in
// flight on each connection (intended, sent, deadline), and the results (latencies, status classes, counts,
// and who a late send belongs to).
//
// The epoll worker (http_worker.cpp) does the I/O and reports every event here with its clock's time; unit
// tests report the same events from a FakeClock and a simulated server, so the schedule, lateness, timeouts
// and queueing are tested without a socket.
//
// Slots: a slot is a keep-alive connection, or (connection per request) a place for one connection in
// flight. The worker says when a slot can take a request (ready) and when it cannot any more (not_ready).
//
// Who a late send belongs to (load/validity.hpp): an intended time that found a ready slot at its first
// dispatch and still went out late was late because of the generator (its event loop or CPU): its lag goes
// into own_lateness. One that found every slot busy waited for the server: it is counted in `queued` and its
// lag is the server's latency (the corrected latency already includes it), never the generator's.
//
// Not thread-safe: one per worker thread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/live.hpp"
#include "core/pacer.hpp"
#include "core/units.hpp"
#include "drivers/ingress/load.hpp"
#include "drivers/ingress/open_loop.hpp"

namespace kp::drivers::ingress {

struct FlowOptions {
  std::size_t slots = 1;
  std::optional<Rate> rate;  // open loop at this rate (this worker's share); unset: closed loop
  Arrival arrival = Arrival::constant;
  TimePoint start{};                 // the run's start: latencies and series count from here
  TimePoint first_intended{};        // open loop: the first intended send time (start + this worker's offset)
  TimePoint end = TimePoint::max();  // the end of the sending window (TimePoint::max(): count only)
  std::optional<std::uint64_t> budget;  // requests this worker may send
  // A request's response must arrive this long after its send; an intended time waiting in the queue longer
  // than this times out without being sent.
  Duration timeout = std::chrono::seconds(5);
  Duration late_tolerance = std::chrono::milliseconds(1);  // for PacerStats::late_sends
  std::uint64_t seed = 1;
  std::size_t max_pending = std::size_t{1} << 20;  // queued intended times, at most
};

// Up to 5 distinct error texts for people (LoadResult::error_samples).
void keep_error_sample(LoadResult& result, std::string text);

class RequestFlow {
 public:
  // `result` and `live` (null: off) are where completions and errors are recorded; they outlive the flow.
  RequestFlow(const FlowOptions& options, LoadResult& result, LiveSeries* live);

  bool open_loop() const { return queue_.has_value(); }
  std::size_t slots() const { return slots_.size(); }

  // The slot can take a request now (an idle keep-alive connection; a free slot for a new connection).
  void ready(std::size_t slot);
  // The slot cannot take one (closed, reconnecting, in back-off); readiness is checked when dispatching.
  void not_ready(std::size_t slot) { slots_[slot].ready = false; }
  bool is_ready(std::size_t slot) const { return slots_[slot].ready; }

  // Hands due intended times (open loop) or the next requests (closed loop) to ready slots, calling
  // start(slot) for each; start must begin the request's I/O (it may call back into the flow). Does nothing
  // once sending is over. Returns the next intended time still in the future (TimePoint::max(): none).
  template <typename Start>
  TimePoint dispatch(TimePoint now, Start&& start) {
    if (sending_over_) {
      return TimePoint::max();
    }
    if (!open_loop()) {
      while (!budget_exhausted()) {
        std::optional<std::size_t> slot = take_ready();
        if (!slot) {
          break;
        }
        assign(*slot, now, false, now);
        start(*slot);
      }
      return TimePoint::max();
    }
    TimePoint next = queue_->advance(now);
    while (!queue_->empty()) {
      std::optional<std::size_t> slot = take_ready();
      if (!slot) {
        break;
      }
      OpenLoopQueue::Entry entry = queue_->pop_entry();
      if (now - entry.intended > timeout_) {
        timed_out_in_queue(entry, now);
        ready(*slot);
        continue;
      }
      assign(*slot, entry.intended, entry.waited, now);
      start(*slot);
    }
    if (!queue_->empty()) {
      queue_->mark_waiting();  // every slot is busy with the server: what is left waits for it
    }
    return next;
  }

  // The request on `slot` starts going out (after the connect, in connection-per-request mode): the service
  // time and the response deadline count from now.
  void sending(std::size_t slot, TimePoint now);
  // Its bytes are all written.
  void written(std::size_t slot, TimePoint now);
  // Its response is complete with HTTP status `code`.
  void completed(std::size_t slot, TimePoint now, int code);
  // The request on `slot` is gone without a response (the worker counts why: timeout, reset, ...).
  void dropped(std::size_t slot);

  bool has_request(std::size_t slot) const { return slots_[slot].has_request; }
  TimePoint intended(std::size_t slot) const { return slots_[slot].intended; }
  // Slots whose request was sent more than `timeout` ago without a complete response.
  std::vector<std::size_t> expired(TimePoint now) const;
  std::uint64_t inflight() const { return inflight_; }

  // A failed request or connection attempt: the per-second error series and the live error count.
  void count_error(TimePoint now);
  // Keeps up to 5 distinct error texts for people.
  void note_error(std::string text);

  // Nothing more to send: the schedule is exhausted and empty, or the budget is spent.
  bool done_sending() const;
  bool sending_over() const { return sending_over_; }
  // Stops sending at `now` (the end of the window, the last request, or cancellation): intended times still
  // queued are counted unsent, each the server's (it waited for a connection) or the generator's.
  void stop_sending(TimePoint now);
  // After the drain: the window, elapsed time, pacer statistics and issued count.
  void finish();

 private:
  struct Slot {
    bool ready = false;
    bool in_list = false;
    bool has_request = false;
    TimePoint intended{};
    TimePoint sent{};
    TimePoint deadline = TimePoint::max();
  };

  bool budget_exhausted() const { return budget_ && *budget_ == 0; }
  std::optional<std::size_t> take_ready();
  void assign(std::size_t slot, TimePoint intended, bool waited, TimePoint now);
  void timed_out_in_queue(const OpenLoopQueue::Entry& entry, TimePoint now);

  LoadResult& result_;
  LiveSeries* live_;
  std::vector<Slot> slots_;
  std::vector<std::size_t> ready_list_;  // a stack; entries may be stale (checked when taken)
  std::optional<OpenLoopQueue> queue_;
  std::optional<std::uint64_t> budget_;  // closed loop: requests this worker may still send
  TimePoint start_;
  TimePoint end_;
  Duration timeout_;
  TimePoint window_end_ = TimePoint::max();
  TimePoint last_completion_{};
  std::uint64_t inflight_ = 0;
  bool sending_over_ = false;
};

}  // namespace kp::drivers::ingress
