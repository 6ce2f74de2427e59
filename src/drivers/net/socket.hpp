#pragma once

// Thin, RAII wrappers over BSD sockets for the agent: addresses, connect with a deadline, listeners, and the
// kernel's own counters (TCP_INFO, process CPU time). Blocking sockets with receive/send timeouts: each
// worker thread owns its sockets, and a stuck call wakes within the timeout or at once on shutdown().

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/fd.hpp"
#include "core/units.hpp"

namespace kp::drivers::net {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  std::uint16_t port() const;
};

// "10.0.0.2:7410", "[fd00::2]:7410".
std::string to_string(const SocketAddress& address);

// "host:port" or "[v6]:port" into its parts. ErrorKind::usage: `"10.0.0.2": expected host:port`.
Result<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text);
// Resolves "host:port" (numeric or a name, e.g. a Service's DNS name) to its first address.
Result<SocketAddress> resolve(std::string_view host_port);
// A listening address: "0.0.0.0:7410", ":7410" (all IPv4 addresses), "[::]:7410".
Result<SocketAddress> resolve_listen(std::string_view host_port);

// Connects within `timeout`. ErrorKind::network: `cannot connect to 10.0.0.2:7410: Connection refused`,
// `... : no answer within 5s`.
Result<Fd> connect_tcp(const SocketAddress& address, Duration timeout);
// A listening TCP socket (SO_REUSEADDR) on `address`; port 0 picks one.
Result<Fd> listen_tcp(const SocketAddress& address, int backlog);
// A UDP socket bound to `address`.
Result<Fd> bind_udp(const SocketAddress& address);
// The local address of a socket (the port a port-0 listener got).
Result<SocketAddress> local_address(int fd);

void set_nodelay(int fd);
// SO_RCVTIMEO / SO_SNDTIMEO: a blocked recv/send returns EAGAIN after this long (0 leaves it unbounded).
void set_timeouts(int fd, Duration receive, Duration send);

// A socket call that failed only for now (a timeout set by set_timeouts, a signal): try again.
inline bool transient(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}
// Waits until `fd` is readable or `timeout` passes; true when readable (or on error/hangup, which a read
// then reports).
bool wait_readable(int fd, Duration timeout);

// The kernel's TCP counters of one connection (TCP_INFO). Zero when unavailable.
struct TcpCounters {
  std::uint64_t bytes_acked = 0;  // payload bytes the peer acknowledged: goodput at the sender
  std::uint64_t retransmits = 0;  // segments retransmitted over the connection's life
  std::uint32_t rtt_us = 0;       // smoothed RTT
};
TcpCounters read_tcp_counters(int fd);

// The CPU time this process used so far, user and system (getrusage RUSAGE_SELF).
struct CpuTimes {
  Duration user{0};
  Duration system{0};
};
CpuTimes process_cpu_times();

// Makes sleeps of the calling thread wake within ~1 µs of their deadline instead of the default 50 µs
// timer slack (prctl PR_SET_TIMERSLACK), for the server's response hold.
void use_precise_timers_on_this_thread();

// Asks for real-time (SCHED_FIFO, lowest priority) scheduling of the calling thread; false when not allowed
// (no CAP_SYS_NICE). For the server's response hold only: a test instrument whose own wake-up must not add
// to the round trip it is meant to lengthen by a known time.
bool use_realtime_scheduling_on_this_thread();

// strerror for a saved errno, thread-safe.
std::string error_text(int error_number);

}  // namespace kp::drivers::net
