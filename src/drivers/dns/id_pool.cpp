#include "drivers/dns/id_pool.hpp"

namespace kp::drivers::dns {

IdPool::IdPool(std::uint16_t first) : ring_(std::make_unique<std::array<std::uint16_t, kIds>>()) {
  for (std::size_t i = 0; i < kIds; ++i) {
    (*ring_)[i] = static_cast<std::uint16_t>(first + i);
  }
  count_ = kIds;
}

std::optional<std::uint16_t> IdPool::acquire() {
  if (count_ == 0) {
    return std::nullopt;
  }
  std::uint16_t id = (*ring_)[head_];
  head_ = (head_ + 1) % kIds;
  --count_;
  return id;
}

void IdPool::release(std::uint16_t id) {
  // The ring holds at most kIds entries and every ID is in one place only, so there is always room.
  (*ring_)[(head_ + count_) % kIds] = id;
  ++count_;
}

void IdPool::quarantine(std::uint16_t id, TimePoint until) {
  // Timeouts arrive in deadline order with one timeout length, so appending keeps the deque sorted; a
  // shorter `until` than the last (a clock going backwards) is lifted to it, never released early.
  if (!quarantine_.empty() && until < quarantine_.back().first) {
    until = quarantine_.back().first;
  }
  quarantine_.emplace_back(until, id);
}

void IdPool::release_expired(TimePoint now) {
  while (!quarantine_.empty() && quarantine_.front().first <= now) {
    release(quarantine_.front().second);
    quarantine_.pop_front();
  }
}

}  // namespace kp::drivers::dns
