#pragma once

// The DNS worker's socket I/O behind a small interface, so the worker loop (worker.hpp) runs the same against
// the real sockets (socket_io.hpp: connected UDP sockets with sendmmsg/recvmmsg and UDP GSO, pipelined TCP
// connections, one epoll set) and against a unit test's scripted server driven by a FakeClock.
//
// Channels are numbered from 0 in the order they were opened. A query is handed over as its two wire pieces,
// the ID (from the worker's in-flight slot) and the prepared rest (owned by the Workload, which outlives the
// run), so nothing is copied per query. The Io owns none of the worker's state: everything it learns it
// reports through IoEvents, on the worker's own thread, from inside flush() and wait().
//
// Threads: one Io per worker, used only by that worker's thread.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "drivers/dns/load_engine.hpp"

namespace kp::drivers::dns {

struct OutgoingQuery {
  std::uint32_t slot = 0;              // the worker's in-flight slot, echoed back in sent()/send_failed()
  std::array<std::uint8_t, 2> id{};    // the DNS ID, network order
  std::span<const std::uint8_t> rest;  // the prepared query after its ID
};

// What the Io reports back, on the worker's thread.
class IoEvents {
 public:
  virtual ~IoEvents() = default;
  // A queued UDP query went out at `now`.
  virtual void sent(std::uint32_t slot, TimePoint now) = 0;
  // A queued UDP query was refused by the kernel: its lookup fails.
  virtual void send_failed(std::uint32_t slot, TimePoint now, std::string why) = 0;
  // One datagram or TCP message from the server on `channel`.
  virtual void message(std::uint32_t channel, std::span<const std::uint8_t> bytes, TimePoint now) = 0;
  // A TCP connection failed or closed: every query in flight on it fails (the Io reopens it after a backoff).
  virtual void channel_failed(std::uint32_t channel, TimePoint now, std::string why) = 0;
  // Counted, not fatal: an ICMP port unreachable (nothing listens), a message too large or badly framed, an
  // error worth a line in the report.
  virtual void refused() = 0;
  virtual void malformed() = 0;
  virtual void error(std::string why) = 0;
};

class WorkerIo {
 public:
  virtual ~WorkerIo() = default;
  // Opens a channel and returns its number. UDP: a connected socket; failing is an error (the run cannot
  // start). TCP: a non-blocking connect; a refusal is reported through events.error() and leaves the channel
  // unusable until usable() reopens it.
  virtual Result<std::uint32_t> open(Protocol protocol, TimePoint now, IoEvents& events) = 0;
  // A query can be queued on the channel now (a failed TCP connection is reopened once its backoff passed).
  virtual bool usable(std::uint32_t channel, TimePoint now, IoEvents& events) = 0;
  // Queues one query. UDP: the next flush() sends it (and reports sent()); returns false. TCP: appended to
  // the connection's stream, which is the server's (and the kernel's) time from here on; returns true: sent
  // now.
  virtual bool queue(std::uint32_t channel, const OutgoingQuery& query) = 0;
  // Sends what is queued, as far as the kernel takes it (the rest goes on a later turn, late and counted so).
  virtual void flush(TimePoint now, IoEvents& events) = 0;
  // Waits for the server until `wake` at the latest; reports what arrived. The one place a worker blocks.
  virtual void wait(TimePoint now, TimePoint wake, IoEvents& events) = 0;
  // SO_RCVBUF the kernel granted a UDP socket, bytes (0: none).
  virtual int receive_buffer() const = 0;
  // "" when the buffers were forced to the size asked; else what was refused and what the kernel granted.
  virtual std::string buffer_note() const { return {}; }
  // Closes every channel (the end of the run).
  virtual void close() = 0;
};

// Makes worker `worker`'s Io (the workload tells how large an answer can be).
using IoFactory = std::function<std::unique_ptr<WorkerIo>(
    const Workload& workload, const LoadOptions& options, int worker, Clock& clock)>;

// The real sockets (socket_io.cpp).
IoFactory socket_io();

// run_load with the Io given: the seam unit tests drive with a scripted server and a FakeClock.
Result<LoadResult> run_load_with(const Workload& workload, const LoadOptions& options, Clock& clock,
                                 engine::CancellationToken& cancel, const IoFactory& io,
                                 const ProgressFn& progress = {},
                                 Duration progress_interval = std::chrono::seconds(10));

}  // namespace kp::drivers::dns
