#include "core/socket_buffer.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kp {

SocketBufferGrant request_socket_buffer(int fd, bool receive, int bytes) {
  SocketBufferGrant grant;
  grant.asked = bytes;
  const int forced = receive ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
  const int plain = receive ? SO_RCVBUF : SO_SNDBUF;
  if (::setsockopt(fd, SOL_SOCKET, forced, &bytes, sizeof bytes) == 0) {
    grant.forced = true;
  } else {
    grant.force_error = errno;
    (void)::setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof bytes);
  }
  socklen_t length = sizeof grant.granted;
  if (::getsockopt(fd, SOL_SOCKET, plain, &grant.granted, &length) != 0) {
    grant.granted = 0;
  }
  if (!grant.forced) {
    grant.note = fmt::format("{} refused ({}{}): {} {} asked, {} granted (net.core.{}mem_max caps it)",
                             receive ? "SO_RCVBUFFORCE" : "SO_SNDBUFFORCE", std::strerror(grant.force_error),
                             grant.force_error == EPERM ? ": no CAP_NET_ADMIN" : "",
                             receive ? "SO_RCVBUF" : "SO_SNDBUF", bytes, grant.granted, receive ? "r" : "w");
  }
  return grant;
}

}  // namespace kp
