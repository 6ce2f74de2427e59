#include "drivers/ingress/open_loop.hpp"

#include <utility>

namespace kp::drivers::ingress {

OpenLoopQueue::OpenLoopQueue(Pacer pacer, TimePoint end, std::optional<std::uint64_t> limit,
                             std::size_t max_pending)
    : pacer_(std::move(pacer)), end_(end), limit_(limit), max_pending_(max_pending) {
  next_ = pacer_.next();
  exhausted_ = (limit_ && *limit_ == 0) || next_ >= end_;
}

TimePoint OpenLoopQueue::advance(TimePoint now) {
  while (!exhausted_ && next_ <= now) {
    if (pending_.size() < max_pending_) {
      pending_.push_back(next_);
      ++pushed_;
    } else {
      ++overflow_;
    }
    ++issued_;
    next_ = pacer_.next();
    if ((limit_ && issued_ >= *limit_) || next_ >= end_) {
      exhausted_ = true;
    }
  }
  return exhausted_ ? TimePoint::max() : next_;
}

TimePoint OpenLoopQueue::pop() {
  return pop_entry().intended;
}

OpenLoopQueue::Entry OpenLoopQueue::pop_entry() {
  Entry entry{.intended = pending_.front(), .waited = popped_ < waited_through_};
  pending_.pop_front();
  ++popped_;
  return entry;
}

}  // namespace kp::drivers::ingress
