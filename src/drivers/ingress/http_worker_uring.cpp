// HttpWorker on io_uring (http_worker.hpp): one submit-and-wait per loop iteration, and the completions of
// connects, sends and receives turned into the same events the epoll path reports (connected, written,
// response bytes, end of file, errors), so RequestFlow sees the same sequence either way.

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "drivers/ingress/http_worker.hpp"

namespace kp::drivers::ingress {

void HttpWorker::uring_wait_and_handle(Duration wait) {
  int handled = uring_->run_once(wait, [this](const Completion& completion) { uring_completed(completion); });
  if (handled < 0 && !ring_failed_) {
    // The ring itself failed, not a connection: no I/O can complete, so the worker stops as if cancelled and
    // what is in flight times out.
    ring_failed_ = true;
    note_error(fmt::format("io_uring wait: {}", std::strerror(-handled)));
  }
}

void HttpWorker::uring_completed(const Completion& completion) {
  const auto index = static_cast<std::size_t>(completion.tag & 0xffffffffu);
  const auto generation = static_cast<std::uint32_t>((completion.tag >> 32) & 0xffffffu);
  const auto op = static_cast<Op>(completion.tag >> 56);
  if (index >= conns_.size()) {
    return;
  }
  Conn& conn = conns_[index];
  if ((conn.generation & 0xffffffu) != generation || conn.fd < 0) {
    return;  // for a connection closed since the operation was queued
  }
  switch (op) {
    case Op::connect:
      if (conn.state != State::connecting) {
        return;
      }
      if (completion.result < 0) {
        connect_failed(index, clock_now(), fmt::format("connect: {}", std::strerror(-completion.result)));
        return;
      }
      connect_succeeded(index, clock_now());
      return;
    case Op::send:
      uring_sent(index, completion.result);
      return;
    case Op::receive:
      uring_received(index, completion);
      return;
  }
}

void HttpWorker::uring_sent(std::size_t index, int result) {
  Conn& conn = conns_[index];
  if (conn.ssl != nullptr) {
    uring_tls_sent(index, result);
    return;
  }
  if (conn.state != State::sending) {
    return;
  }
  const TimePoint now = clock_now();
  if (result < 0) {
    fail_conn(index, now, result_.write_errors, fmt::format("write: {}", std::strerror(-result)));
    return;
  }
  conn.written += static_cast<std::size_t>(result);
  if (conn.written < conn.request->size()) {
    continue_send(index, now);  // a short send: queue the rest
    return;
  }
  flow_->written(index, now);
  conn.state = State::awaiting;
}

void HttpWorker::uring_received(std::size_t index, const Completion& completion) {
  Conn& conn = conns_[index];
  const std::uint32_t generation = conn.generation;
  if (completion.result > 0) {
    if (conn.ssl != nullptr) {
      uring_tls_received(index, completion.data);  // counts the plaintext in bytes_read, as on epoll
    } else {
      result_.bytes_read += static_cast<std::uint64_t>(completion.result);
      consume(index, completion.data);
    }
  } else if (completion.result == 0) {
    peer_closed(index, clock_now());
    return;
  } else if (completion.result != -ENOBUFS) {
    read_failed(index, clock_now(), fmt::format("read: {}", std::strerror(-completion.result)));
    return;
  }
  // Out of buffers (the bytes wait in the socket), or the kernel ended the multishot receive: arm it again
  // while the connection is the same one.
  if (!completion.more && conn.generation == generation && conn.fd >= 0) {
    uring_->receive(conn.fd, uring_token(index, Op::receive));
  }
}

}  // namespace kp::drivers::ingress
