#pragma once

// Which I/O backend an HTTP worker's event loop runs on, and how it is chosen.
//
//  - epoll: readiness; one send() and one recv() system call per request, plus the waits. Always available.
//  - uring: completions (io_uring, uring_loop.hpp); a loop iteration's sends, connects and the wait go into
//  one
//    io_uring_enter, and responses arrive by multishot receive into provided buffers, so a keep-alive request
//    costs a fraction of a system call. With TLS, OpenSSL encrypts in memory and the ring moves the
//    ciphertext.
//
// `automatic` takes uring where it works and falls back to epoll, saying why; `--io uring` where io_uring is
// unavailable is an error, never a silent fallback. Measurement is the same on both: the schedule, intended
// times and results live in RequestFlow, which does not know the backend.

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace kp::drivers::ingress {

enum class IoBackend {
  automatic,  // uring where available, else epoll
  epoll,      // forced epoll
  uring,      // forced io_uring; an error where unavailable
};

// "auto", "epoll", "uring".
std::string_view io_backend_name(IoBackend backend);
// Reads a flag or setting value; ErrorKind::usage naming `what` and echoing the value:
//   `--io: must be auto, epoll or uring, got "poll"`
Result<IoBackend> parse_io_backend(std::string_view what, std::string_view text);
// The name, for streams (GoogleTest prints parameterised tests' values with it).
std::ostream& operator<<(std::ostream& out, IoBackend backend);

// Whether io_uring can run the generator here: nullopt, or why not ("kernel.io_uring_disabled is 2").
using UringUnavailable = std::optional<std::string>;

// Probes: /proc/sys/kernel/io_uring_disabled, a kernel new enough for multishot receive (6.0), then a real
// ring with a provided-buffer ring (so seccomp's ENOSYS/EPERM and memlock limits show here, not mid-run).
UringUnavailable probe_uring();
// probe_uring() once per process (cached). Thread-safe.
const UringUnavailable& uring_unavailable();

// The backend a run uses (never `automatic`) and, when `automatic` fell back, the reason for the report.
struct IoChoice {
  IoBackend backend = IoBackend::epoll;
  std::string note;  // empty unless automatic fell back to epoll
};

// Pure: from what was asked and the probe's verdict. Errors (ErrorKind::usage):
//   `--io uring: io_uring is unavailable here: kernel.io_uring_disabled is 2`
Result<IoChoice> choose_io_backend(IoBackend requested, const UringUnavailable& unavailable);

}  // namespace kp::drivers::ingress
