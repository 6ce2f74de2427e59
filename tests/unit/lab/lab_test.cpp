#include "lab/lab.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "lab/ports.hpp"
#include "lab/process.hpp"
#include "lab/services.hpp"

namespace kp::lab {
namespace {

namespace fs = std::filesystem;

// A fresh state dir per test, removed afterwards.
class LabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("kp-lab-unit-{}-{}", getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// Listens on a free loopback port for the test's lifetime.
struct Listener {
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    listen(fd, 1);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
  }
  ~Listener() { close(fd); }
  int fd = -1;
  std::uint16_t port = 0;
};

TEST(LabPorts, ChosenPortsAreDistinctAndFree) {
  Result<std::vector<std::uint16_t>> ports = choose_free_ports(3);
  ASSERT_TRUE(ports);
  EXPECT_EQ(std::set<std::uint16_t>(ports->begin(), ports->end()).size(), 3u);
  for (std::uint16_t port : *ports) {
    EXPECT_TRUE(port_is_free(port));
  }
  Listener taken;
  EXPECT_FALSE(port_is_free(taken.port));
}

TEST_F(LabTest, RefusesATakenPortAndStartsNothing) {
  Listener taken;
  LabOptions options;
  options.state_dir = dir_;
  options.ports = {{"etcd.client", taken.port}};
  Result<std::vector<ServiceRecord>> started = up(options, real_clock());
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().kind, ErrorKind::usage);
  EXPECT_EQ(started.error().message,
            fmt::format("lab: etcd port {} (etcd.client) is taken on 127.0.0.1; free it or give another port",
                        taken.port));
  EXPECT_FALSE(fs::exists(dir_ / "etcd" / "service.json"));
}

TEST_F(LabTest, MissingBinaryIsUnavailableNamingThePackage) {
  LabOptions options;
  options.state_dir = dir_;
  options.binaries = {{"etcd", "/nonexistent/etcd"}};
  Result<std::vector<ServiceRecord>> started = up(options, real_clock());
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(started.error().message,
            "lab: etcd: executable \"/nonexistent/etcd\" not found (Debian package etcd-server)");
}

TEST_F(LabTest, UnknownServiceAndPortRole) {
  LabOptions options;
  options.state_dir = dir_;
  options.services = {"redis"};
  EXPECT_TRUE(
      up(options, real_clock()).error().message.starts_with("lab: unknown service \"redis\" (known: "));
  options.services = {"etcd"};
  options.ports = {{"etcd.admin", 1234}};
  EXPECT_EQ(up(options, real_clock()).error().message,
            "lab: unknown port \"etcd.admin\" (expected <service>.<role>, e.g. etcd.client)");
}

TEST_F(LabTest, EtcdMembersMustBeOneThreeOrFiveAndNeedEtcd) {
  LabOptions options;
  options.state_dir = dir_;
  options.etcd_members = 4;
  Result<std::vector<ServiceRecord>> even = up(options, real_clock());
  ASSERT_FALSE(even);
  EXPECT_EQ(even.error().kind, ErrorKind::usage);
  EXPECT_EQ(even.error().message, "lab: --etcd-members: must be 1, 3 or 5, got 4");
  options.etcd_members = 3;
  options.services = {"unbound"};
  EXPECT_EQ(up(options, real_clock()).error().message,
            "lab: --etcd-members 3 needs the etcd service; add --service etcd");
  // The extra members start only beside the first, never by name.
  options.services = {"etcd-1"};
  Result<std::vector<ServiceRecord>> by_name = up(options, real_clock());
  ASSERT_FALSE(by_name);
  EXPECT_TRUE(by_name.error().message.starts_with("lab: unknown service \"etcd-1\" (known: etcd, "))
      << by_name.error().message;
  EXPECT_FALSE(fs::exists(dir_));
}

TEST(EtcdMembers, EachMemberNamesTheWholeClusterAndTheFirstRecordsIt) {
  EXPECT_EQ(etcd_member_names(3), (std::vector<std::string>{"etcd", "etcd-1", "etcd-2"}));
  EXPECT_EQ(etcd_member_names(1), (std::vector<std::string>{"etcd"}));
  const LabPorts lab = {{"etcd", {{"client", 2001}, {"peer", 2002}, {"metrics", 2003}}},
                        {"etcd-1", {{"client", 2011}, {"peer", 2012}, {"metrics", 2013}}},
                        {"etcd-2", {{"client", 2021}, {"peer", 2022}, {"metrics", 2023}}}};
  const ServiceSpec* second = find_service_spec("etcd-1");
  ASSERT_NE(second, nullptr);
  EXPECT_FALSE(second->listed());
  EXPECT_EQ(second->start_group(), find_service_spec("etcd")->start_group());
  Result<std::vector<std::string>> command =
      second->command_in_lab("/usr/bin/etcd", "/lab/etcd-1", lab.at("etcd-1"), lab);
  ASSERT_TRUE(command);
  auto value_of = [&](std::string_view flag) {
    auto found = std::find(command->begin(), command->end(), flag);
    return found == command->end() || found + 1 == command->end() ? std::string() : *(found + 1);
  };
  EXPECT_EQ(value_of("--name"), "lab1");
  EXPECT_EQ(value_of("--initial-cluster"),
            "lab0=http://127.0.0.1:2002,lab1=http://127.0.0.1:2012,lab2=http://127.0.0.1:2022");
  EXPECT_EQ(value_of("--listen-client-urls"), "http://127.0.0.1:2011");
  EXPECT_EQ(value_of("--data-dir"), "/lab/etcd-1/data");

  const std::map<std::string, std::string> recorded = find_service_spec("etcd")->lab_endpoints(lab);
  EXPECT_EQ(recorded.at("cluster_clients"), "127.0.0.1:2001,127.0.0.1:2011,127.0.0.1:2021");
  EXPECT_EQ(recorded.at("cluster_metrics"),
            "http://127.0.0.1:2003/metrics,http://127.0.0.1:2013/metrics,http://127.0.0.1:2023/metrics");
  EXPECT_TRUE(second->lab_endpoints(lab).empty());

  // An extra member without the first would be a cluster nobody is told about.
  const LabPorts alone = {{"etcd-1", lab.at("etcd-1")}};
  EXPECT_FALSE(second->command_in_lab("/usr/bin/etcd", "/lab/etcd-1", alone.at("etcd-1"), alone));
}

TEST_F(LabTest, StatusDownAndEndpointsOfAnEmptyLab) {
  std::vector<ServiceStatus> statuses = status(dir_, std::chrono::seconds(1));
  // Every known service, started or not, but the extra etcd members only once started.
  const auto listed = std::count_if(service_specs().begin(), service_specs().end(),
                                    [](const auto& spec) { return spec->listed(); });
  ASSERT_EQ(statuses.size(), static_cast<std::size_t>(listed));
  for (const ServiceStatus& each : statuses) {
    EXPECT_FALSE(each.running) << each.name;
    // An optional service (the Kubernetes control plane) whose binary is absent says so instead.
    const ServiceSpec* spec = find_service_spec(each.name);
    ASSERT_NE(spec, nullptr) << each.name;
    bool absent = spec->optional() && !locate_binary(*spec, LabOptions{});
    EXPECT_EQ(each.detail, absent ? spec->missing_hint() : "not started") << each.name;
  }
  Result<std::vector<std::string>> stopped = down(dir_, real_clock());
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->front(), fmt::format("nothing to stop in \"{}\"", dir_.string()));
  Result<std::map<std::string, std::string>> found = endpoints(dir_, "etcd");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(found.error().message, fmt::format("the local lab has no etcd (state dir \"{}\"); start it with "
                                               "`kubeproof lab up`",
                                               dir_.string()));
}

