#pragma once

// The seam between the etcd load loop and gRPC: a worker issues KV calls into client slots and collects
// their completions through this interface, and nothing else. The gRPC implementation (grpc_transport.hpp)
// runs each worker's calls on its own completion queue; a unit test implements it with calls that complete
// on a FakeClock, so the loop's schedule, lateness, queueing and accounting are tested without a server.
//
// Threads: one transport per worker, created and used on that worker's thread only.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/units.hpp"

namespace kp::drivers::etcd {

// One finished call.
struct Completion {
  std::size_t slot = 0;
  bool ok = false;
  int code = 0;         // the gRPC status code (0 when ok)
  std::string message;  // the status's message ("" when ok)
};

class KvTransport {
 public:
  virtual ~KvTransport() = default;
  // Starts a Put (or, with `is_range`, a Range) of `key` in client slot `slot` (< the slots it was made
  // with), ending by `timeout` from now at the latest. The slot is the caller's to reuse only after its
  // completion came back from next().
  virtual void start(std::size_t slot, bool is_range, std::string_view key, Duration timeout) = 0;
  // Waits up to `wait` for one completion; nullopt when none came in that time.
  virtual std::optional<Completion> next(Duration wait) = 0;
  // Asks every call in flight to end now; each still completes through next().
  virtual void cancel_in_flight() = 0;
  // Ends the transport once no call is in flight (gRPC requires its queue drained before it goes).
  virtual void shutdown() = 0;
};

// Makes worker `index` of `workers` its transport with `slots` client slots, on the worker's thread.
using TransportFactory =
    std::function<std::unique_ptr<KvTransport>(int index, int workers, std::size_t slots)>;

}  // namespace kp::drivers::etcd
