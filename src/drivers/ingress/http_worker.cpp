#include "drivers/ingress/http_worker.hpp"

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

namespace kp::drivers::ingress {
namespace {

// After cancellation, responses in flight get this long at most.
constexpr Duration kCancelDrain = std::chrono::milliseconds(200);
constexpr std::size_t kReadBufferSize = 64 * 1024;
// Open loop: intended times waiting for a connection, at most (about 100 s at 10k/s); the rest are counted
// unsent (the server's: every connection was busy).
constexpr std::size_t kMaxPending = std::size_t{1} << 20;
// The furthest a worker's first send is put off: a year, in ns.
constexpr double kLongestFirstOffsetNs = 365.0 * 24 * 3600 * 1e9;

}  // namespace

HttpWorker::HttpWorker(const LoadSpec& spec, const Target& target, Clock& clock,
                       engine::CancellationToken& cancel, const WorkerShare& share, Published& published,
                       std::function<bool()> stop)
    : spec_(spec),
      target_(target),
      clock_(clock),
      cancel_(cancel),
      share_(share),
      published_(published),
      stop_(std::move(stop)),
      conns_(static_cast<std::size_t>(std::max(1, share.connections))),
      buffer_(new char[kReadBufferSize]),
      live_(spec.live, Phase::ingress, spec.live_series) {}

HttpWorker::~HttpWorker() {
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    close_conn(i);
  }
  uring_.reset();  // closes the sockets it retired
  if (epoll_ >= 0) {
    ::close(epoll_);
  }
}

std::uint64_t HttpWorker::token(std::size_t index) const {
  return (std::uint64_t{conns_[index].generation} << 32) | index;
}

std::uint64_t HttpWorker::uring_token(std::size_t index, Op op) const {
  return (std::uint64_t{static_cast<std::uint8_t>(op)} << 56) |
         (std::uint64_t{conns_[index].generation & 0xffffffu} << 32) | index;
}

void HttpWorker::set_interest(Conn& conn, std::size_t index, std::uint32_t events) {
  // io_uring has no readiness to arm: its operations complete (TLS too: its session works on memory there).
  if (on_uring() || conn.interest == events) {
    return;
  }
  epoll_event event{};
  event.events = events;
  event.data.u64 = token(index);
  epoll_ctl(epoll_, EPOLL_CTL_MOD, conn.fd, &event);
  conn.interest = events;
}

void HttpWorker::count_error(TimePoint now) {
  if (flow_) {
    flow_->count_error(now);
  }
}

void HttpWorker::note_error(std::string text) {
  keep_error_sample(result_, std::move(text));
}

const std::string& HttpWorker::next_request() {
  const std::string& request = target_.requests[next_path_];
  if (++next_path_ == target_.requests.size()) {
    next_path_ = 0;
  }
  return request;
}

// The flow assigned a request to `index`: send it on the idle connection, or open the connection for it.
void HttpWorker::start_request(std::size_t index, TimePoint now) {
  Conn& conn = conns_[index];
  conn.request = &next_request();
  conn.written = 0;
  conn.parser.reset(head_request_);
  if (keep_alive_mode()) {
    begin_send(index, now);
    return;
  }
  // A connect that fails at once was counted and closed the slot (dropping the request); the slot retries
  // after the back-off.
  start_connect(index, now);
}

void HttpWorker::begin_send(std::size_t index, TimePoint now) {
  flow_->sending(index, now);
  conns_[index].state = State::sending;
  continue_send(index, now);
}

