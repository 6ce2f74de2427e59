#include "drivers/etcd/keys.hpp"

#include <set>

#include <gtest/gtest.h>

namespace kp::drivers::etcd {
namespace {

TEST(EtcdKeys, FixedSizeZeroPaddedUnderThePrefix) {
  EXPECT_EQ(make_key("kp/", 8, 42), "kp/00042");
  EXPECT_EQ(make_key("kp/", 8, 0), "kp/00000");
  EXPECT_EQ(make_key("kubeproof/", 256, 7).size(), 256u);
  EXPECT_EQ(min_key_size("kubeproof/", 10000), 14u);
  EXPECT_EQ(min_key_size("kubeproof/", 10001), 15u);
  EXPECT_EQ(min_key_size("p", 1), 2u);
}

TEST(EtcdKeys, PrefixRangeEnd) {
  EXPECT_EQ(prefix_range_end("kubeproof/"), "kubeproof0");
  EXPECT_EQ(prefix_range_end("a\xff"), "b");
  EXPECT_EQ(prefix_range_end("\xff\xff"), std::string(1, '\0'));
}

TEST(EtcdKeys, SequentialWorkersPartitionTheKeySpace) {
  KeyGenerator first("k/", 6, 10, true, 0, 2, 1);
  KeyGenerator second("k/", 6, 10, true, 1, 2, 1);
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    keys.emplace_back(first.next());
    keys.emplace_back(second.next());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"k/0000", "k/0001", "k/0002", "k/0003", "k/0004", "k/0005",
                                            "k/0006", "k/0007", "k/0008", "k/0009"}));
  EXPECT_EQ(first.next(), "k/0000");  // wraps around the key space
}

TEST(EtcdKeys, RandomKeysStayInTheKeySpaceAndCoverIt) {
  KeyGenerator generator("k/", 5, 100, false, 0, 1, 42);
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) {
    std::string key(generator.next());
    ASSERT_EQ(key.size(), 5u);
    ASSERT_LT(generator.last_index(), 100u);
    seen.insert(key);
  }
  EXPECT_EQ(seen.size(), 100u);
  KeyGenerator same("k/", 5, 100, false, 0, 1, 42);
  KeyGenerator again("k/", 5, 100, false, 0, 1, 42);
  EXPECT_EQ(same.next(), again.next());  // seeded: reproducible
}

}  // namespace
}  // namespace kp::drivers::etcd