TEST_F(LabTest, KubeBinariesAreFoundInKubebuilderAssetsFirst) {
  const ServiceSpec* apiserver = find_service_spec("kube-apiserver");
  ASSERT_NE(apiserver, nullptr);
  EXPECT_TRUE(apiserver->optional());
  fs::path assets = dir_ / "assets";
  fs::create_directories(assets);
  std::ofstream(assets / "kube-apiserver") << "#!/bin/sh\n";
  fs::permissions(assets / "kube-apiserver", fs::perms::owner_all);
  const char* old = std::getenv("KUBEBUILDER_ASSETS");
  std::string saved = old != nullptr ? old : "";
  ::setenv("KUBEBUILDER_ASSETS", assets.c_str(), 1);
  EXPECT_EQ(locate_binary(*apiserver, LabOptions{}), std::optional<fs::path>(assets / "kube-apiserver"));
  // An explicit binary wins over the assets folder.
  LabOptions given;
  given.binaries = {{"kube-apiserver", "/nonexistent/kube-apiserver"}};
  EXPECT_EQ(locate_binary(*apiserver, given), std::nullopt);
  if (old != nullptr) {
    ::setenv("KUBEBUILDER_ASSETS", saved.c_str(), 1);
  } else {
    ::unsetenv("KUBEBUILDER_ASSETS");
  }
}

TEST_F(LabTest, DownLeavesARecycledPidAlone) {
  // A record whose pid is alive but is not the recorded command: `down` must not signal it.
  fs::create_directories(dir_ / "etcd");
  pid_t self = getpid();
  std::ofstream(dir_ / "etcd" / "service.json")
      << fmt::format(R"({{"name":"etcd","pid":{},"binary":"/usr/bin/etcd","ports":{{}},"endpoints":{{}},)"
                     R"("log_file":"x","command":["/usr/bin/etcd","--data-dir","y"]}})",
                     self);
  Result<std::vector<std::string>> stopped = down(dir_, real_clock());
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->front(),
            fmt::format("etcd: pid {} is no longer etcd of this lab; left it running, state removed", self));
  EXPECT_FALSE(fs::exists(dir_ / "etcd"));
}

TEST(LabProcess, FindsExecutablesAndCmdlines) {
  EXPECT_TRUE(find_executable("sh").has_value());
  EXPECT_FALSE(find_executable("/nonexistent/binary").has_value());
  std::optional<std::vector<std::string>> argv = process_cmdline(getpid());
  ASSERT_TRUE(argv);
  EXPECT_NE(argv->front().find("unit_lab"), std::string::npos);
  EXPECT_TRUE(process_alive(getpid()));
}

}  // namespace
}  // namespace kp::lab
