#include "cli/metrics_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.hpp"
#include "core/clock.hpp"
#include "engine/cancellation.hpp"

namespace kp::cli {
namespace {

// A plain socket client: connects to 127.0.0.1:port, optionally sends, reads until the server closes.
class Client {
 public:
  explicit Client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    const timeval timeout{5, 0};  // a bound, not a synchronisation: the answer normally comes at once
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  void send_text(std::string_view text) {
    ASSERT_EQ(::send(fd_, text.data(), text.size(), 0), ssize_t(text.size()));
  }
  std::string read_all() {
    std::string out;
    char buffer[4096];
    ssize_t got = 0;
    while ((got = ::recv(fd_, buffer, sizeof buffer, 0)) > 0) {
      out.append(buffer, static_cast<std::size_t>(got));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// This host's IPv4 addresses other than 127/8 (the interfaces that are up); may be empty.
std::vector<in_addr> non_loopback_ipv4_addresses() {
  std::vector<in_addr> found;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return found;
  }
  for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr != nullptr && entry->ifa_addr->sa_family == AF_INET &&
        (entry->ifa_flags & IFF_UP) != 0) {
      const in_addr address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr)->sin_addr;
      if ((ntohl(address.s_addr) >> 24) != 127) {
        found.push_back(address);
      }
    }
  }
  ::freeifaddrs(list);
  return found;
}

bool connects(in_addr address, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(port);
  target.sin_addr = address;
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof target) == 0;
  ::close(fd);
  return connected;
}

std::string get(std::uint16_t port, std::string_view request) {
  Client client(port);
  EXPECT_TRUE(client.connected());
  client.send_text(request);
  return client.read_all();
}

