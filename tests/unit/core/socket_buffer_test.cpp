// Socket buffers as the kernel grants them: forced as root, refused and capped without CAP_NET_ADMIN (a
// child process that drops to uid 65534, as an agent pod runs), never silently.

#include "core/socket_buffer.hpp"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

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
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(out[0]);
    // setuid away from 0 clears the effective capabilities, CAP_NET_ADMIN among them.
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      ::_exit(3);
    }
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    SocketBufferGrant grant = request_socket_buffer(fd, true, 8 << 20);
    const std::string text =
        std::to_string(grant.forced) + "|" + std::to_string(grant.granted) + "|" + grant.note;
    (void)!::write(out[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(out[1]);
  std::string said;
  char buffer[512];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) {
    said.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << said;
  const std::string granted = std::to_string(2 * rmem_max());
  EXPECT_EQ(said, "0|" + granted +
                      "|SO_RCVBUFFORCE refused (Operation not permitted: no CAP_NET_ADMIN): SO_RCVBUF " +
                      std::to_string(8 << 20) + " asked, " + granted +
                      " granted (net.core.rmem_max caps it)");
}

}  // namespace
}  // namespace kp
