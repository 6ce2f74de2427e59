#include "drivers/dns/send_schedule.hpp"

#include <gtest/gtest.h>

#include "drivers/dns/in_flight.hpp"

namespace kp::drivers::dns {
namespace {

using std::chrono::milliseconds;

const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

SendSchedule at_1000_per_second() {
  return SendSchedule(Rate{1000}, Arrival::constant, t0, t0 + milliseconds(10), 1, milliseconds(5));
}

TEST(DnsSendSchedule, IntendedTimesAreTheRatesNotWhenTheLoopRan) {
  SendSchedule schedule = at_1000_per_second();
  EXPECT_EQ(schedule.due(t0), t0);
  EXPECT_FALSE(schedule.start(t0));
  schedule.sent(t0, t0, false);
  EXPECT_FALSE(schedule.due(t0));  // the next is 1 ms later
  EXPECT_EQ(schedule.next_intended(), t0 + milliseconds(1));
  // The loop ran 3 ms late: the lookups due meanwhile go out now, each late by its own amount.
  const TimePoint late = t0 + milliseconds(3);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(schedule.due(late), t0 + milliseconds(i));
    EXPECT_FALSE(schedule.start(late));
    schedule.sent(t0 + milliseconds(i), late, false);
  }
  EXPECT_FALSE(schedule.due(late));
  EXPECT_EQ(schedule.own_lateness().count(), 4u);
  EXPECT_EQ(schedule.own_lateness().max(), std::chrono::nanoseconds(milliseconds(2)).count());
  EXPECT_EQ(schedule.queued_for_server(), 0u);
}

TEST(DnsSendSchedule, LookupsDueWhileTheWindowWasFullWaitedForTheServer) {
  SendSchedule schedule = at_1000_per_second();
  ASSERT_TRUE(schedule.due(t0));
  schedule.start(t0);
  schedule.sent(t0, t0, false);
  // At 1 ms every slot is busy; a slot frees at 4 ms.
  schedule.window_full(t0 + milliseconds(1));
  const TimePoint freed = t0 + milliseconds(4);
  for (int i = 1; i <= 4; ++i) {
    ASSERT_EQ(schedule.due(freed), t0 + milliseconds(i));
    EXPECT_TRUE(schedule.start(freed)) << i;  // due by the time the slot freed: the server's wait
    schedule.sent(t0 + milliseconds(i), freed, true);
  }
  EXPECT_EQ(schedule.queued_for_server(), 4u);
  EXPECT_EQ(schedule.own_lateness().count(), 1u);  // only the first, on time
  EXPECT_EQ(schedule.own_lateness().max(), 0);
  // The next one, due after the window freed, is the generator's again.
  ASSERT_EQ(schedule.due(t0 + milliseconds(5)), t0 + milliseconds(5));
  EXPECT_FALSE(schedule.start(t0 + milliseconds(5)));
}

TEST(DnsSendSchedule, UnsentAtTheEndAreTheServersOnlyWhenTheWindowWasFull) {
  SendSchedule full = at_1000_per_second();
  full.start(t0);
  full.window_full(t0 + milliseconds(1));
  full.stop(t0 + milliseconds(10), 1, 1000);
  EXPECT_EQ(full.unsent_due(), 9u);
  EXPECT_EQ(full.unsent_for_server(), 9u);
  EXPECT_EQ(full.queued_for_server(), 9u);  // unsent for the server is a subset of queued for it

  SendSchedule behind = at_1000_per_second();
  behind.start(t0);
  behind.stop(t0 + milliseconds(10), 1, 5);  // a count of 5 lookups caps what was due
  EXPECT_EQ(behind.unsent_due(), 4u);
  EXPECT_EQ(behind.unsent_for_server(), 0u);
}

TEST(DnsSendSchedule, ClosedLoopIsAlwaysDueAndNeverLate) {
  SendSchedule schedule(std::nullopt, Arrival::constant, t0, t0 + milliseconds(10), 1, milliseconds(5));
  EXPECT_FALSE(schedule.open_loop());
  EXPECT_EQ(schedule.due(t0 + milliseconds(3)), t0 + milliseconds(3));
  EXPECT_FALSE(schedule.next_intended());
  schedule.window_full(t0);
  EXPECT_FALSE(schedule.start(t0));
  schedule.stop(t0 + milliseconds(10), 0, 100);
  EXPECT_EQ(schedule.unsent_due(), 0u);
  EXPECT_EQ(schedule.queued_for_server(), 0u);
}

TEST(DnsInFlight, SlotsIdsAndTimeouts) {
  InFlight table(2);
  const std::uint32_t channel = table.add_channel(100);
  std::optional<std::uint32_t> a = table.take();
  std::optional<std::uint32_t> b = table.take();
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(table.full());
  EXPECT_FALSE(table.take());
  ASSERT_TRUE(table.bind(channel, *a));
  ASSERT_TRUE(table.bind(channel, *b));
  EXPECT_EQ(table.slot(*a).id, 100);
  EXPECT_EQ(table.slot(*a).id_wire, (std::array<std::uint8_t, 2>{0, 100}));
  EXPECT_EQ(table.find(channel, 101), b);
  table.slot(*a).on_wire = table.slot(*b).on_wire = true;
  table.arm(*a, t0 + milliseconds(50));
  table.arm(*b, t0 + milliseconds(60));
  EXPECT_EQ(table.next_deadline(), t0 + milliseconds(50));
  // b is answered: its ID is free and its timeout no longer fires.
  table.release(*b);
  table.give_back(*b);
  EXPECT_FALSE(table.find(channel, 101));
  EXPECT_FALSE(table.pop_expired(t0 + milliseconds(49)));
  std::optional<TimeoutEntry> expired = table.pop_expired(t0 + milliseconds(70));
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->slot, *a);
  EXPECT_FALSE(table.pop_expired(t0 + milliseconds(70)));  // b's entry is stale
  // a timed out: its ID stays out of use until the quarantine ends.
  const std::size_t free_ids = table.ids_available(channel);
  table.quarantine(*a, t0 + milliseconds(120));
  table.give_back(*a);
  EXPECT_EQ(table.ids_available(channel), free_ids);
  table.release_expired(t0 + milliseconds(121));
  EXPECT_EQ(table.ids_available(channel), free_ids + 1);
  EXPECT_EQ(table.active(), 0u);
}

TEST(DnsInFlight, AFailedConnectionHandsBackEverySlotOnIt) {
  InFlight table(3);
  const std::uint32_t udp = table.add_channel(0);
  const std::uint32_t tcp = table.add_channel(500);
  const std::uint32_t a = *table.take();
  const std::uint32_t b = *table.take();
  const std::uint32_t c = *table.take();
  table.bind(tcp, a);
  table.bind(udp, b);
  table.bind(tcp, c);
  std::vector<std::uint32_t> failed = table.reset_channel(tcp, 7);
  std::sort(failed.begin(), failed.end());
  std::vector<std::uint32_t> expected{a, c};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(failed, expected);
  EXPECT_TRUE(table.find(udp, table.slot(b).id));
  ASSERT_TRUE(table.bind(tcp, a));
  EXPECT_EQ(table.slot(a).id, 7);  // a fresh ID space
}

}  // namespace
}  // namespace kp::drivers::dns
