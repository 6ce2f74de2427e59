#pragma once

// The real sockets of a DNS worker (worker_io.hpp's WorkerIo): one connected UDP socket per client, so the
// server's SO_REUSEPORT hash spreads clients over its threads, or one pipelined TCP connection per client,
// all in one epoll set. Datagrams go out with sendmmsg, runs of equal-sized ones as one UDP GSO message, and
// come back with recvmmsg, in batches. Also the small RAII helpers query_once.cpp shares.

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "core/fd.hpp"
#include "core/units.hpp"

namespace kp::drivers::dns {

timespec to_timespec(Duration duration);
std::string errno_text(int error);

}  // namespace kp::drivers::dns
