#include "lab/lab.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

TEST_F(LabTest, StatusDownAndEndpointsOfAnEmptyLab) {
  std::vector<ServiceStatus> statuses = status(dir_, std::chrono::seconds(1));
  ASSERT_EQ(statuses.size(), service_specs().size());  // every known service, started or not
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
