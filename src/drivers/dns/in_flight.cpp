#include "drivers/dns/in_flight.hpp"

namespace kp::drivers::dns {

InFlight::InFlight(std::uint32_t window) : slots_(window) {
  free_.reserve(window);
  for (std::uint32_t i = window; i > 0; --i) {
    free_.push_back(i - 1);
  }
}

std::optional<std::uint32_t> InFlight::take() {
  if (free_.empty()) {
    return std::nullopt;
  }
  const std::uint32_t index = free_.back();
  free_.pop_back();
  slots_[index].active = true;
  ++active_;
  return index;
}

void InFlight::give_back(std::uint32_t index) {
  Slot& slot = slots_[index];
  slot.active = false;
  slot.on_wire = false;
  ++slot.generation;
  free_.push_back(index);
  --active_;
}

std::uint32_t InFlight::add_channel(std::uint16_t first_id) {
  channels_.emplace_back(first_id);
  return static_cast<std::uint32_t>(channels_.size() - 1);
}

bool InFlight::bind(std::uint32_t channel, std::uint32_t index) {
  std::optional<std::uint16_t> id = channels_[channel].ids.acquire();
  if (!id) {
    return false;
  }
  channels_[channel].slot_of_id[*id] = index + 1;
  Slot& slot = slots_[index];
  slot.channel = channel;
  slot.id = *id;
  slot.id_wire = {static_cast<std::uint8_t>(*id >> 8), static_cast<std::uint8_t>(*id & 0xff)};
  return true;
}

std::optional<std::uint32_t> InFlight::find(std::uint32_t channel, std::uint16_t id) const {
  const std::uint32_t slot_plus_one = channels_[channel].slot_of_id[id];
  if (slot_plus_one == 0) {
    return std::nullopt;
  }
  return slot_plus_one - 1;
}

void InFlight::release(std::uint32_t index) {
  const Slot& slot = slots_[index];
  ChannelIds& channel = channels_[slot.channel];
  channel.slot_of_id[slot.id] = 0;
  channel.ids.release(slot.id);
}

void InFlight::quarantine(std::uint32_t index, TimePoint until) {
  const Slot& slot = slots_[index];
  ChannelIds& channel = channels_[slot.channel];
  channel.slot_of_id[slot.id] = 0;
  channel.ids.quarantine(slot.id, until);
}

void InFlight::release_expired(TimePoint now) {
  for (ChannelIds& channel : channels_) {
    channel.ids.release_expired(now);
  }
}

std::vector<std::uint32_t> InFlight::reset_channel(std::uint32_t channel, std::uint16_t first_id) {
  std::vector<std::uint32_t> slots;
  ChannelIds& ids = channels_[channel];
  for (std::size_t id = 0; id < IdPool::kIds; ++id) {
    if (ids.slot_of_id[id] != 0) {
      slots.push_back(ids.slot_of_id[id] - 1);
      ids.slot_of_id[id] = 0;
    }
  }
  ids.ids = IdPool(first_id);
  return slots;
}

void InFlight::arm(std::uint32_t slot, TimePoint deadline) {
  timeouts_.push_back(TimeoutEntry{slot, slots_[slot].generation, deadline});
}

std::optional<TimeoutEntry> InFlight::pop_expired(TimePoint now) {
  while (!timeouts_.empty() && timeouts_.front().deadline <= now) {
    const TimeoutEntry entry = timeouts_.front();
    timeouts_.pop_front();
    const Slot& slot = slots_[entry.slot];
    if (slot.active && slot.on_wire && slot.generation == entry.generation) {
      return entry;
    }
    // answered, moved on in its walk, or retried over TCP since
  }
  return std::nullopt;
}

std::optional<TimePoint> InFlight::next_deadline() const {
  if (timeouts_.empty()) {
    return std::nullopt;
  }
  return timeouts_.front().deadline;
}

}  // namespace kp::drivers::dns
