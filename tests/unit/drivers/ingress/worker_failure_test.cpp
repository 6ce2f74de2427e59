// A worker thread's exception is a phase error, never std::terminate: run_load goes through the load
// kernel's worker pool, which catches it, asks the other workers to stop, joins them and returns an error.
// Each test runs on both I/O backends (the io_uring run is skipped, with the reason, where it is
// unavailable).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "drivers/ingress/load.hpp"

namespace kp::drivers::ingress {
namespace {

// The real clock, except that the first worker thread to read it gets an exception instead.
class BreakingClock final : public Clock {
 public:
  TimePoint now() const override {
    if (std::this_thread::get_id() != owner_ && !broken_.exchange(true)) {
      throw std::runtime_error("the clock broke");
    }
    return real_clock().now();
  }
  WallTime wall_now() const override { return real_clock().wall_now(); }
  void sleep_until(TimePoint deadline) override { real_clock().sleep_until(deadline); }

 private:
  std::thread::id owner_ = std::this_thread::get_id();
  mutable std::atomic<bool> broken_{false};
};

// A loopback listener that never accepts: connects complete in the kernel's backlog, nothing answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0 && ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

class RunLoad : public ::testing::TestWithParam<IoBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == IoBackend::uring && uring_unavailable()) {
      GTEST_SKIP() << "io_uring unavailable: " << *uring_unavailable();
    }
  }
};
INSTANTIATE_TEST_SUITE_P(Backends, RunLoad, ::testing::Values(IoBackend::epoll, IoBackend::uring),
                         [](const ::testing::TestParamInfo<IoBackend>& info) {
                           return std::string(io_backend_name(info.param));
                         });

TEST_P(RunLoad, AWorkerExceptionIsAnErrorNotACrash) {
  SilentListener listener;
  ASSERT_NE(listener.port(), 0);
  LoadSpec spec;
  spec.url = *parse_url(fmt::format("http://127.0.0.1:{}/", listener.port()));
  spec.threads = 2;
  spec.connections = 2;
  spec.rate = Rate{100};
  spec.duration = std::chrono::milliseconds(200);
  spec.timeout = std::chrono::milliseconds(200);
  spec.io = GetParam();
  BreakingClock clock;
  engine::CancellationToken cancel;
  Result<LoadResult> result = run_load(spec, clock, cancel);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::internal);
  EXPECT_NE(result.error().message.find("ingress load generator: worker "), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find(" of 2 failed: the clock broke"), std::string::npos)
      << result.error().message;
}

TEST_P(RunLoad, ATinyRatePutsALaterWorkersFirstSendOffWithoutOverflow) {
  // Worker 1's first send is 1e9 / (2 x 1e-300) ns away: cast to a Duration unchecked, that was undefined
  // behaviour (UBSan in `make test-asan`); now a year off, beyond the window, so nothing is sent.
  SilentListener listener;
  ASSERT_NE(listener.port(), 0);
  LoadSpec spec;
  spec.url = *parse_url(fmt::format("http://127.0.0.1:{}/", listener.port()));
  spec.threads = 2;
  spec.connections = 2;
  spec.rate = Rate{1e-300};
  spec.duration = std::chrono::milliseconds(100);
  spec.timeout = std::chrono::milliseconds(100);
  spec.io = GetParam();
  engine::CancellationToken cancel;
  Result<LoadResult> result = run_load(spec, real_clock(), cancel);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->requests_sent, 0u);
}

}  // namespace
}  // namespace kp::drivers::ingress
