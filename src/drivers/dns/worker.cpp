#include "drivers/dns/worker.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <limits>

#include <fmt/format.h>

namespace kp::drivers::dns {
namespace {

// Messages per UDP batch (the Io's sendmmsg): a turn's queries go out on one socket up to this many.
constexpr std::size_t kBatch = 64;
// Lookups started in one loop turn at most, so a backlog cannot starve the receive side.
constexpr std::size_t kMaxStartsPerTurn = 1024;
// The longest a worker sleeps: cancellation and the other workers' stop are noticed within this.
constexpr Duration kMaxWait = std::chrono::milliseconds(20);

}  // namespace

void Shared::request_stop(std::string reason) {
  std::lock_guard lock(mutex);
  if (stop_reason.empty()) {
    stop_reason = std::move(reason);
  }
  stop.store(true, std::memory_order_release);
}

Worker::Worker(const Workload& workload, const LoadOptions& options, WorkerShare share, Clock& clock,
               engine::CancellationToken& cancel, Shared& shared, std::unique_ptr<WorkerIo> io)
    : workload_(workload),
      options_(options),
      share_(share),
      clock_(clock),
      cancel_(cancel),
      shared_(shared),
      io_(std::move(io)),
      in_flight_(share.window),
      cursor_(share.first_lookup),
      live_(options.live, Phase::dns, "query") {}

Result<void> Worker::open() {
  const TimePoint now = clock_.now();
  for (int c = 0; c < share_.clients; ++c) {
    auto first_id =
        static_cast<std::uint16_t>((options_.seed * 7919 + static_cast<std::uint64_t>(share_.index) * 4099 +
                                    static_cast<std::uint64_t>(c) * 257) &
                                   0xffff);
    Result<std::uint32_t> channel = io_->open(options_.protocol, now, *this);
    if (!channel) {
      return std::unexpected(channel.error());
    }
    in_flight_.add_channel(first_id);
    channels_.push_back(options_.protocol);
  }
  primary_channels_ = channels_.size();
  return {};
}

void Worker::run(TimePoint start, const std::function<bool()>& pool_stop) {
  // Wake-ups are the schedule: the default 50 us timer slack would add itself to every corrected latency.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  start_ = start;
  send_end_ = start + options_.duration;
  schedule_.emplace(share_.rate, options_.arrival, start, send_end_,
                    options_.seed + static_cast<std::uint64_t>(share_.index) * 1'000'003,
                    options_.late_tolerance);
  last_response_ = start;
  bool sending = true;
  while (true) {
    TimePoint now = clock_.now();
    if (cancel_.requested()) {
      result_.cancelled = true;
      stop_sending(now);
      break;
    }
    if (now < start_) {
      io_->wait(now, start_, *this);
      continue;
    }
    expire(now);
    if (sending && (shared_.stop.load(std::memory_order_acquire) || (pool_stop && pool_stop()))) {
      sending = false;
      stop_sending(now);
    }
    if (sending) {
      sending = send_due(now);
      if (sending && now >= send_end_) {
        sending = false;
        stop_sending(send_end_);
      }
    }
    io_->flush(now, *this);
    if (!sending && in_flight_.active() == 0) {
      break;
    }
    if (sending) {
      check_failure_window(now);
    }
    publish(now);
    io_->wait(now, next_wake(now, sending), *this);
  }
  finish();
}

const PreparedQuery& Worker::query_of(const Slot& slot) const {
  return workload_.queries[workload_.lookups[slot.lookup][slot.step]];
}

void Worker::note_error(std::string error) {
  if (result_.first_error.empty()) {
    result_.first_error = std::move(error);
  }
}

void Worker::advance_channel() {
  current_channel_ = current_channel_ + 1 >= primary_channels_ ? 0 : current_channel_ + 1;
  current_uses_ = 0;
}

// Starts the lookups that are due; false when this worker's count is reached.
bool Worker::send_due(TimePoint now) {
  advance_channel();
  std::size_t started = 0;
  bool blocked = false;
  while (started < kMaxStartsPerTurn) {
    if (share_.total && result_.counters.lookups_started >= *share_.total) {
      stop_sending(now);
      return false;
    }
    std::optional<TimePoint> intended = schedule_->due(now);
    if (!intended) {
      break;
    }
    if (in_flight_.full()) {
      blocked = true;
      break;
    }
    const bool queued = schedule_->start(now);
    start_lookup(*intended, queued, now);
    ++started;
  }
  if (blocked && schedule_->open_loop()) {
    ++result_.counters.window_full;
  }
  if (in_flight_.full()) {
    // The worker sleeps until the server frees a slot: what becomes due meanwhile waits for the server.
    schedule_->window_full(now);
  }
  return true;
}

void Worker::start_lookup(TimePoint intended, bool queued, TimePoint now) {
  const std::uint32_t index = *in_flight_.take();
  Slot& slot = in_flight_.slot(index);
  slot.lookup = static_cast<std::uint32_t>(cursor_);
  cursor_ = cursor_ + 1 == workload_.lookups.size() ? 0 : cursor_ + 1;
  slot.step = 0;
  slot.lookup_intended = intended;
  slot.query_intended = intended;
  slot.paced_pending = schedule_->open_loop();
  slot.queued = queued;
  ++result_.counters.lookups_started;
  queue_query(index, now, false);
}

// Picks a channel and an ID for the slot's current query and hands it to the Io.
void Worker::queue_query(std::uint32_t index, TimePoint now, bool over_tcp_fallback) {
  Slot& slot = in_flight_.slot(index);
  ++slot.generation;
  slot.on_wire = false;
  std::optional<std::uint32_t> chosen;
  if (over_tcp_fallback) {
    chosen = fallback_channel(now);
    if (!chosen) {
      fail_unsent(index, now, "no TCP connection for the truncated answer's retry", false);
      return;
    }
  } else {
    // A turn's queries go out on one socket, up to a batch, so sendmmsg carries many per call; the socket
    // changes every turn and every batch, which spreads the load over all of them.
    for (std::size_t tries = 0; tries <= primary_channels_; ++tries) {
      if (current_uses_ >= kBatch ||
          in_flight_.ids_available(static_cast<std::uint32_t>(current_channel_)) == 0) {
        advance_channel();
        continue;
      }
      ++current_uses_;
      chosen = static_cast<std::uint32_t>(current_channel_);
      break;
    }
    if (!chosen) {
      ++result_.counters.id_exhausted;
      fail_unsent(index, now, "every DNS ID of every socket is in flight or in quarantine", false);
      return;
    }
  }
  if (!io_->usable(*chosen, now, *this)) {
    fail_unsent(index, now, fmt::format("TCP connection to {} unavailable", options_.server.text), false);
    return;
  }
  if (!in_flight_.bind(*chosen, index)) {
    ++result_.counters.id_exhausted;
    fail_unsent(index, now, "every DNS ID of the TCP connection is in flight", false);
    return;
  }
  const std::vector<std::uint8_t>& wire = query_of(slot).wire;
  const bool on_wire = io_->queue(
      *chosen, OutgoingQuery{.slot = index,
                             .id = slot.id_wire,
                             .rest = std::span<const std::uint8_t>(wire.data() + 2, wire.size() - 2)});
  if (on_wire) {
    mark_sent(index, now);
  }
}

std::optional<std::uint32_t> Worker::fallback_channel(TimePoint now) {
  if (options_.protocol == Protocol::tcp) {
    return std::nullopt;  // already TCP: a truncated TCP answer is final
  }
  if (!fallback_) {
    Result<std::uint32_t> channel = io_->open(Protocol::tcp, now, *this);
    if (!channel) {
      note_error(channel.error().message);
      return std::nullopt;
    }
    in_flight_.add_channel(static_cast<std::uint16_t>(share_.index * 977));
    channels_.push_back(Protocol::tcp);
    fallback_ = *channel;
  }
  return fallback_;
}

void Worker::mark_sent(std::uint32_t index, TimePoint now) {
  Slot& slot = in_flight_.slot(index);
  slot.sent = now;
  slot.on_wire = true;
  ++result_.counters.sent;
  in_flight_.arm(index, now + options_.timeout);
  if (slot.paced_pending) {
    slot.paced_pending = false;
    schedule_->sent(slot.lookup_intended, now, slot.queued);
  }
}

void Worker::send_failed(std::uint32_t slot, TimePoint now, std::string why) {
  fail_unsent(slot, now, std::move(why), true);
}

// The query could not be sent: its lookup fails.
void Worker::fail_unsent(std::uint32_t index, TimePoint now, std::string why, bool holds_id) {
  Slot& slot = in_flight_.slot(index);
  if (holds_id) {
    in_flight_.release(index);
  }
  ++result_.counters.send_errors;
  live_.record_error(now);
  note_error(std::move(why));
  if (slot.paced_pending) {
    slot.paced_pending = false;
    schedule_->sent(slot.lookup_intended, now, slot.queued);
  }
  finish_lookup(index, Outcome::failed, now);
}

void Worker::finish_lookup(std::uint32_t index, Outcome outcome, TimePoint end) {
  const Slot& slot = in_flight_.slot(index);
  if (workload_.walk) {
    result_.lookup_latency.record(end - slot.lookup_intended);
  }
  Counters& c = result_.counters;
  switch (outcome) {
    case Outcome::answered:
      ++c.lookups_answered;
      break;
    case Outcome::negative:
      ++c.lookups_negative;
      break;
    case Outcome::failed:
      ++c.lookups_failed;
      break;
    case Outcome::lost:
      ++c.lookups_lost;
      break;
  }
  in_flight_.give_back(index);
}

// A TCP connection failed or closed: its queries in flight fail (an answer can no longer come).
void Worker::channel_failed(std::uint32_t channel, TimePoint now, std::string why) {
  note_error(std::move(why));
  for (std::uint32_t index : in_flight_.reset_channel(
           channel, static_cast<std::uint16_t>(now.time_since_epoch().count() & 0xffff))) {
    ++result_.counters.connection_lost;
    live_.record_error(now);
    finish_lookup(index, Outcome::failed, now);
  }
}

void Worker::expire(TimePoint now) {
  in_flight_.release_expired(now);
  while (std::optional<TimeoutEntry> entry = in_flight_.pop_expired(now)) {
    const Slot& slot = in_flight_.slot(entry->slot);
    // Its answer may still come: keep the ID out of use for another timeout.
    in_flight_.quarantine(entry->slot, now + options_.timeout);
    ++result_.counters.lost;
    result_.query_latency.corrected.record(entry->deadline - slot.query_intended);
    live_.record_error(now);
    finish_lookup(entry->slot, Outcome::lost, entry->deadline);
  }
}

// One datagram or TCP message from the server.
void Worker::message(std::uint32_t channel, std::span<const std::uint8_t> bytes, TimePoint now) {
  Counters& c = result_.counters;
  if (bytes.size() < kHeaderSize) {
    ++c.malformed;
    return;
  }
  const std::uint16_t id = read_u16(bytes.data());
  const std::optional<std::uint32_t> found = in_flight_.find(channel, id);
  if (!found) {
    ++c.unexpected_id;
    return;
  }
  const std::uint32_t index = *found;
  Slot& slot = in_flight_.slot(index);
  if (!slot.on_wire) {
    ++c.unexpected_id;  // an answer before we sent: a stray that happens to carry a reserved ID
    return;
  }
  const Check check = check_response(bytes, query_of(slot));
  if (check != Check::ok) {
    // Not the answer to this query: keep waiting for it (until its timeout).
    ++(check == Check::too_short ? c.malformed : c.mismatched);
    return;
  }
  const bool truncated = (bytes[2] & 0x02) != 0;
  const auto rcode_value = static_cast<std::uint8_t>(bytes[3] & 0x0f);
  const std::uint16_t answers = read_u16(bytes.data() + 6);
  in_flight_.release(index);
  last_response_ = now;
  got_response_ = true;
  if (truncated) {
    ++c.truncated;
    if (channels_[channel] == Protocol::udp && options_.tcp_on_truncation) {
      ++c.tcp_retries;
      queue_query(index, now, true);
      return;
    }
  }
  ++c.responses;
  ++c.rcodes[rcode_value];
  if (rcode_value == rcode::noerror && answers == 0) {
    ++c.nodata;
  }
  result_.query_latency.record(slot.query_intended, slot.sent, now);
  live_.record(now, now - slot.query_intended);
  if (workload_.walk && walk_continues(rcode_value, answers) &&
      slot.step + 1u < workload_.lookups[slot.lookup].size()) {
    if (rcode_value == rcode::nxdomain) {
      ++c.walk_nxdomain;
    }
    ++c.walk_steps;
    ++slot.step;
    slot.query_intended = now;  // the resolver asks the next name as soon as it has this answer
    queue_query(index, now, false);
    return;
  }
  Outcome outcome = Outcome::failed;
  if (rcode_value == rcode::noerror) {
    outcome = answers > 0 ? Outcome::answered : Outcome::negative;
  } else if (rcode_value == rcode::nxdomain) {
    outcome = Outcome::negative;
  }
  finish_lookup(index, outcome, now);
}

void Worker::stop_sending(TimePoint at) {
  if (send_stopped_) {
    return;
  }
  send_stopped_ = true;
  send_stop_ = at;
  if (result_.cancelled || shared_.stop.load(std::memory_order_acquire)) {
    return;
  }
  // Lookups that were due before the stop but never went out.
  const std::uint64_t cap = share_.total ? *share_.total : std::numeric_limits<std::uint64_t>::max();
  schedule_->stop(at, result_.counters.lookups_started, cap);
}

void Worker::check_failure_window(TimePoint now) {
  const Counters& c = result_.counters;
  if (c.lost + c.send_errors + c.connection_lost == 0) {
    return;
  }
  const TimePoint last = start_ + Duration(shared_.last_response_ns.load(std::memory_order_relaxed));
  const TimePoint reference = std::max(last, last_response_);
  if (now - reference > options_.failure_window) {
    shared_.request_stop(fmt::format(
        "no response from {} for {} ({} queries lost, {} not sent{}{})", options_.server.text,
        format_duration(options_.failure_window), c.lost, c.send_errors,
        c.refused_icmp > 0 ? fmt::format(", {} ICMP port unreachable", c.refused_icmp) : std::string(),
        result_.first_error.empty() ? std::string() : "; " + result_.first_error));
  }
}

// Hands the running totals to the other workers and the pool's progress monitor.
void Worker::publish(TimePoint /*now*/) {
  if (got_response_) {
    got_response_ = false;
    const std::int64_t since = (last_response_ - start_).count();
    std::int64_t previous = shared_.last_response_ns.load(std::memory_order_relaxed);
    while (since > previous &&
           !shared_.last_response_ns.compare_exchange_weak(previous, since, std::memory_order_relaxed)) {
    }
  }
  const Counters& c = result_.counters;
  shared_.sent.fetch_add(c.sent - reported_.sent, std::memory_order_relaxed);
  shared_.answered.fetch_add(c.answered() - reported_.answered(), std::memory_order_relaxed);
  shared_.lost.fetch_add(c.lost - reported_.lost, std::memory_order_relaxed);
  reported_.sent = c.sent;
  reported_.rcodes = c.rcodes;
  reported_.lost = c.lost;
}

TimePoint Worker::next_wake(TimePoint now, bool sending) const {
  TimePoint wake = now + kMaxWait;
  if (sending) {
    wake = std::min(wake, send_end_);
    if (!in_flight_.full()) {
      if (std::optional<TimePoint> next = schedule_->next_intended()) {
        wake = std::min(wake, *next);
      }
    }
  }
  if (std::optional<TimePoint> deadline = in_flight_.next_deadline()) {
    wake = std::min(wake, *deadline);
  }
  return wake;
}

void Worker::finish() {
  LoadResult& r = result_;
  if (!send_stopped_) {
    stop_sending(clock_.now());
  }
  r.counters.lookups_abandoned = in_flight_.active();
  r.send_elapsed = send_stop_ - start_;
  r.elapsed = std::max(send_stop_, last_response_) - start_;
  r.pacer = schedule_->pacer_stats();
  r.unsent_due = schedule_->unsent_due();
  r.unsent_for_server = schedule_->unsent_for_server();
  r.queued_for_server = schedule_->queued_for_server();
  r.own_lateness = schedule_->own_lateness();
  r.receive_buffer = io_->receive_buffer();
  r.buffer_note = io_->buffer_note();
  rusage usage{};
  if (getrusage(RUSAGE_THREAD, &usage) == 0) {
    r.cpu_seconds = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  }
  io_->close();
}

}  // namespace kp::drivers::dns
