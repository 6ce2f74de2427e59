#include "drivers/ingress/request_flow.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace kp::drivers::ingress {
namespace {

constexpr std::size_t kMaxErrorSamples = 5;

}  // namespace

void keep_error_sample(LoadResult& result, std::string text) {
  if (result.error_samples.size() < kMaxErrorSamples &&
      std::find(result.error_samples.begin(), result.error_samples.end(), text) ==
          result.error_samples.end()) {
    result.error_samples.push_back(std::move(text));
  }
}

RequestFlow::RequestFlow(const FlowOptions& options, LoadResult& result, LiveSeries* live)
    : result_(result),
      live_(live),
      slots_(std::max<std::size_t>(1, options.slots)),
      budget_(options.budget),
      start_(options.start),
      end_(options.end),
      timeout_(options.timeout) {
  window_end_ = end_;
  result_.open_loop = options.rate.has_value();
  result_.intended_rate = options.rate ? options.rate->per_second : 0;
  if (options.rate) {
    Pacer pacer(*options.rate, options.arrival, options.first_intended, options.seed, options.late_tolerance);
    queue_.emplace(std::move(pacer), end_, budget_, options.max_pending);
    budget_.reset();  // the queue bounds the count in open loop
  }
}

void RequestFlow::ready(std::size_t slot) {
  Slot& s = slots_[slot];
  s.ready = true;
  if (!s.in_list) {
    s.in_list = true;
    ready_list_.push_back(slot);
  }
}

std::optional<std::size_t> RequestFlow::take_ready() {
  while (!ready_list_.empty()) {
    std::size_t slot = ready_list_.back();
    ready_list_.pop_back();
    Slot& s = slots_[slot];
    s.in_list = false;
    if (s.ready && !s.has_request) {
      s.ready = false;
      return slot;
    }
  }
  return std::nullopt;
}

void RequestFlow::assign(std::size_t slot, TimePoint intended, bool waited, TimePoint now) {
  Slot& s = slots_[slot];
  s.has_request = true;
  s.intended = intended;
  s.sent = now;
  s.deadline = TimePoint::max();  // set when it starts going out
  ++inflight_;
  if (budget_) {
    --*budget_;
  }
  if (!queue_) {
    return;
  }
  queue_->pacer().record_send(intended, now);
  // Every queued intended time was due before the end of the window; one handed out just after it (a
  // connection freed before the loop saw the end) was still sent.
  ++result_.dispatched;
  if (waited) {
    ++result_.queued;  // the server's: every connection was busy when it was due
  } else {
    result_.own_lateness.record(std::max(now - intended, Duration::zero()));
  }
}

void RequestFlow::timed_out_in_queue(const OpenLoopQueue::Entry& entry, TimePoint now) {
  // Waited in the queue longer than a request may take: it timed out without being sent. Only a slot held
  // by the server can keep an intended time waiting that long, so it is the server's.
  ++result_.timeouts;
  ++result_.queued;
  ++result_.unsent_for_server;
  count_error(now);
  note_error(fmt::format("request waited more than {} for a free connection", format_duration(timeout_)));
  queue_->pacer().record_send(entry.intended, now);
}

void RequestFlow::sending(std::size_t slot, TimePoint now) {
  Slot& s = slots_[slot];
  s.sent = now;
  s.deadline = now + timeout_;
}

void RequestFlow::written(std::size_t /*slot*/, TimePoint now) {
  ++result_.requests_sent;
  if (now < window_end_) {
    ++result_.sent_in_window;
  }
}

void RequestFlow::completed(std::size_t slot, TimePoint now, int code) {
  Slot& s = slots_[slot];
  ++result_.responses;
  ++result_.status_classes[static_cast<std::size_t>(std::clamp(code / 100, 0, 5))];
  Duration service = now - s.sent;
  Duration latency = open_loop() ? now - s.intended : service;
  result_.latency.record(latency);
  result_.uncorrected.record(service);
  result_.series.record(kSeriesLatency, now, latency.count());
  if (code >= 500) {
    result_.series.record(kSeries5xx, now, latency.count());
    if (live_ != nullptr) {
      live_->record_error(now);
    }
  } else if (live_ != nullptr) {
    live_->record(now, latency);
  }
  last_completion_ = now;
  dropped(slot);
}

void RequestFlow::dropped(std::size_t slot) {
  Slot& s = slots_[slot];
  if (s.has_request) {
    s.has_request = false;
    s.deadline = TimePoint::max();
    --inflight_;
  }
}

std::vector<std::size_t> RequestFlow::expired(TimePoint now) const {
  std::vector<std::size_t> out;
  for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot].has_request && now >= slots_[slot].deadline) {
      out.push_back(slot);
    }
  }
  return out;
}

void RequestFlow::count_error(TimePoint now) {
  result_.series.record(kSeriesErrors, now, 1);
  if (live_ != nullptr) {
    live_->record_error(now);
  }
}

void RequestFlow::note_error(std::string text) {
  keep_error_sample(result_, std::move(text));
}

bool RequestFlow::done_sending() const {
  return open_loop() ? queue_->exhausted() && queue_->empty() : budget_exhausted();
}

void RequestFlow::stop_sending(TimePoint now) {
  if (sending_over_) {
    return;
  }
  sending_over_ = true;
  window_end_ = std::min(now, end_);
  if (!queue_) {
    return;
  }
  // Intended times due by the end that are still queued: those stamped by a dispatch that found every slot
  // busy waited for the server; the rest came due after the last dispatch (the loop did not get to them).
  queue_->advance(window_end_);
  queue_->stop();
  const std::uint64_t for_server = queue_->waiting_for_server() + queue_->overflow();
  const std::uint64_t left = queue_->size() + queue_->overflow();
  result_.unsent += left;
  result_.queued += for_server;
  result_.unsent_for_server += for_server;
  result_.unsent_own += left - for_server;
  while (!queue_->empty()) {
    queue_->pop_entry();
  }
}

void RequestFlow::finish() {
  if (queue_) {
    result_.pacer.merge(queue_->pacer().stats());
    result_.issued = queue_->issued();
  } else {
    result_.issued = result_.requests_sent;
  }
  TimePoint window_end = window_end_ == TimePoint::max() ? last_completion_ : window_end_;
  TimePoint last = std::max(window_end, last_completion_);
  result_.window = std::max(window_end - start_, Duration::zero());
  result_.elapsed = std::max(last - start_, Duration::zero());
}

}  // namespace kp::drivers::ingress