TEST(MetricsServer, ServesWhatRenderSaysAtEachScrape) {
  std::atomic<int> scrapes{0};
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::start(
      "127.0.0.1:0", [&scrapes] { return "kubeproof_scrape " + std::to_string(++scrapes) + "\n"; },
      real_clock());
  ASSERT_TRUE(server) << server.error().message;
  const std::uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);
  EXPECT_EQ((*server)->url(), "http://127.0.0.1:" + std::to_string(port) + "/metrics");

  const std::string first = get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(first.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << first;
  EXPECT_NE(first.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << first;
  EXPECT_NE(first.find("Content-Length: 19\r\n"), std::string::npos) << first;
  EXPECT_TRUE(first.ends_with("\r\n\r\nkubeproof_scrape 1\n")) << first;
  const std::string second = get(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(second.ends_with("kubeproof_scrape 2\n")) << second;
}

TEST(MetricsServer, OtherPathsAndMethodsAreRefused) {
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::start(
      "127.0.0.1:0", [] { return "x 1\n"; }, real_clock());
  ASSERT_TRUE(server) << server.error().message;
  const std::uint16_t port = (*server)->port();
  EXPECT_EQ(get(port, "GET /nope HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(get(port, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_EQ(get(port, "garbage\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(get(port, "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 ", 0), 0u);
}

TEST(MetricsServer, ASilentClientDoesNotKeepOthersOut) {
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::start(
      "127.0.0.1:0", [] { return "x 1\n"; }, real_clock());
  ASSERT_TRUE(server) << server.error().message;
  Client silent((*server)->port());
  ASSERT_TRUE(silent.connected());
  // The silent client is dropped after its read timeout; the scrape behind it is then answered.
  const std::string answer = get((*server)->port(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK", 0), 0u) << answer;
  EXPECT_EQ(silent.read_all().rfind("HTTP/1.1 400 ", 0), 0u);
}

TEST(MetricsServer, AClientTricklingItsRequestIsCutOffAfterASecondInAll) {
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::start(
      "127.0.0.1:0", [] { return "x 1\n"; }, real_clock());
  ASSERT_TRUE(server) << server.error().message;
  Client trickler((*server)->port());
  ASSERT_TRUE(trickler.connected());
  // A whole, valid request, a piece every 300 ms (the client's pace is what is tested, not a wait for the
  // server): 2.7 s in all, each gap well under the second a single read may take. The trickler stops once
  // the answer is there, so it never sends into a closed connection (whose reset could discard the answer).
  const std::string request = "GET /metrics HTTP/1.1\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    pollfd answered{trickler.fd(), POLLIN, 0};
    if (::poll(&answered, 1, 0) > 0) {
      break;
    }
    const std::size_t size = std::min<std::size_t>(3, request.size() - sent);
    ASSERT_EQ(::send(trickler.fd(), request.data() + sent, size, MSG_NOSIGNAL), ssize_t(size));
    sent += size;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_LT(sent, request.size()) << "the server waited for the whole trickled request";
  EXPECT_EQ(trickler.read_all().rfind("HTTP/1.1 400 ", 0), 0u) << "the request was cut off, not answered";
  EXPECT_EQ((*server)->scrapes(), 0u);
}

TEST(MetricsServer, WaitsForTheNextScrapeAtMostTheLinger) {
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::start(
      "127.0.0.1:0", [] { return "x 1\n"; }, real_clock());
  ASSERT_TRUE(server) << server.error().message;
  engine::CancellationToken cancel;
  EXPECT_FALSE((*server)->wait_for_scrape(0, std::chrono::milliseconds(20), cancel));  // nobody scraped
  get((*server)->port(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ((*server)->scrapes(), 1u);
  EXPECT_TRUE((*server)->wait_for_scrape(0, std::chrono::hours(1), cancel));  // it came: no waiting
  cancel.request();
  EXPECT_FALSE((*server)->wait_for_scrape(1, std::chrono::hours(1), cancel));  // Ctrl-C ends the wait
}

// Issue 18: the endpoint binds loopback unless the address says otherwise.
TEST(MetricsServer, APortAloneBindsLoopbackOnly) {
  for (const char* listen : {"0", ":0"}) {
    Result<std::unique_ptr<MetricsServer>> server = MetricsServer::start(
        listen, [] { return "x 1\n"; }, real_clock());
    ASSERT_TRUE(server) << server.error().message;
    EXPECT_TRUE((*server)->url().starts_with("http://127.0.0.1:")) << (*server)->url();
    EXPECT_TRUE((*server)->loopback_only());
    EXPECT_EQ(get((*server)->port(), "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 OK", 0), 0u);
    // This host's other addresses refuse the connection.
    for (const in_addr& address : non_loopback_ipv4_addresses()) {
      EXPECT_FALSE(connects(address, (*server)->port())) << inet_ntoa(address);
    }
  }
}

TEST(MetricsServer, EveryAddressOnlyWhenSaidAndThenNotLoopbackOnly) {
  for (const char* listen : {"0.0.0.0:0", "[::]:0"}) {
    Result<std::unique_ptr<MetricsServer>> server = MetricsServer::start(
        listen, [] { return "x 1\n"; }, real_clock());
    ASSERT_TRUE(server) << server.error().message;
    EXPECT_FALSE((*server)->loopback_only()) << listen;
    // IPv4 loopback reaches it in both forms ("[::]" takes IPv4 too).
    EXPECT_EQ(get((*server)->port(), "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 OK", 0), 0u)
        << listen;
    for (const in_addr& address : non_loopback_ipv4_addresses()) {
      EXPECT_TRUE(connects(address, (*server)->port())) << listen << " " << inet_ntoa(address);
    }
  }
}

TEST(MetricsServer, BadAddressesNameTheFlagAndTheValue) {
  for (const char* bad : {"ab", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:ab", "::1:9464"}) {
    Result<std::unique_ptr<MetricsServer>> server = MetricsServer::start(
        bad, [] { return ""; }, real_clock());
    ASSERT_FALSE(server) << bad;
    EXPECT_EQ(server.error().kind, ErrorKind::usage) << bad;
    EXPECT_NE(server.error().message.find("--metrics-listen"), std::string::npos) << server.error().message;
    EXPECT_NE(server.error().message.find(std::string("\"") + bad + "\""), std::string::npos)
        << server.error().message;
  }
}

TEST(MetricsServer, APortInUseIsAClearError) {
  Result<std::unique_ptr<MetricsServer>> first = MetricsServer::start(
      "127.0.0.1:0", [] { return ""; }, real_clock());
  ASSERT_TRUE(first) << first.error().message;
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  Result<std::unique_ptr<MetricsServer>> second = MetricsServer::start(
      taken, [] { return ""; }, real_clock());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().message,
            "--metrics-listen: cannot listen on \"" + taken + "\": Address already in use");
}

TEST(MetricsServer, RunRefusesABadListenAddressBeforeAnyPhase) {
  testing::Sandbox sandbox;
  std::filesystem::create_directories(sandbox.work() / "empty-lab");
  testing::Ran ran =
      sandbox.run({"run", "--type", "smoke", "--lab-dir", "empty-lab", "--metrics-listen", "127.0.0.1:ab"});
  EXPECT_EQ(ran.exit_code, 2) << ran.err;
  EXPECT_EQ(ran.err,
            "kubeproof: --metrics-listen: the port must be a number from 0 to 65535, got \"127.0.0.1:ab\"\n");
  EXPECT_FALSE(std::filesystem::exists(sandbox.work() / "results"));
  testing::Ran linger = sandbox.run(
      {"run", "--dry-run", "--lab-dir", "empty-lab", "--metrics-listen", ":0", "--metrics-linger", "soon"});
  EXPECT_EQ(linger.exit_code, 2) << linger.err;
  EXPECT_EQ(linger.err, "kubeproof: --metrics-linger: not a duration >= 0, got \"soon\"\n");
}

}  // namespace
}  // namespace kp::cli