void HttpWorker::continue_send(std::size_t index, TimePoint now) {
  Conn& conn = conns_[index];
  if (on_uring() && conn.ssl != nullptr) {
    uring_tls_send(index, now);
    return;
  }
  const std::string& request = *conn.request;
  while (conn.written < request.size()) {
    const char* data = request.data() + conn.written;
    std::size_t left = request.size() - conn.written;
    ssize_t n = 0;
    if (conn.ssl != nullptr) {
      ERR_clear_error();
      int rc = SSL_write(conn.ssl, data, static_cast<int>(left));
      if (rc <= 0) {
        int error = SSL_get_error(conn.ssl, rc);
        if (error == SSL_ERROR_WANT_WRITE) {
          set_interest(conn, index, EPOLLIN | EPOLLOUT);
          return;
        }
        if (error == SSL_ERROR_WANT_READ) {
          set_interest(conn, index, EPOLLIN);
          return;
        }
        fail_conn(index, now, result_.write_errors, tls_error_text(conn.ssl, error));
        return;
      }
      n = rc;
    } else if (on_uring()) {
      // Queued: goes out with the loop's next submission, together with the other connections' sends.
      uring_->send(conn.fd, data, left, uring_token(index, Op::send));
      return;
    } else {
      n = ::send(conn.fd, data, left, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) {
          set_interest(conn, index, EPOLLIN | EPOLLOUT);
          return;
        }
        if (errno == EINTR) {
          continue;
        }
        fail_conn(index, now, result_.write_errors, fmt::format("write: {}", std::strerror(errno)));
        return;
      }
    }
    conn.written += static_cast<std::size_t>(n);
  }
  flow_->written(index, now);
  conn.state = State::awaiting;
  set_interest(conn, index, EPOLLIN);
}

void HttpWorker::read_ready(std::size_t index) {
  Conn& conn = conns_[index];
  if (conn.ssl == nullptr) {
    ssize_t n = ::recv(conn.fd, buffer_.get(), kReadBufferSize, 0);
    if (n > 0) {
      result_.bytes_read += static_cast<std::uint64_t>(n);
      consume(index, std::string_view(buffer_.get(), static_cast<std::size_t>(n)));
    } else if (n == 0) {
      peer_closed(index, clock_now());
    } else if (errno != EAGAIN && errno != EINTR) {
      read_failed(index, clock_now(), fmt::format("read: {}", std::strerror(errno)));
    }
    return;
  }
  // TLS buffers decrypted records the socket no longer signals: read until it wants more bytes.
  std::uint32_t generation = conn.generation;
  while (conn.generation == generation && conn.ssl != nullptr) {
    ERR_clear_error();
    int rc = SSL_read(conn.ssl, buffer_.get(), static_cast<int>(kReadBufferSize));
    if (rc > 0) {
      result_.bytes_read += static_cast<std::uint64_t>(rc);
      consume(index, std::string_view(buffer_.get(), static_cast<std::size_t>(rc)));
      continue;
    }
    int error = SSL_get_error(conn.ssl, rc);
    if (error == SSL_ERROR_WANT_READ) {
      return;
    }
    if (error == SSL_ERROR_WANT_WRITE) {
      set_interest(conn, index, EPOLLIN | EPOLLOUT);
      return;
    }
    if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
      peer_closed(index, clock_now());  // close_notify, or a TCP close without one
      return;
    }
    read_failed(index, clock_now(), tls_error_text(conn.ssl, error));
    return;
  }
}

void HttpWorker::consume(std::size_t index, std::string_view data) {
  Conn& conn = conns_[index];
  if (!has_request(index) || conn.state != State::awaiting) {
    // Bytes nobody asked for: the framing of this connection cannot be trusted any more.
    TimePoint now = clock_now();
    ++result_.parse_errors;
    count_error(now);
    note_error(std::string(describe(ParseError::unexpected_data)));
    close_conn(index);
    reconnect_or_free(index, now);
    return;
  }
  ResponseParser::Step step = conn.parser.feed(data);
  if (step.status == ParseStatus::need_more) {
    return;
  }
  TimePoint now = clock_now();
  if (step.status == ParseStatus::error) {
    parse_failed(index, now, conn.parser.error());
    return;
  }
  bool leftover = step.consumed < data.size();
  completed(index, now, leftover);
}

void HttpWorker::parse_failed(std::size_t index, TimePoint now, ParseError error) {
  ++result_.parse_errors;
  count_error(now);
  note_error(std::string(describe(error)));
  close_conn(index);
  reconnect_or_free(index, now);
}

void HttpWorker::read_failed(std::size_t index, TimePoint now, std::string why) {
  if (!has_request(index)) {
    // An idle connection reset by the server: reopen it, nobody lost a request.
    ++result_.server_closes;
    close_conn(index);
    reconnect_or_free(index, now);
    return;
  }
  ++result_.read_errors;
  count_error(now);
  note_error(std::move(why));
  close_conn(index);
  reconnect_or_free(index, now);
}

