#include "drivers/dns/id_pool.hpp"

#include <set>

#include <gtest/gtest.h>

namespace kp::drivers::dns {
namespace {

TEST(DnsIdPool, HandsOutEveryIdOnceUntilReleased) {
  IdPool pool(65530);
  std::set<std::uint16_t> seen;
  for (std::size_t i = 0; i < IdPool::kIds; ++i) {
    std::optional<std::uint16_t> id = pool.acquire();
    ASSERT_TRUE(id);
    EXPECT_TRUE(seen.insert(*id).second) << *id;
  }
  EXPECT_FALSE(pool.acquire());
  EXPECT_EQ(pool.available(), 0u);
  pool.release(42);
  EXPECT_EQ(pool.acquire(), 42);
}

TEST(DnsIdPool, ReusesAnsweredIdsLast) {
  IdPool pool(0);
  std::uint16_t first = *pool.acquire();
  EXPECT_EQ(first, 0);
  pool.release(first);
  // Every other free ID comes before the one just released.
  for (int i = 1; i < 65536; ++i) {
    EXPECT_EQ(pool.acquire(), static_cast<std::uint16_t>(i));
  }
  EXPECT_EQ(pool.acquire(), 0);
}

TEST(DnsIdPool, QuarantinesTimedOutIdsUntilTheirTime) {
  FakeClock clock;
  IdPool pool(0);
  std::vector<std::uint16_t> held;
  for (std::size_t i = 0; i < IdPool::kIds; ++i) {
    held.push_back(*pool.acquire());
  }
  pool.quarantine(7, clock.now() + std::chrono::seconds(2));
  pool.quarantine(9, clock.now() + std::chrono::seconds(3));
  EXPECT_EQ(pool.quarantined(), 2u);
  pool.release_expired(clock.now() + std::chrono::seconds(1));
  EXPECT_FALSE(pool.acquire());
  pool.release_expired(clock.now() + std::chrono::seconds(2));
  EXPECT_EQ(pool.acquire(), 7);
  EXPECT_FALSE(pool.acquire());
  pool.release_expired(clock.now() + std::chrono::seconds(3));
  EXPECT_EQ(pool.acquire(), 9);
  EXPECT_EQ(pool.quarantined(), 0u);
}

}  // namespace
}  // namespace kp::drivers::dns
