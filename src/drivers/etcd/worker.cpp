#include "drivers/etcd/worker.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "drivers/etcd/client.hpp"

namespace kp::drivers::etcd {
namespace {

// While every client is busy or nothing is due, a worker waits for a completion at most this long before it
// looks at the clock and the cancellation flag again.
constexpr Duration kIdleWait = std::chrono::milliseconds(50);
// After the stage, calls in flight get their request timeout plus this margin before they are cancelled.
constexpr Duration kDrainMargin = std::chrono::seconds(1);
// gRPC's completion queue counts a wait in whole milliseconds, rounded up, so a send due within this waits by
// the clock in short steps (each completion it holds up is late by at most a step).
constexpr Duration kCoarseWait = std::chrono::milliseconds(2);
constexpr Duration kFineStep = std::chrono::microseconds(200);

}  // namespace

Worker::Worker(int index, int workers, std::size_t slots, const Stage& stage, const EngineOptions& options,
               std::uint64_t quota, KvTransport& transport, Clock& clock, engine::CancellationToken& cancel,
               std::function<bool()> stop)
    : index_(index),
      workers_(workers),
      stage_(stage),
      options_(options),
      quota_(quota),
      transport_(transport),
      clock_(clock),
      cancel_(cancel),
      stop_(std::move(stop)),
      keys_(options.key_prefix, options.key_size, options.key_space, options.sequential_keys,
            static_cast<std::uint64_t>(index), static_cast<std::uint64_t>(workers),
            options.seed * 7919 + static_cast<std::uint64_t>(index)),
      random_(options.seed * 104729 + static_cast<std::uint64_t>(index)),
      live_put_(options.live, Phase::etcd, "put"),
      live_range_(options.live, Phase::etcd, "range"),
      slots_(slots) {
  for (std::size_t i = slots; i > 0; --i) {
    idle_.push_back(i - 1);  // slot 0 first
  }
}

WorkerResult Worker::run(TimePoint start) {
  start_ = start;
  end_ = start + stage_.duration;
  last_success_ = start;
  if (stage_.rate) {
    pacer_.emplace(Rate{stage_.rate->per_second / std::max(1, workers_)}, options_.arrival, start,
                   options_.seed + static_cast<std::uint64_t>(index_));
    run_open_loop();
  } else {
    run_closed_loop();
  }
  drain();
  if (pacer_) {
    result_.pacer = pacer_->stats();
  }
  return std::move(result_);
}

// Whether the worker must stop sending now. Checked before every send.
bool Worker::should_stop(TimePoint now) {
  if (cancel_.requested() || (stop_ && stop_())) {
    result_.cancelled = true;
    return true;
  }
  if (now >= end_) {
    return true;
  }
  if (result_.issued >= quota_) {
    quota_reached_ = true;
    return true;
  }
  if (errors_since_success_ > 0 && now - last_success_ >= options_.failure_window) {
    result_.stopped_early =
        fmt::format("no request succeeded for {} ({} failed in a row; first: {})",
                    format_duration(options_.failure_window), errors_since_success_, result_.first_error);
    return true;
  }
  return false;
}

void Worker::run_open_loop() {
  TimePoint intended = pacer_->next();
  TimePoint now = clock_.now();
  while (true) {
    now = clock_.now();
    if (should_stop(now) || intended >= end_) {
      break;  // past the stage (or told to stop): only completions are left to collect
    }
    if (now >= intended && !idle_.empty()) {
      send(intended, now);
      intended = pacer_->next();
      continue;
    }
    if (in_flight_ == 0 && intended - now > kCoarseWait) {
      // Nothing in flight, so no completion can come before the send: one sleep to its time by the clock,
      // instead of a transport wait to 2 ms before it and then steps (bounded, so cancellation is still seen
      // at low rates). Within the last 2 ms the steps stay: a single sleep there measured more context
      // switches per request at 500-1000/s (bench/RESULTS.md, issue 20; the cause was not found).
      clock_.sleep_until(std::min({intended, now + kIdleWait, end_}));
      continue;
    }
    if (!idle_.empty() && intended - now <= kCoarseWait) {
      // Close to the next send: collect a completion without blocking, else sleep a short step by the clock,
      // so the send goes out on time (a transport's wait may wake a millisecond late).
      if (!poll(Duration{0})) {
        clock_.sleep_until(std::min<TimePoint>(intended, clock_.now() + kFineStep));
      }
      continue;
    }
    // Wait for a completion until shortly before the next send is due (or a short while when every client is
    // busy, because a completion is what frees one).
    Duration wait = idle_.empty() ? kIdleWait : std::min<Duration>(intended - now - kCoarseWait, kIdleWait);
    poll(std::max<Duration>(Duration{0}, std::min<Duration>(wait, end_ - now)));
  }
  if (quota_reached_) {
    return;  // a count ended the stage: nothing more was due
  }
  // Sends that fell due before the window closed ([start, end): a send intended at the very end is past it)
  // and never went out: the server's when every slot was still busy (or the send was due during the last
  // all-busy wait), the generator's otherwise.
  const TimePoint window_end = std::min(now, end_);
  while (intended < window_end) {
    ++result_.sends.due;
    if (idle_.empty() || intended <= slot_freed_) {
      ++result_.sends.queued_for_server;
      ++result_.sends.unsent_for_server;
    }
    intended = pacer_->next();
  }
}

void Worker::run_closed_loop() {
  while (true) {
    TimePoint now = clock_.now();
    if (should_stop(now)) {
      return;
    }
    if (!idle_.empty()) {
      send(now, now);
      continue;
    }
    poll(std::max<Duration>(Duration{0}, std::min<Duration>(kIdleWait, end_ - now)));
  }
}

void Worker::send(TimePoint intended, TimePoint now) {
  const std::size_t index = idle_.back();
  idle_.pop_back();
  Slot& slot = slots_[index];
  slot.is_range = stage_.read_fraction >= 1.0 ||
                  (stage_.read_fraction > 0 &&
                   std::uniform_real_distribution<double>(0, 1)(random_) < stage_.read_fraction);
  slot.busy = true;
  slot.intended = intended;
  slot.sent = now;
  ++result_.issued;
  ++in_flight_;
  if (pacer_) {
    pacer_->record_send(intended, now);
    ++result_.sends.due;
    ++result_.sends.sent;
    if (intended <= slot_freed_) {
      ++result_.sends.queued_for_server;  // it fell due while every slot was busy: the server's wait
    } else {
      result_.sends.own_lateness.record(std::max<std::int64_t>(0, (now - intended).count()));
    }
  }
  transport_.start(index, slot.is_range, keys_.next(), options_.request_timeout);
}

// Handles at most one completion, waiting up to `wait`; whether one came.
bool Worker::poll(Duration wait) {
  if (std::optional<Completion> completion = transport_.next(wait)) {
    complete(*completion);
    return true;
  }
  return false;
}

void Worker::complete(const Completion& completion) {
  TimePoint now = clock_.now();
  Slot& slot = slots_.at(completion.slot);
  if (!slot.busy) {
    return;  // not ours in flight: a transport must not report it, and counting it would corrupt the table
  }
  slot.busy = false;
  --in_flight_;
  if (idle_.empty()) {
    // Every slot was busy until now: a send due before now waited for the server, not for the generator.
    slot_freed_ = now;
  }
  OperationStats& stats = slot.is_range ? result_.range : result_.put;
  LiveSeries& live = slot.is_range ? live_range_ : live_put_;
  if (completion.ok) {
    ++stats.ok;
    stats.latency.record(slot.intended, slot.sent, now);
    live.record(now, now - slot.intended);
    last_success_ = now;
    errors_since_success_ = 0;
  } else {
    ++stats.errors;
    live.record_error(now);
    auto code = static_cast<std::size_t>(completion.code);
    if (code < stats.by_code.size()) {
      ++stats.by_code[code];
    }
    if (result_.first_error.empty()) {
      result_.first_error = fmt::format("{} {}", slot.is_range ? "Range" : "Put",
                                        describe_status(completion.code, completion.message));
    }
    ++errors_since_success_;
  }
  result_.last_completion = std::max(result_.last_completion, now);
  idle_.push_back(completion.slot);
}

// Collects the calls still in flight; each has its own deadline, and any that outlives it (plus a margin)
// is cancelled, which completes it at once. Then shuts the transport down.
void Worker::drain() {
  TimePoint give_up = clock_.now() + options_.request_timeout + kDrainMargin;
  bool cancelled_calls = false;
  while (in_flight_ > 0) {
    if (!cancelled_calls && clock_.now() >= give_up) {
      transport_.cancel_in_flight();
      cancelled_calls = true;
    }
    poll(kIdleWait);
  }
  transport_.shutdown();
}

}  // namespace kp::drivers::etcd
