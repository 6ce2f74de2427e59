#pragma once

// Asking the kernel for a socket buffer, and saying what it gave. SO_RCVBUFFORCE/SO_SNDBUFFORCE pass the
// net.core.[rw]mem_max cap but need CAP_NET_ADMIN, which a pod with every capability dropped lacks: then the
// plain option is asked, the cap applies, and the result says so rather than pretending the size was had.

#include <string>

namespace kp {

struct SocketBufferGrant {
  int asked = 0;        // bytes asked
  int granted = 0;      // bytes getsockopt reports (Linux doubles what it accepts, for its bookkeeping)
  bool forced = false;  // the *FORCE option was accepted
  int force_error = 0;  // errno of the refused *FORCE option (EPERM without CAP_NET_ADMIN); 0 when accepted
  // "" when forced; else e.g. "SO_RCVBUFFORCE refused (Operation not permitted: no CAP_NET_ADMIN): SO_RCVBUF
  // 4194304 asked, 425984 granted (net.core.rmem_max caps it)".
  std::string note;
};

// `receive`: SO_RCVBUF(FORCE), else SO_SNDBUF(FORCE). Never fails: a refusal is in the grant.
SocketBufferGrant request_socket_buffer(int fd, bool receive, int bytes);

}  // namespace kp