void HttpWorker::peer_closed(std::size_t index, TimePoint now) {
  Conn& conn = conns_[index];
  if (!has_request(index) || conn.state != State::awaiting) {
    if (has_request(index)) {
      read_failed(index, now, "connection closed by the server before the request was sent");
      return;
    }
    ++result_.server_closes;
    close_conn(index);
    reconnect_or_free(index, now);
    return;
  }
  ParseStatus status = conn.parser.finish();
  if (status == ParseStatus::complete) {
    completed(index, now, false);
    return;
  }
  if (status == ParseStatus::need_more) {
    // Closed before a byte of the response: a keep-alive race or a server that drops requests.
    read_failed(index, now, "connection closed by the server without a response");
    return;
  }
  parse_failed(index, now, conn.parser.error());
}

void HttpWorker::completed(std::size_t index, TimePoint now, bool leftover) {
  Conn& conn = conns_[index];
  flow_->completed(index, now, conn.parser.status_code());
  if (leftover) {
    ++result_.parse_errors;
    // The response itself was counted live above; the extra bytes are the connection's fault.
    result_.series.record(kSeriesErrors, now, 1);
    note_error("more bytes than the response framing announced (wrong Content-Length?)");
    close_conn(index);
    reconnect_or_free(index, now);
    return;
  }
  if (!keep_alive_mode() || !conn.parser.keep_alive()) {
    close_conn(index);
    reconnect_or_free(index, now);
    return;
  }
  conn.state = State::idle;
  became_idle(index, now);
}

// After a connection closed: keep-alive mode reopens it at once (it is part of the pool); connection per
// request frees the slot.
void HttpWorker::reconnect_or_free(std::size_t index, TimePoint now) {
  if (keep_alive_mode()) {
    if (running_ && !flow_->sending_over()) {
      start_connect(index, now);
    }
    return;
  }
  after_slot_freed(index, now);
}

// Connection per request: the slot has nothing in flight; it takes the next request unless in back-off (the
// tick frees it then).
void HttpWorker::after_slot_freed(std::size_t index, TimePoint now) {
  if (!running_ || flow_->sending_over() || keep_alive_mode() || conns_[index].state == State::backoff) {
    return;
  }
  flow_->ready(index);
  dispatch(now);
}

void HttpWorker::became_idle(std::size_t index, TimePoint now) {
  if (!running_ || flow_->sending_over()) {
    return;
  }
  flow_->ready(index);
  dispatch(now);
}

void HttpWorker::dispatch(TimePoint now) {
  next_intended_ = flow_->dispatch(now, [&](std::size_t index) { start_request(index, now); });
}

void HttpWorker::wait_and_handle(std::vector<epoll_event>& events, Duration wait) {
  if (on_uring()) {
    uring_wait_and_handle(wait);
    return;
  }
  timespec timeout{};
  Duration bounded = std::max(wait, Duration::zero());
  timeout.tv_sec = static_cast<time_t>(bounded.count() / 1'000'000'000);
  timeout.tv_nsec = static_cast<long>(bounded.count() % 1'000'000'000);
  int n = epoll_pwait2(epoll_, events.data(), kMaxEvents, &timeout, nullptr);
  for (int i = 0; i < n; ++i) {
    std::uint64_t data = events[static_cast<std::size_t>(i)].data.u64;
    auto index = static_cast<std::size_t>(data & 0xffffffffu);
    auto generation = static_cast<std::uint32_t>(data >> 32);
    if (index >= conns_.size() || conns_[index].generation != generation) {
      continue;  // an event for a connection closed earlier in this batch
    }
    handle(index, events[static_cast<std::size_t>(i)].events);
  }
}

void HttpWorker::handle(std::size_t index, std::uint32_t events) {
  Conn& conn = conns_[index];
  switch (conn.state) {
    case State::connecting:
      finish_connect(index, clock_now());
      break;
    case State::handshaking:
      continue_handshake(index, clock_now());
      break;
    case State::sending:
      if (conn.ssl != nullptr || (events & EPOLLOUT) != 0) {
        continue_send(index, clock_now());
      } else if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
        fail_conn(index, clock_now(), result_.write_errors, "connection reset while writing the request");
      }
      break;
    case State::awaiting:
    case State::idle:
      read_ready(index);
      break;
    case State::closed:
    case State::backoff:
      break;
  }
}

void HttpWorker::tick(TimePoint now) {
  for (std::size_t index = 0; index < conns_.size(); ++index) {
    Conn& conn = conns_[index];
    if (conn.state == State::backoff && now >= conn.deadline && running_ && !flow_->sending_over()) {
      conn.state = State::closed;
      if (keep_alive_mode()) {
        start_connect(index, now);
      } else {
        flow_->ready(index);
      }
    } else if ((conn.state == State::connecting || conn.state == State::handshaking) &&
               now >= conn.deadline) {
      std::string what = conn.state == State::connecting ? "connect" : "TLS handshake";
      fail_conn(index, now, result_.timeouts,
                fmt::format("{} timed out after {}", what, format_duration(spec_.timeout)));
    }
  }
  for (std::size_t index : flow_->expired(now)) {
    fail_conn(index, now, result_.timeouts,
              fmt::format("response timed out after {}", format_duration(spec_.timeout)));
  }
  dispatch(now);
  publish();
}

void HttpWorker::publish() {
  published_.responses.store(result_.responses, std::memory_order_relaxed);
  published_.failures.store(result_.failures(), std::memory_order_relaxed);
}

LoadResult HttpWorker::abandon() {
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    close_conn(i);
  }
  result_.io_backend = on_uring() ? "uring" : "epoll";
  result_.io_note = io_note_;
  return std::move(result_);
}

