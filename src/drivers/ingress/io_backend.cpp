#include "drivers/ingress/io_backend.hpp"

#include <liburing.h>
#include <sys/utsname.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <ostream>

#include <fmt/format.h>

#include "drivers/ingress/uring_loop.hpp"

namespace kp::drivers::ingress {
namespace {

// Multishot receive (IORING_RECV_MULTISHOT) came with Linux 6.0; older kernels take the flag as an error only
// once a receive is issued, so the probe asks the kernel's version instead.
constexpr int kMinMajor = 6;
constexpr int kMinMinor = 0;

}  // namespace

UringUnavailable probe_uring() {
  std::ifstream disabled("/proc/sys/kernel/io_uring_disabled");
  int level = 0;
  // 2: off for everyone; 1: only for privileged processes and io_uring_group, which the ring set-up below
  // finds out.
  if (disabled >> level && level >= 2) {
    return fmt::format("kernel.io_uring_disabled is {}", level);
  }
  utsname name{};
  int major = 0;
  int minor = 0;
  if (uname(&name) != 0 || std::sscanf(name.release, "%d.%d", &major, &minor) != 2) {
    return std::string("cannot read the kernel's version");
  }
  if (major < kMinMajor || (major == kMinMajor && minor < kMinMinor)) {
    return fmt::format("kernel {} is older than {}.{} (multishot receive)", name.release, kMinMajor,
                       kMinMinor);
  }
  // A small ring with its buffer ring: what a worker builds, so EPERM/ENOSYS (seccomp) or ENOMEM (memlock)
  // show now.
  Result<std::unique_ptr<UringLoop>> ring = UringLoop::create(8, 8);
  if (!ring) {
    return level == 1 ? fmt::format("kernel.io_uring_disabled is 1 and {}", ring.error().message)
                      : ring.error().message;
  }
  return std::nullopt;
}

std::string_view io_backend_name(IoBackend backend) {
  switch (backend) {
    case IoBackend::automatic:
      return "auto";
    case IoBackend::epoll:
      return "epoll";
    case IoBackend::uring:
      return "uring";
  }
  return "auto";
}

std::ostream& operator<<(std::ostream& out, IoBackend backend) {
  return out << io_backend_name(backend);
}

Result<IoBackend> parse_io_backend(std::string_view what, std::string_view text) {
  for (IoBackend backend : {IoBackend::automatic, IoBackend::epoll, IoBackend::uring}) {
    if (text == io_backend_name(backend)) {
      return backend;
    }
  }
  return fail(ErrorKind::usage, fmt::format("{}: must be auto, epoll or uring, got \"{}\"", what, text));
}

const UringUnavailable& uring_unavailable() {
  static const UringUnavailable verdict = probe_uring();
  return verdict;
}

Result<IoChoice> choose_io_backend(IoBackend requested, const UringUnavailable& unavailable) {
  switch (requested) {
    case IoBackend::epoll:
      return IoChoice{.backend = IoBackend::epoll, .note = {}};
    case IoBackend::uring:
      if (unavailable) {
        return fail(ErrorKind::usage,
                    fmt::format("--io uring: io_uring is unavailable here: {}", *unavailable));
      }
      return IoChoice{.backend = IoBackend::uring, .note = {}};
    case IoBackend::automatic:
      if (unavailable) {
        return IoChoice{.backend = IoBackend::epoll,
                        .note = fmt::format("I/O on epoll: io_uring is unavailable here ({})", *unavailable)};
      }
      return IoChoice{.backend = IoBackend::uring, .note = {}};
  }
  return IoChoice{};
}

}  // namespace kp::drivers::ingress
