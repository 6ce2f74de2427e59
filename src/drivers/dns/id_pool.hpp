#pragma once

// The 16-bit DNS ID space of one socket or connection. An ID is in exactly one place: free, in flight, or in
// quarantine, so two queries in flight on the same socket never share an ID. Free IDs are handed out
// first-in first-out, so an ID just answered is reused as late as possible; an ID whose query timed out is
// quarantined for a while, because its answer may still arrive and must not be taken for the answer of a new
// query with the same ID.

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

#include "core/clock.hpp"

namespace kp::drivers::dns {

class IdPool {
 public:
  static constexpr std::size_t kIds = 65536;

  // Every ID free, handed out from `first` upwards (wrapping), so sockets do not all start at 0.
  explicit IdPool(std::uint16_t first = 0);

  std::optional<std::uint16_t> acquire();
  // Answered: free again (at the back of the queue).
  void release(std::uint16_t id);
  // Timed out: free again once `until` has passed (release_expired).
  void quarantine(std::uint16_t id, TimePoint until);
  void release_expired(TimePoint now);

  std::size_t available() const { return count_; }
  std::size_t quarantined() const { return quarantine_.size(); }

 private:
  std::unique_ptr<std::array<std::uint16_t, kIds>> ring_;
  std::size_t head_ = 0;                                        // next to hand out
  std::size_t count_ = 0;                                       // free IDs in the ring
  std::deque<std::pair<TimePoint, std::uint16_t>> quarantine_;  // in order of `until` (timeouts are FIFO)
};

}  // namespace kp::drivers::dns