LoadResult HttpWorker::run(TimePoint start) {
  if (epoll_ < 0 && !on_uring()) {
    return std::move(result_);
  }
  result_.series = Recorder(start);
  const TimePoint end = spec_.duration > Duration::zero() ? start + spec_.duration : TimePoint::max();
  // Workers interleave: worker i's k-th request is intended at start + (k * workers + i) / total rate.
  Duration offset{0};
  if (share_.rate) {
    // A tiny rate puts a later worker's first send further off than a Duration holds (the cast would be
    // undefined, and start + offset overflow); a year is beyond any run's window.
    const double ns = 1e9 * share_.index / (share_.rate->per_second * static_cast<double>(share_.workers));
    offset = Duration(static_cast<std::int64_t>(!(ns > 0) ? 0.0 : std::min(ns, kLongestFirstOffsetNs)));
  }
  flow_.emplace(FlowOptions{.slots = conns_.size(),
                            .rate = share_.rate,
                            .arrival = spec_.arrival,
                            .start = start,
                            .first_intended = start + offset,
                            .end = end,
                            .budget = share_.requests,
                            .timeout = spec_.timeout,
                            .late_tolerance = spec_.late_tolerance,
                            .seed = spec_.seed + static_cast<std::uint64_t>(share_.index),
                            .max_pending = kMaxPending},
                result_, &live_);
  running_ = true;
  head_request_ = spec_.request.method == "HEAD";
  TimePoint now = clock_now();
  // Give every connection its first piece of work.
  for (std::size_t index = 0; index < conns_.size(); ++index) {
    Conn& conn = conns_[index];
    if (!keep_alive_mode() || conn.state == State::idle) {
      flow_->ready(index);
    } else if (conn.state == State::closed) {
      start_connect(index, now);
    }
  }
  std::vector<epoll_event> events(kMaxEvents);
  TimePoint next_tick = now + kWorkerTick;
  TimePoint drain_deadline = TimePoint::max();
  while (true) {
    now = clock_now();
    if (!flow_->sending_over()) {
      bool cancelled = cancel_.requested() || ring_failed_ || (stop_ && stop_());
      if (cancelled || now >= end || flow_->done_sending()) {
        flow_->stop_sending(now);
        drain_deadline = now + (cancelled ? std::min(kCancelDrain, spec_.timeout) : spec_.timeout);
      } else {
        dispatch(now);
      }
    }
    if (flow_->sending_over()) {
      if (flow_->inflight() == 0) {
        break;
      }
      if (now >= drain_deadline) {
        result_.timeouts += flow_->inflight();
        note_error(fmt::format("{} responses still outstanding at the end of the run", flow_->inflight()));
        break;
      }
    }
    if (now >= next_tick) {
      tick(now);
      next_tick = now + kWorkerTick;
    }
    TimePoint wake =
        std::min(next_tick, flow_->sending_over() ? drain_deadline : std::min(end, next_intended_));
    wait_and_handle(events, wake - now);
  }
  running_ = false;
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    close_conn(i);
  }
  flow_->finish();
  publish();
  result_.io_backend = on_uring() ? "uring" : "epoll";
  result_.io_note = io_note_;
  return std::move(result_);
}

}  // namespace kp::drivers::ingress
