// The lab's network namespaces without creating any (that needs root: tests/integration/net does it).

#include "lab/netns.hpp"

#include <unistd.h>

#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace kp::lab {
namespace {

namespace fs = std::filesystem;

std::string layout_error(const NetnsLayout& layout) {
  Result<void> ok = validate(layout);
  return ok ? std::string("valid") : ok.error().message;
}

TEST(NetnsLayout, DefaultsAreValidAndKubeproofs) {
  const NetnsLayout layout;
  EXPECT_EQ(layout_error(layout), "valid");
  EXPECT_EQ(layout.client_ns, "kp-a");
  EXPECT_EQ(layout.server_endpoint(), "10.237.0.2:7410");
  EXPECT_EQ(layout.service_endpoint(), "10.237.1.10:80");
}

TEST(NetnsLayout, ErrorsNameTheField) {
  NetnsLayout long_name;
  long_name.client_if = "kubeproof-veth-a0";
  EXPECT_EQ(layout_error(long_name),
            "netns.client_if: must be 1..15 characters of A-Z a-z 0-9 _ . -, got \"kubeproof-veth-a0\"");
  NetnsLayout slash;
  slash.server_ns = "../etc";
  EXPECT_EQ(layout_error(slash),
            "netns.server_ns: must be 1..15 characters of A-Z a-z 0-9 _ . -, got \"../etc\"");
  NetnsLayout same;
  same.server_ns = same.client_ns;
  EXPECT_EQ(layout_error(same), "netns.server_ns: must differ from client_ns, got \"kp-a\"");
  NetnsLayout outside;
  outside.server_ip = "10.238.0.2";
  EXPECT_EQ(layout_error(outside),
            "netns.server_ip: must be another address in 10.237.0.1/24, got \"10.238.0.2\"");
  NetnsLayout inside;
  inside.service_ip = "10.237.0.10";
  EXPECT_EQ(layout_error(inside),
            "netns.service_ip: must be outside the pods' 10.237.0.1/24, got \"10.237.0.10\"");
  NetnsLayout v6;
  v6.client_ip = "fd00::1";
  EXPECT_EQ(layout_error(v6), "netns.client_ip: not an IPv4 address, got \"fd00::1\"");
}

TEST(NetnsLayout, RulesetDnatsTheServiceToTheServerForTcpAndUdp) {
  EXPECT_EQ(nft_ruleset(NetnsLayout{}),
            "table ip kubeproof {\n"
            "  chain output {\n"
            "    type nat hook output priority -100; policy accept;\n"
            "    ip daddr 10.237.1.10 tcp dport 80 dnat to 10.237.0.2:7410\n"
            "    ip daddr 10.237.1.10 udp dport 80 dnat to 10.237.0.2:7410\n"
            "  }\n"
            "}\n");
}

class NetnsState : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("kp-netns-unit-{}", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(NetnsState, NotSetUpIsSaidPlainly) {
  Result<std::optional<NetnsRecord>> record = read_netns_record(dir_);
  ASSERT_TRUE(record);
  EXPECT_FALSE(*record);
  Result<NetnsRecord> for_phase = netns_for_phase(dir_);
  ASSERT_FALSE(for_phase);
  EXPECT_EQ(for_phase.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(for_phase.error().message,
            fmt::format("the lab's network namespaces are not set up in {}: run `kubeproof lab up` as root",
                        dir_.string()));
  Result<std::vector<std::string>> down = netns_down(dir_, real_clock());
  ASSERT_TRUE(down);
  EXPECT_EQ(*down, std::vector<std::string>{"network namespaces: not set up"});
  const NetnsStatus status = netns_status(dir_, real_clock());
  EXPECT_FALSE(status.healthy);
  EXPECT_EQ(status.detail, "not set up");
}

TEST_F(NetnsState, ACorruptRecordIsAnInputError) {
  fs::create_directories(dir_ / "netns");
  std::ofstream(dir_ / "netns" / "netns.json") << "{\"client_ns\": 3}";
  Result<std::optional<NetnsRecord>> record = read_netns_record(dir_);
  ASSERT_FALSE(record);
  EXPECT_EQ(record.error().kind, ErrorKind::input);
  EXPECT_NE(record.error().message.find("not a network namespace record"), std::string::npos);
}

TEST_F(NetnsState, WithoutRootUpSaysWhy) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root: tests/integration/net creates namespaces for real";
  }
  Result<NetnsRecord> up = netns_up(dir_, NetnsLayout{}, real_clock());
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(up.error().message.rfind("the lab's network namespaces needs root", 0), 0u) << up.error().message;
}

}  // namespace
}  // namespace kp::lab
