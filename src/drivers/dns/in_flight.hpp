#pragma once

// A DNS worker's table of what is in flight: the slots (one per lookup in flight, at most the window), each
// channel's DNS IDs and which slot holds each, and the timeouts in send order. Pure bookkeeping, no I/O and
// no clock: the worker passes the time in.

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "core/clock.hpp"
#include "drivers/dns/id_pool.hpp"

namespace kp::drivers::dns {

// One lookup in flight. A slot is reused; `generation` tells its timeout entries apart.
struct Slot {
  TimePoint lookup_intended{};  // the lookup's intended start: the base of its latency
  TimePoint query_intended{};  // this query's: the lookup's for the first, the previous answer for walk steps
  TimePoint sent{};
  std::uint32_t lookup = 0;
  std::uint32_t channel = 0;
  std::uint32_t generation = 0;
  std::uint16_t step = 0;
  std::uint16_t id = 0;
  std::array<std::uint8_t, 2> id_wire{};  // the ID in network order
  bool active = false;
  bool on_wire = false;        // sent; false while queued for the next sendmmsg
  bool paced_pending = false;  // the schedule has not yet been told when this lookup went out
  bool queued = false;         // the lookup waited for a slot the server held (its lateness is the server's)
};

struct TimeoutEntry {
  std::uint32_t slot;
  std::uint32_t generation;
  TimePoint deadline;
};

class InFlight {
 public:
  explicit InFlight(std::uint32_t window);

  // A free slot (marked active), or nullopt when all `window` are in use.
  std::optional<std::uint32_t> take();
  // The slot's lookup ended: free again.
  void give_back(std::uint32_t slot);
  bool full() const { return free_.empty(); }
  std::uint32_t active() const { return active_; }
  Slot& slot(std::uint32_t index) { return slots_[index]; }
  const Slot& slot(std::uint32_t index) const { return slots_[index]; }

  // A channel's ID space, IDs handed out from `first_id` upwards; returns the channel number.
  std::uint32_t add_channel(std::uint16_t first_id);
  std::size_t ids_available(std::uint32_t channel) const { return channels_[channel].ids.available(); }
  // Gives the slot an ID on the channel (sets slot.channel, id, id_wire); false: every ID is busy.
  bool bind(std::uint32_t channel, std::uint32_t slot);
  // The slot waiting for this ID on the channel.
  std::optional<std::uint32_t> find(std::uint32_t channel, std::uint16_t id) const;
  // The slot's query was answered (or never sent): its ID is free again.
  void release(std::uint32_t slot);
  // The slot's query timed out: its answer may still come, so the ID stays out of use until `until`.
  void quarantine(std::uint32_t slot, TimePoint until);
  void release_expired(TimePoint now);
  // The channel's connection failed: every slot with a query on it, and a fresh ID space from `first_id`.
  std::vector<std::uint32_t> reset_channel(std::uint32_t channel, std::uint16_t first_id);

  // Timeouts, in the order armed (every query has the same timeout, so that is deadline order).
  void arm(std::uint32_t slot, TimePoint deadline);
  // The next timeout at or before `now` whose query is still waiting; nullopt when none.
  std::optional<TimeoutEntry> pop_expired(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

 private:
  struct ChannelIds {
    explicit ChannelIds(std::uint16_t first) : ids(first), slot_of_id(IdPool::kIds, 0) {}
    IdPool ids;
    std::vector<std::uint32_t> slot_of_id;  // by ID: slot index + 1; 0 = nothing in flight with this ID
  };
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::uint32_t active_ = 0;
  std::vector<ChannelIds> channels_;
  std::deque<TimeoutEntry> timeouts_;
};

}  // namespace kp::drivers::dns
