// Socket buffers as the kernel grants them: forced as root, refused and capped without CAP_NET_ADMIN (a
// child process that drops to uid 65534, as an agent pod runs), never silently.

#include "core/socket_buffer.hpp"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/as_nobody.hpp"

namespace kp {
namespace {

int rmem_max() {
  std::ifstream in("/proc/sys/net/core/rmem_max");
  int value = 0;
  in >> value;
  return value;
}

TEST(SocketBuffer, GrantIsWhatTheKernelReports) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const int asked = 8 << 20;
  SocketBufferGrant grant = request_socket_buffer(fd, true, asked);
  int reported = 0;
  socklen_t length = sizeof reported;
  ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &reported, &length), 0);
  EXPECT_EQ(grant.granted, reported);
  EXPECT_EQ(grant.asked, asked);
  if (grant.forced) {
    EXPECT_GE(grant.granted, asked);  // Linux doubles what it accepts
    EXPECT_EQ(grant.note, "");
  } else {
    EXPECT_NE(grant.note, "");
  }
  ::close(fd);
}

TEST(SocketBuffer, WithoutCapNetAdminTheRefusalAndTheCapAreSaid) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to drop to uid 65534 in a child";
  }
  if (rmem_max() >= (8 << 20)) {
    GTEST_SKIP() << "net.core.rmem_max is not below the size asked here";
  }
  const kp::testing::NobodyOutcome child = kp::testing::run_as_nobody([](std::string& said) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    SocketBufferGrant grant = request_socket_buffer(fd, true, 8 << 20);
    said = std::to_string(grant.forced) + "|" + std::to_string(grant.granted) + "|" + grant.note;
    return 0;
  });
  const std::string& said = child.said;
  ASSERT_TRUE(child.exited && child.exit_code == 0) << said;
  const std::string granted = std::to_string(2 * rmem_max());
  EXPECT_EQ(said, "0|" + granted +
                      "|SO_RCVBUFFORCE refused (Operation not permitted: no CAP_NET_ADMIN): SO_RCVBUF " +
                      std::to_string(8 << 20) + " asked, " + granted +
                      " granted (net.core.rmem_max caps it)");
}

}  // namespace
}  // namespace kp
