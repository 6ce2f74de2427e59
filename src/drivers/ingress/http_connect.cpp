// HttpWorker's connection set-up: resolving the target, non-blocking connects, TLS handshakes, failures with
// a back-off, and the connections opened before the start (http_worker.hpp).

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "drivers/ingress/http_worker.hpp"

namespace kp::drivers::ingress {

Result<Address> resolve(const Url& url) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(url.port);
  int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return fail(ErrorKind::network, fmt::format("cannot resolve \"{}\": {}", url.host, gai_strerror(rc)));
  }
  Address address;
  std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
  address.length = found->ai_addrlen;
  address.family = found->ai_family;
  freeaddrinfo(found);
  return address;
}

void HttpWorker::close_conn(std::size_t index) {
  Conn& conn = conns_[index];
  if (conn.ssl != nullptr) {
    SSL_free(conn.ssl);
    conn.ssl = nullptr;
  }
  if (conn.network != nullptr) {
    BIO_free(conn.network);
    conn.network = nullptr;
  }
  // A send still in flight reads nothing more from `out`: the shutdown below fails it before it copies.
  conn.out.clear();
  conn.out_sent = 0;
  conn.send_in_flight = false;
  if (conn.fd >= 0) {
    if (on_uring()) {
      uring_->retire(conn.fd);  // its operations in flight end; the descriptor closes after the next submit
    } else {
      ::close(conn.fd);  // also removes it from the epoll set
    }
    conn.fd = -1;
  }
  ++conn.generation;
  conn.state = State::closed;
  conn.interest = 0;
  if (flow_) {
    flow_->dropped(index);
    flow_->not_ready(index);
  }
}

bool HttpWorker::start_connect(std::size_t index, TimePoint now) {
  Conn& conn = conns_[index];
  // io_uring makes every operation non-blocking itself (it tries, then polls); epoll needs the flag.
  const int nonblock = on_uring() ? 0 : SOCK_NONBLOCK;
  conn.fd = ::socket(target_.address.family, SOCK_STREAM | nonblock | SOCK_CLOEXEC, IPPROTO_TCP);
  if (conn.fd < 0) {
    connect_failed(index, now, fmt::format("socket: {}", std::strerror(errno)));
    return false;
  }
  int one = 1;
  setsockopt(conn.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  conn.connect_started = now;
  conn.deadline = now + spec_.timeout;
  if (on_uring()) {
    uring_->connect(conn.fd, reinterpret_cast<const sockaddr*>(&target_.address.storage),
                    target_.address.length, uring_token(index, Op::connect));
    conn.state = State::connecting;
    return true;
  }
  int rc =
      ::connect(conn.fd, reinterpret_cast<const sockaddr*>(&target_.address.storage), target_.address.length);
  if (rc != 0 && errno != EINPROGRESS) {
    connect_failed(index, now, fmt::format("connect: {}", std::strerror(errno)));
    return false;
  }
  epoll_event event{};
  event.events = EPOLLOUT;
  event.data.u64 = token(index);
  epoll_ctl(epoll_, EPOLL_CTL_ADD, conn.fd, &event);
  conn.interest = EPOLLOUT;
  conn.state = State::connecting;
  return true;
}

void HttpWorker::connect_failed(std::size_t index, TimePoint now, std::string why) {
  ++result_.connect_errors;
  count_error(now);
  note_error(std::move(why));
  close_conn(index);
  conns_[index].state = State::backoff;
  conns_[index].deadline = now + kReconnectBackoff;
}

// The connection (and its request, if any) failed: count it, close it, reopen or free it after the back-off
// (the tick does).
void HttpWorker::fail_conn(std::size_t index, TimePoint now, std::uint64_t& counter, std::string why) {
  ++counter;
  count_error(now);
  note_error(std::move(why));
  close_conn(index);
  conns_[index].state = State::backoff;
  conns_[index].deadline = now + kReconnectBackoff;
}

void HttpWorker::finish_connect(std::size_t index, TimePoint now) {
  Conn& conn = conns_[index];
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(conn.fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    connect_failed(index, now, fmt::format("connect: {}", std::strerror(error)));
    return;
  }
  connect_succeeded(index, now);
}

void HttpWorker::connect_succeeded(std::size_t index, TimePoint now) {
  Conn& conn = conns_[index];
  result_.connect_time.record(now - conn.connect_started);
  if (target_.tls) {
    conn.ssl = on_uring() ? target_.tls->new_memory_session(target_.tls_name, &conn.network)
                          : target_.tls->new_session(conn.fd, target_.tls_name);
    if (conn.ssl == nullptr) {
      fail_conn(index, now, result_.tls_errors, "TLS: cannot allocate a session");
      return;
    }
    if (on_uring()) {
      uring_->receive(conn.fd, uring_token(index, Op::receive));  // the handshake's replies come this way
    }
    conn.state = State::handshaking;
    conn.handshake_started = now;
    continue_handshake(index, now);
    return;
  }
  connected(index, now);
}

void HttpWorker::continue_handshake(std::size_t index, TimePoint now) {
  Conn& conn = conns_[index];
  ERR_clear_error();
  int rc = SSL_do_handshake(conn.ssl);
  if (on_uring()) {
    tls_flush(index);  // the handshake's next flight, if it wrote one
  }
  if (rc == 1) {
    result_.handshake_time.record(now - conn.handshake_started);
    connected(index, now);
    return;
  }
  int error = SSL_get_error(conn.ssl, rc);
  if (error == SSL_ERROR_WANT_READ) {
    set_interest(conn, index, EPOLLIN);
  } else if (error == SSL_ERROR_WANT_WRITE) {
    set_interest(conn, index, EPOLLIN | EPOLLOUT);
  } else {
    std::string why = tls_error_text(conn.ssl, error);
    fail_conn(index, now, result_.tls_errors, std::move(why));
  }
}

void HttpWorker::connected(std::size_t index, TimePoint now) {
  Conn& conn = conns_[index];
  ++result_.connections_opened;
  if (flow_) {
    result_.series.record(kSeriesConnect, now, (now - conn.connect_started).count());
  }
  conn.state = State::idle;
  if (on_uring()) {
    // One receive for the connection's life: it stays armed across requests (re-armed only if it ends). TLS
    // armed it before the handshake.
    if (conn.ssl == nullptr) {
      uring_->receive(conn.fd, uring_token(index, Op::receive));
    }
  } else {
    set_interest(conn, index, EPOLLIN);
  }
  if (has_request(index)) {
    begin_send(index, now);  // connection per request: its request was assigned before the connect
    return;
  }
  if (running_) {
    became_idle(index, now);
  }
}

bool HttpWorker::open_backend() {
  if (share_.io == IoBackend::uring) {
    // Two operations per connection can be queued in one iteration (a send, a receive or connect re-armed);
    // the buffers cover a batch of responses, which are consumed in place and handed back at once.
    const auto connections = static_cast<unsigned>(conns_.size());
    Result<std::unique_ptr<UringLoop>> ring = UringLoop::create(std::clamp(2 * connections + 8, 64u, 4096u),
                                                                std::clamp(2 * connections, 64u, 2048u));
    if (ring) {
      uring_ = std::move(*ring);
      return true;
    }
    io_note_ = fmt::format("I/O on epoll: io_uring failed in a worker ({})", ring.error().message);
  }
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) {
    note_error(fmt::format("epoll_create1: {}", std::strerror(errno)));
    return false;
  }
  return true;
}

