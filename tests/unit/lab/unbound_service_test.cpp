#include "lab/unbound_service.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "lab/cluster_zone.hpp"

namespace kp::lab {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class UnboundServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = fs::temp_directory_path() / fmt::format("kp-unbound-unit-{}", getpid());
    fs::remove_all(state_);
    fs::create_directories(state_ / "unbound-zone");
    fs::create_directories(state_ / "unbound");
  }
  void TearDown() override { fs::remove_all(state_); }
  fs::path state_;
};

TEST(ClusterZone, HasAFewThousandUniqueNamesInTwoZones) {
  ClusterShape shape;
  std::vector<ZoneRecord> records = cluster_zone_records(shape);
  // 2 SOA + 2 well-known services + 20 x 50 services, each A and SRV, + 20 x 100 pods + 100 external names.
  EXPECT_EQ(records.size(), 2u + 2u * 2u + 2u * 1000u + 2000u + 100u);
  std::set<std::string> keys;
  for (const ZoneRecord& record : records) {
    EXPECT_TRUE(keys.insert(record.owner + " " + record.type).second) << record.text();
    EXPECT_TRUE(record.owner.ends_with("cluster.local.") || record.owner.ends_with("example.com."))
        << record.owner;
  }
  EXPECT_EQ(records[0].text(),
            "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 "
            "86400 30");
  EXPECT_EQ(records[2].text(), "kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1");
  EXPECT_EQ(records[3].text(),
            "_https._tcp.kubernetes.default.svc.cluster.local. 30 IN SRV 0 100 443 "
            "kubernetes.default.svc.cluster.local.");
  EXPECT_EQ(service_fqdn(shape, 3, 7), "svc-07.ns-02.svc.cluster.local");
  EXPECT_EQ(pod_fqdn(shape, 3, 16), "10-244-3-17.ns-02.pod.cluster.local");
  EXPECT_EQ(external_fqdn(shape, 7), "www-007.example.com");
}

TEST_F(UnboundServiceTest, ZoneServesTheClusterZoneAndNothingElse) {
  std::unique_ptr<ServiceSpec> zone = make_unbound_zone_service();
  EXPECT_EQ(zone->name(), "unbound-zone");
  EXPECT_EQ(zone->debian_package(), "unbound");
  Result<std::vector<std::string>> command =
      zone->command("/usr/sbin/unbound", state_ / "unbound-zone", {{"dns", 15353}});
  ASSERT_TRUE(command) << command.error().message;
  const fs::path config = state_ / "unbound-zone" / "unbound.conf";
  EXPECT_EQ(*command, (std::vector<std::string>{"/usr/sbin/unbound", "-d", "-p", "-c", config.string()}));
  const std::string text = read_file(config);
  EXPECT_NE(text.find("interface: 127.0.0.1@15353"), std::string::npos);
  EXPECT_NE(text.find("local-zone: \".\" static"), std::string::npos);
  EXPECT_NE(text.find("local-zone: \"cluster.local.\" static"), std::string::npos);
  EXPECT_NE(text.find("local-data: \"kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1\""),
            std::string::npos);
  EXPECT_NE(text.find("control-enable: no"), std::string::npos);
  EXPECT_EQ(zone->endpoints({{"dns", 15353}}).at("dns"), "127.0.0.1:15353");
  EXPECT_TRUE(fs::exists(state_ / "unbound-zone" / "cluster.zone"));
}

TEST_F(UnboundServiceTest, CacheRefusesToStartWithoutItsUpstream) {
  std::unique_ptr<ServiceSpec> cache = make_unbound_service();
  EXPECT_EQ(cache->name(), "unbound");
  EXPECT_EQ(cache->port_roles(), (std::vector<std::string>{"dns", "control"}));
  Result<std::vector<std::string>> command =
      cache->command("/usr/sbin/unbound", state_ / "unbound", {{"dns", 15354}, {"control", 18953}});
  ASSERT_FALSE(command);
  EXPECT_EQ(command.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(command.error().message,
            fmt::format("lab: unbound forwards to unbound-zone, which is not running in \"{}\"; start both "
                        "(`kubeproof lab up` starts unbound-zone first)",
                        state_.string()));
  std::map<std::string, std::string> endpoints = cache->endpoints({{"dns", 15354}, {"control", 18953}});
  EXPECT_EQ(endpoints.at("dns"), "127.0.0.1:15354");
  EXPECT_EQ(endpoints.at("control"), "127.0.0.1:18953");
}

TEST_F(UnboundServiceTest, HealthOfANonListeningPortIsUnavailable) {
  std::unique_ptr<ServiceSpec> cache = make_unbound_service();
  // Port 9 (discard) on loopback: nothing answers DNS there.
  Result<void> health = cache->check_health({{"dns", "127.0.0.1:9"}}, std::chrono::milliseconds(200));
  ASSERT_FALSE(health);
  EXPECT_EQ(health.error().kind, ErrorKind::unavailable);
}

}  // namespace
}  // namespace kp::lab