void HttpWorker::connect_first() {
  if (!open_backend()) {
    return;
  }
  TimePoint now = clock_now();
  std::size_t count = keep_alive_mode() ? conns_.size() : 1;
  for (std::size_t i = 0; i < count; ++i) {
    start_connect(i, now);
  }
  TimePoint deadline = now + spec_.timeout;
  std::vector<epoll_event> events(kMaxEvents);
  while (true) {
    std::size_t pending = 0;
    for (std::size_t i = 0; i < count; ++i) {
      State state = conns_[i].state;
      pending += state == State::connecting || state == State::handshaking;
    }
    now = clock_now();
    if (pending == 0 || now >= deadline || cancel_.requested() || ring_failed_) {
      break;
    }
    wait_and_handle(events, std::min(deadline, now + kWorkerTick) - now);
  }
  published_.connected.store(result_.connections_opened, std::memory_order_relaxed);
  if (!keep_alive_mode()) {
    // The probe only proves the target answers; the run's counts start clean.
    close_conn(0);
    std::vector<std::string> samples = std::move(result_.error_samples);
    result_ = LoadResult{};
    result_.error_samples = std::move(samples);
    return;
  }
  for (std::size_t i = 0; i < count; ++i) {
    State state = conns_[i].state;
    if (state == State::connecting || state == State::handshaking) {
      bool handshake = state == State::handshaking;
      close_conn(i);
      ++result_.timeouts;
      note_error(fmt::format("{} timed out after {}", handshake ? "TLS handshake" : "connect",
                             format_duration(spec_.timeout)));
      conns_[i].state = State::backoff;
      conns_[i].deadline = now;
    }
  }
}

}  // namespace kp::drivers::ingress
