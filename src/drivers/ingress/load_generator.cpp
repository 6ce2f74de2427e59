#include "drivers/ingress/load.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <latch>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "drivers/ingress/open_loop.hpp"
#include "drivers/ingress/response_parser.hpp"

namespace kp::drivers::ingress {
namespace {

// Timeouts, reconnect back-off and progress are checked this often; a timeout fires at most this late.
constexpr Duration kTick = std::chrono::milliseconds(10);
// After a failed connect, wait this long before the next attempt, so a down server is not hammered in a loop.
constexpr Duration kReconnectBackoff = std::chrono::milliseconds(10);
// After cancellation, responses in flight get this long at most.
constexpr Duration kCancelDrain = std::chrono::milliseconds(200);
constexpr std::size_t kReadBufferSize = 64 * 1024;
constexpr int kMaxEvents = 256;
// Open loop: intended times waiting for a connection, at most (about 100 s at 10k/s); the rest are counted as
// timeouts without being sent.
constexpr std::size_t kMaxPending = std::size_t{1} << 20;
constexpr std::size_t kMaxErrorSamples = 5;

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

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

// What every worker reads; written before the threads start, except the start time and the abort flag.
struct Shared {
  const LoadSpec& spec;
  Address address;
  std::vector<std::string> requests;  // one per path
  std::shared_ptr<TlsContext> tls;
  std::string tls_name;
  Clock& clock;
  engine::CancellationToken& cancel;
  std::latch connected;  // each worker counts down once its first connections are up or failed
  std::latch go;         // released by the caller once `start` is set
  TimePoint start{};
  std::atomic<bool> abort{false};
};

// Per-thread progress, published every tick with relaxed stores (never on the per-request path).
struct alignas(64) Published {
  std::atomic<std::uint64_t> responses{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> connected{0};
  std::atomic<bool> finished{false};
};

class Worker {
 public:
  Worker(Shared& shared, int index, int connections, std::optional<std::uint64_t> requests,
         std::optional<Rate> rate, Published& published)
      : shared_(shared),
        spec_(shared.spec),
        index_(index),
        budget_(requests),
        rate_(rate),
        published_(published),
        conns_(static_cast<std::size_t>(connections)),
        buffer_(new char[kReadBufferSize]),
        live_(spec_.live, Phase::ingress, spec_.live_series) {}

  ~Worker() {
    for (Conn& conn : conns_) {
      close_conn(conn);
    }
    if (epoll_ >= 0) {
      ::close(epoll_);
    }
  }

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  LoadResult run() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) {
      note_error(fmt::format("epoll_create1: {}", std::strerror(errno)));
      shared_.connected.count_down();
      shared_.go.wait();
      return std::move(result_);
    }
    connect_first();
    published_.connected.store(result_.connections_opened, std::memory_order_relaxed);
    if (!keep_alive_mode()) {
      result_.connections_opened = 0;
    }
    shared_.connected.count_down();
    shared_.go.wait();
    if (shared_.abort.load(std::memory_order_acquire)) {
      return std::move(result_);
    }
    start_ = shared_.start;
    result_.series = Recorder(start_);
    main_loop();
    for (Conn& conn : conns_) {
      close_conn(conn);
    }
    result_.open_loop = rate_.has_value();
    result_.intended_rate = rate_ ? rate_->per_second : 0;
    published_.responses.store(result_.responses, std::memory_order_relaxed);
    published_.failures.store(result_.failures(), std::memory_order_relaxed);
    return std::move(result_);
  }

 private:
  enum class State : std::uint8_t { closed, backoff, connecting, handshaking, idle, sending, awaiting };

  struct Conn {
    int fd = -1;
    SSL* ssl = nullptr;
    std::uint32_t generation = 0;
    State state = State::closed;
    std::uint32_t interest = 0;
    bool has_request = false;
    bool in_idle_list = false;
    const std::string* request = nullptr;
    std::size_t written = 0;
    TimePoint intended{};
    TimePoint sent{};
    TimePoint connect_started{};
    TimePoint handshake_started{};
    TimePoint deadline{};
    ResponseParser parser;
  };

  bool keep_alive_mode() const { return !spec_.connection_per_request; }
  bool open_loop() const { return rate_.has_value(); }

  // A failed request or connection attempt (the report's failure counts): the per-second series and the live
  // error count.
  void count_error(TimePoint now) {
    result_.series.record(kSeriesErrors, now, 1);
    live_.record_error(now);
  }

  void note_error(std::string text) {
    if (result_.error_samples.size() < kMaxErrorSamples &&
        std::find(result_.error_samples.begin(), result_.error_samples.end(), text) ==
            result_.error_samples.end()) {
      result_.error_samples.push_back(std::move(text));
    }
  }

  std::uint64_t token(std::size_t index) const {
    return (std::uint64_t{conns_[index].generation} << 32) | index;
  }

  void set_interest(Conn& conn, std::size_t index, std::uint32_t events) {
    if (conn.interest == events) {
      return;
    }
    epoll_event event{};
    event.events = events;
    event.data.u64 = token(index);
    epoll_ctl(epoll_, EPOLL_CTL_MOD, conn.fd, &event);
    conn.interest = events;
  }

  void close_conn(Conn& conn) {
    if (conn.ssl != nullptr) {
      SSL_free(conn.ssl);
      conn.ssl = nullptr;
    }
    if (conn.fd >= 0) {
      ::close(conn.fd);  // also removes it from the epoll set
      conn.fd = -1;
    }
    ++conn.generation;
    conn.state = State::closed;
    conn.interest = 0;
    conn.in_idle_list = false;
    if (conn.has_request) {
      conn.has_request = false;
      --inflight_;
    }
  }

  // Starts a non-blocking connect. Returns false (after counting the error) when it failed at once.
  bool start_connect(std::size_t index, TimePoint now) {
    Conn& conn = conns_[index];
    conn.fd = ::socket(shared_.address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (conn.fd < 0) {
      connect_failed(index, now, fmt::format("socket: {}", std::strerror(errno)));
      return false;
    }
    int one = 1;
    setsockopt(conn.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn.connect_started = now;
    conn.deadline = now + spec_.timeout;
    int rc = ::connect(conn.fd, reinterpret_cast<const sockaddr*>(&shared_.address.storage),
                       shared_.address.length);
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

  void connect_failed(std::size_t index, TimePoint now, std::string why) {
    Conn& conn = conns_[index];
    ++result_.connect_errors;
    count_error(now);
    note_error(std::move(why));
    close_conn(conn);
    conn.state = State::backoff;
    conn.deadline = now + kReconnectBackoff;
  }

  void fail_conn(std::size_t index, TimePoint now, std::uint64_t& counter, std::string why) {
    ++counter;
    count_error(now);
    note_error(std::move(why));
    Conn& conn = conns_[index];
    close_conn(conn);
    conn.state = State::backoff;
    conn.deadline = now + kReconnectBackoff;
    after_slot_freed(index, now);
  }

  void finish_connect(std::size_t index, TimePoint now) {
    Conn& conn = conns_[index];
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(conn.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      bool had_request = conn.has_request;
      connect_failed(index, now, fmt::format("connect: {}", std::strerror(error)));
      if (had_request) {
        after_slot_freed(index, now);
      }
      return;
    }
    result_.connect_time.record(now - conn.connect_started);
    if (shared_.tls) {
      conn.ssl = shared_.tls->new_session(conn.fd, shared_.tls_name);
      if (conn.ssl == nullptr) {
        fail_conn(index, now, result_.tls_errors, "TLS: cannot allocate a session");
        return;
      }
      conn.state = State::handshaking;
      conn.handshake_started = now;
      continue_handshake(index, now);
      return;
    }
    connected(index, now);
  }

  void continue_handshake(std::size_t index, TimePoint now) {
    Conn& conn = conns_[index];
    ERR_clear_error();
    int rc = SSL_do_handshake(conn.ssl);
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

  void connected(std::size_t index, TimePoint now) {
    Conn& conn = conns_[index];
    ++result_.connections_opened;
    result_.series.record(kSeriesConnect, now, (now - conn.connect_started).count());
    conn.state = State::idle;
    set_interest(conn, index, EPOLLIN);
    if (conn.has_request) {
      begin_send(index, now);  // connection per request: its request was assigned at connect
      return;
    }
    if (running_) {
      became_idle(index, now);
    }
  }

  const std::string& next_request() {
    const std::string& request = shared_.requests[next_path_];
    if (++next_path_ == shared_.requests.size()) {
      next_path_ = 0;
    }
    return request;
  }

  // Assigns a request to `conn` (idle, or being connected in connection-per-request mode).
  void assign(std::size_t index, TimePoint intended, TimePoint now) {
    Conn& conn = conns_[index];
    conn.has_request = true;
    ++inflight_;
    conn.intended = intended;
    conn.request = &next_request();
    conn.written = 0;
    conn.parser.reset(head_request_);
    if (open_loop()) {
      queue_->pacer().record_send(intended, now);
    }
    if (budget_) {
      --*budget_;
    }
  }

  void begin_send(std::size_t index, TimePoint now) {
    Conn& conn = conns_[index];
    conn.sent = now;
    conn.deadline = now + spec_.timeout;
    conn.state = State::sending;
    continue_send(index, now);
  }

  void continue_send(std::size_t index, TimePoint now) {
    Conn& conn = conns_[index];
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
    ++result_.requests_sent;
    if (now < window_end_) {
      ++result_.sent_in_window;
    }
    conn.state = State::awaiting;
    set_interest(conn, index, EPOLLIN);
  }

  void read_ready(std::size_t index) {
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

  TimePoint clock_now() const { return shared_.clock.now(); }

  void consume(std::size_t index, std::string_view data) {
    Conn& conn = conns_[index];
    if (!conn.has_request || conn.state != State::awaiting) {
      // Bytes nobody asked for: the framing of this connection cannot be trusted any more.
      TimePoint now = clock_now();
      ++result_.parse_errors;
      count_error(now);
      note_error(std::string(describe(ParseError::unexpected_data)));
      close_conn(conn);
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

  void parse_failed(std::size_t index, TimePoint now, ParseError error) {
    Conn& conn = conns_[index];
    ++result_.parse_errors;
    count_error(now);
    note_error(std::string(describe(error)));
    close_conn(conn);
    reconnect_or_free(index, now);
  }

  void read_failed(std::size_t index, TimePoint now, std::string why) {
    Conn& conn = conns_[index];
    if (!conn.has_request) {
      // An idle connection reset by the server: reopen it, nobody lost a request.
      ++result_.server_closes;
      close_conn(conn);
      reconnect_or_free(index, now);
      return;
    }
    ++result_.read_errors;
    count_error(now);
    note_error(std::move(why));
    close_conn(conn);
    reconnect_or_free(index, now);
  }

  void peer_closed(std::size_t index, TimePoint now) {
    Conn& conn = conns_[index];
    if (!conn.has_request || conn.state != State::awaiting) {
      if (conn.has_request) {
        read_failed(index, now, "connection closed by the server before the request was sent");
        return;
      }
      ++result_.server_closes;
      close_conn(conn);
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

  void completed(std::size_t index, TimePoint now, bool leftover) {
    Conn& conn = conns_[index];
    int code = conn.parser.status_code();
    ++result_.responses;
    ++result_.status_classes[static_cast<std::size_t>(code / 100)];
    Duration service = now - conn.sent;
    Duration latency = open_loop() ? now - conn.intended : service;
    result_.latency.record(latency);
    result_.uncorrected.record(service);
    result_.series.record(kSeriesLatency, now, latency.count());
    if (code >= 500) {
      result_.series.record(kSeries5xx, now, latency.count());
      live_.record_error(now);
    } else {
      live_.record(now, latency);
    }
    last_completion_ = now;
    conn.has_request = false;
    --inflight_;
    if (leftover) {
      ++result_.parse_errors;
      // The response itself was counted live above; the extra bytes are the connection's fault.
      result_.series.record(kSeriesErrors, now, 1);
      note_error("more bytes than the response framing announced (wrong Content-Length?)");
      close_conn(conn);
      reconnect_or_free(index, now);
      return;
    }
    if (!keep_alive_mode() || !conn.parser.keep_alive()) {
      close_conn(conn);
      reconnect_or_free(index, now);
      return;
    }
    conn.state = State::idle;
    became_idle(index, now);
  }

  // After a connection closed: keep-alive mode reopens it at once (it is part of the pool); connection per
  // request frees the slot.
  void reconnect_or_free(std::size_t index, TimePoint now) {
    if (keep_alive_mode()) {
      if (running_ && !sending_over_) {
        start_connect(index, now);
      }
      return;
    }
    after_slot_freed(index, now);
  }

  // A slot (connection-per-request mode) or a pooled connection has nothing to do: give it work.
  void after_slot_freed(std::size_t index, TimePoint now) {
    if (!running_ || sending_over_ || keep_alive_mode()) {
      return;
    }
    Conn& conn = conns_[index];
    if (conn.state == State::backoff) {
      return;  // the tick restarts it after the back-off
    }
    if (open_loop()) {
      free_slots_.push_back(static_cast<std::uint32_t>(index));
      dispatch_pending(now);
    } else if (!budget_ || *budget_ > 0) {
      open_with_request(index, now, now);
    }
  }

  void open_with_request(std::size_t index, TimePoint intended, TimePoint now) {
    assign(index, intended, now);
    if (!start_connect(index, now)) {
      // connect_failed counted it and closed the slot (dropping the request); it retries after the back-off.
      return;
    }
  }

  void became_idle(std::size_t index, TimePoint now) {
    if (!running_ || sending_over_) {
      return;
    }
    if (open_loop()) {
      Conn& conn = conns_[index];
      if (!conn.in_idle_list) {
        conn.in_idle_list = true;
        idle_.push_back(static_cast<std::uint32_t>(index));
      }
      dispatch_pending(now);
      return;
    }
    if (!budget_ || *budget_ > 0) {
      assign(index, now, now);
      begin_send(index, now);
    }
  }

  // Open loop: hands queued intended times to free connections.
  void dispatch_pending(TimePoint now) {
    while (!queue_->empty()) {
      std::size_t index = 0;
      if (keep_alive_mode()) {
        bool found = false;
        while (!idle_.empty()) {
          index = idle_.back();
          idle_.pop_back();
          Conn& conn = conns_[index];
          conn.in_idle_list = false;
          if (conn.state == State::idle && !conn.has_request) {
            found = true;
            break;
          }
        }
        if (!found) {
          break;
        }
      } else {
        if (free_slots_.empty()) {
          break;
        }
        index = free_slots_.back();
        free_slots_.pop_back();
      }
      TimePoint intended = queue_->pop();
      if (now - intended > spec_.timeout) {
        // Waited in the queue longer than a request may take: it has timed out without being sent.
        ++result_.timeouts;
        count_error(now);
        note_error(
            fmt::format("request waited more than {} for a free connection", format_duration(spec_.timeout)));
        queue_->pacer().record_send(intended, now);
        if (keep_alive_mode()) {
          conns_[index].in_idle_list = true;
          idle_.push_back(static_cast<std::uint32_t>(index));
        } else {
          free_slots_.push_back(static_cast<std::uint32_t>(index));
        }
        continue;
      }
      if (keep_alive_mode()) {
        assign(index, intended, now);
        begin_send(index, now);
      } else {
        open_with_request(index, intended, now);
      }
    }
    // Count the intended times that found no free connection, each once: those issued since the last count
    // that are still waiting.
    if (!queue_->empty()) {
      result_.queued += std::min<std::uint64_t>(queue_->issued() - queued_counted_, queue_->size());
    }
    queued_counted_ = queue_->issued();
  }

  // Opens this worker's connections before the clock starts (keep-alive mode), or one probe connection
  // (connection per request), so an unreachable target or a refused certificate is found before the run.
  void connect_first() {
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
      if (pending == 0 || now >= deadline || shared_.cancel.requested()) {
        break;
      }
      wait_and_handle(events, std::min(deadline, now + kTick) - now);
    }
    if (!keep_alive_mode()) {
      // The probe only proves the target answers; the run's counts start clean.
      bool ok = result_.connections_opened > 0;
      close_conn(conns_[0]);
      if (ok) {
        std::vector<std::string> samples = std::move(result_.error_samples);
        result_ = LoadResult{};
        result_.connections_opened = 1;  // published as "reachable", reset again below
        result_.error_samples = std::move(samples);
      }
      return;
    }
    for (std::size_t i = 0; i < count; ++i) {
      State state = conns_[i].state;
      if (state == State::connecting || state == State::handshaking) {
        bool handshake = state == State::handshaking;
        close_conn(conns_[i]);
        ++result_.timeouts;
        note_error(fmt::format("{} timed out after {}", handshake ? "TLS handshake" : "connect",
                               format_duration(spec_.timeout)));
        conns_[i].state = State::backoff;
        conns_[i].deadline = now;
      }
    }
  }

  void wait_and_handle(std::vector<epoll_event>& events, Duration wait) {
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

  void handle(std::size_t index, std::uint32_t events) {
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

  void tick(TimePoint now) {
    for (std::size_t index = 0; index < conns_.size(); ++index) {
      Conn& conn = conns_[index];
      switch (conn.state) {
        case State::backoff:
          if (now >= conn.deadline && running_ && !sending_over_) {
            conn.state = State::closed;
            if (keep_alive_mode()) {
              start_connect(index, now);
            } else if (open_loop()) {
              free_slots_.push_back(static_cast<std::uint32_t>(index));
            } else if (!budget_ || *budget_ > 0) {
              open_with_request(index, now, now);
            }
          }
          break;
        case State::connecting:
        case State::handshaking:
        case State::sending:
        case State::awaiting:
          if (now >= conn.deadline) {
            bool request = conn.has_request;
            std::string what = conn.state == State::connecting    ? "connect"
                               : conn.state == State::handshaking ? "TLS handshake"
                                                                  : "response";
            if (request || conn.state == State::connecting || conn.state == State::handshaking) {
              fail_conn(index, now, result_.timeouts,
                        fmt::format("{} timed out after {}", what, format_duration(spec_.timeout)));
            }
          }
          break;
        case State::closed:
        case State::idle:
          break;
      }
    }
    if (open_loop() && !keep_alive_mode()) {
      dispatch_pending(now);
    }
    published_.responses.store(result_.responses, std::memory_order_relaxed);
    published_.failures.store(result_.failures(), std::memory_order_relaxed);
  }

  void main_loop() {
    TimePoint end = spec_.duration > Duration::zero() ? start_ + spec_.duration : TimePoint::max();
    window_end_ = end;
    running_ = true;
    head_request_ = spec_.request.method == "HEAD";
    if (open_loop()) {
      double per_thread = rate_->per_second;
      // Threads interleave: thread i's k-th request is intended at start + (k * threads + i) / rate.
      auto offset = Duration(static_cast<std::int64_t>(1e9 * index_ / (per_thread * threads_())));
      Pacer pacer(*rate_, spec_.arrival, start_ + offset, spec_.seed + static_cast<std::uint64_t>(index_),
                  spec_.late_tolerance);
      queue_.emplace(std::move(pacer), end, budget_, kMaxPending);
      budget_.reset();  // the queue bounds the count in open loop
      if (!keep_alive_mode()) {
        for (std::size_t i = 0; i < conns_.size(); ++i) {
          free_slots_.push_back(static_cast<std::uint32_t>(conns_.size() - 1 - i));
        }
      }
    }
    TimePoint now = clock_now();
    // Give every connection its first piece of work.
    for (std::size_t index = 0; index < conns_.size(); ++index) {
      Conn& conn = conns_[index];
      if (keep_alive_mode()) {
        if (conn.state == State::idle) {
          became_idle(index, now);
        } else if (conn.state == State::closed) {
          start_connect(index, now);
        }
      } else if (!open_loop() && (!budget_ || *budget_ > 0)) {
        open_with_request(index, now, now);
      }
    }
    std::vector<epoll_event> events(kMaxEvents);
    TimePoint next_tick = now + kTick;
    TimePoint drain_deadline = TimePoint::max();
    TimePoint next_intended = TimePoint::max();
    while (true) {
      now = clock_now();
      if (!sending_over_) {
        bool cancelled = shared_.cancel.requested();
        bool done_sending = open_loop() ? queue_->exhausted() && queue_->empty() : budget_ && *budget_ == 0;
        if (cancelled || now >= end || done_sending) {
          sending_over_ = true;
          window_end_ = std::min(now, end);
          drain_deadline = now + (cancelled ? std::min(kCancelDrain, spec_.timeout) : spec_.timeout);
          if (open_loop()) {
            queue_->advance(std::min(now, end));
            queue_->stop();
            result_.unsent += queue_->size() + queue_->overflow();
            while (!queue_->empty()) {
              queue_->pop();
            }
          }
        }
      }
      if (open_loop() && !sending_over_) {
        next_intended = queue_->advance(now);
        dispatch_pending(now);
      }
      if (sending_over_) {
        if (inflight_ == 0) {
          break;
        }
        if (now >= drain_deadline) {
          result_.timeouts += inflight_;
          note_error(fmt::format("{} responses still outstanding at the end of the run", inflight_));
          break;
        }
      }
      if (now >= next_tick) {
        tick(now);
        next_tick = now + kTick;
      }
      TimePoint wake = std::min(next_tick, sending_over_ ? drain_deadline : std::min(end, next_intended));
      wait_and_handle(events, wake - now);
    }
    running_ = false;
    if (open_loop()) {
      result_.pacer.merge(queue_->pacer().stats());
      result_.issued = queue_->issued();
    } else {
      result_.issued = result_.requests_sent;
    }
    TimePoint last = std::max(window_end_, last_completion_);
    result_.window = window_end_ - start_;
    result_.elapsed = last - start_;
  }

  int threads_() const { return shared_.spec.threads; }

  Shared& shared_;
  const LoadSpec& spec_;
  int index_;
  std::optional<std::uint64_t> budget_;  // closed loop: requests this worker may still send
  std::optional<Rate> rate_;             // this worker's share
  Published& published_;
  std::vector<Conn> conns_;
  std::unique_ptr<char[]> buffer_;
  LiveSeries live_;
  int epoll_ = -1;
  LoadResult result_;
  TimePoint start_{};
  TimePoint window_end_ = TimePoint::max();
  TimePoint last_completion_{};
  std::optional<OpenLoopQueue> queue_;
  std::vector<std::uint32_t> idle_;
  std::vector<std::uint32_t> free_slots_;
  std::uint64_t queued_counted_ = 0;
  std::size_t next_path_ = 0;
  std::uint64_t inflight_ = 0;
  bool running_ = false;
  bool sending_over_ = false;
  bool head_request_ = false;
};

}  // namespace

std::string build_request(const RequestSpec& request, const Url& url, std::string_view path, bool close) {
  std::string host = request.host.empty() ? url.authority : request.host;
  std::string text = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\n", request.method, path, host);
  bool has_length = false;
  for (const auto& [name, value] : request.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower == "host") {
      continue;  // the Host line above already carries it (--host or this header, see http_command)
    }
    if (lower == "content-length") {
      has_length = true;
    }
    if (close && lower == "connection") {
      continue;
    }
    text += fmt::format("{}: {}\r\n", name, value);
  }
  if (!has_length && (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
                      request.method == "PATCH")) {
    text += fmt::format("Content-Length: {}\r\n", request.body.size());
  }
  if (close) {
    text += "Connection: close\r\n";
  }
  text += "\r\n";
  text += request.body;
  return text;
}

void LoadResult::merge(const LoadResult& other) {
  open_loop = open_loop || other.open_loop;
  intended_rate += other.intended_rate;
  window = std::max(window, other.window);
  elapsed = std::max(elapsed, other.elapsed);
  requests_sent += other.requests_sent;
  responses += other.responses;
  sent_in_window += other.sent_in_window;
  issued += other.issued;
  for (std::size_t i = 0; i < status_classes.size(); ++i) {
    status_classes[i] += other.status_classes[i];
  }
  connect_errors += other.connect_errors;
  tls_errors += other.tls_errors;
  read_errors += other.read_errors;
  write_errors += other.write_errors;
  parse_errors += other.parse_errors;
  timeouts += other.timeouts;
  unsent += other.unsent;
  queued += other.queued;
  connections_opened += other.connections_opened;
  server_closes += other.server_closes;
  bytes_read += other.bytes_read;
  latency.merge(other.latency);
  uncorrected.merge(other.uncorrected);
  connect_time.merge(other.connect_time);
  handshake_time.merge(other.handshake_time);
  pacer.merge(other.pacer);
  series.merge(other.series);
  for (const std::string& sample : other.error_samples) {
    if (error_samples.size() < kMaxErrorSamples &&
        std::find(error_samples.begin(), error_samples.end(), sample) == error_samples.end()) {
      error_samples.push_back(sample);
    }
  }
}

namespace {
double per_second(std::uint64_t count, Duration over) {
  return over > Duration::zero() ? static_cast<double>(count) * 1e9 / static_cast<double>(over.count()) : 0.0;
}
}  // namespace

double LoadResult::rps() const {
  return per_second(responses, elapsed);
}
double LoadResult::achieved_send_rate() const {
  return per_second(sent_in_window, window);
}
double LoadResult::connection_rate() const {
  return per_second(connections_opened, elapsed);
}

Result<LoadResult> run_load(const LoadSpec& input, Clock& clock, engine::CancellationToken& cancel,
                            const ProgressFn& progress) {
  LoadSpec spec = input;
  if (spec.connections < 1 || spec.threads < 1) {
    return fail(ErrorKind::usage, fmt::format("connections and threads must be >= 1, got {} and {}",
                                              spec.connections, spec.threads));
  }
  if (spec.rate && !(spec.rate->per_second > 0)) {
    return fail(ErrorKind::usage, fmt::format("rate must be > 0, got {}", spec.rate->per_second));
  }
  if (spec.duration <= Duration::zero() && !spec.requests) {
    return fail(ErrorKind::usage, "a run needs a duration or a request count");
  }
  spec.threads = std::min(spec.threads, spec.connections);
  if (spec.requests && *spec.requests < static_cast<std::uint64_t>(spec.threads)) {
    spec.threads = static_cast<int>(std::max<std::uint64_t>(1, *spec.requests));
  }
  // Every connection is a descriptor: raise the soft limit towards the hard one when the default (often 1024)
  // is too small, instead of failing connects with EMFILE.
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    rlim_t needed = static_cast<rlim_t>(spec.connections) + 64;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
      limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
      setrlimit(RLIMIT_NOFILE, &limit);
    }
  }
  Result<Address> address = resolve(spec.url);
  if (!address) {
    return std::unexpected(address.error());
  }
  std::shared_ptr<TlsContext> tls;
  if (spec.url.tls) {
    Result<std::shared_ptr<TlsContext>> created = TlsContext::create(spec.tls);
    if (!created) {
      return std::unexpected(created.error());
    }
    tls = std::move(*created);
  }
  std::vector<std::string> requests;
  if (spec.request.paths.empty()) {
    requests.push_back(build_request(spec.request, spec.url, spec.url.target, spec.connection_per_request));
  } else {
    for (const std::string& path : spec.request.paths) {
      requests.push_back(build_request(spec.request, spec.url, path, spec.connection_per_request));
    }
  }
  auto threads = static_cast<std::size_t>(spec.threads);
  Shared shared{.spec = spec,
                .address = *address,
                .requests = std::move(requests),
                .tls = tls,
                .tls_name = spec.tls.server_name.empty() ? spec.url.host : spec.tls.server_name,
                .clock = clock,
                .cancel = cancel,
                .connected = std::latch(static_cast<std::ptrdiff_t>(threads)),
                .go = std::latch(1),
                .start = {},
                .abort = {}};
  std::vector<Published> published(threads);
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t i = 0; i < threads; ++i) {
    auto share = [&](std::uint64_t total) { return total / threads + (i < total % threads ? 1 : 0); };
    int connections = static_cast<int>(share(static_cast<std::uint64_t>(spec.connections)));
    std::optional<std::uint64_t> count;
    if (spec.requests) {
      count = share(*spec.requests);
    }
    std::optional<Rate> rate;
    if (spec.rate) {
      rate = Rate{spec.rate->per_second / static_cast<double>(threads)};
    }
    workers.push_back(
        std::make_unique<Worker>(shared, static_cast<int>(i), connections, count, rate, published[i]));
  }
  std::vector<LoadResult> results(threads);
  std::vector<std::jthread> running;
  for (std::size_t i = 0; i < threads; ++i) {
    running.emplace_back([&, i] {
      // OpenSSL writes with write(), not send(MSG_NOSIGNAL): a peer that closed would raise SIGPIPE and end
      // the process. Blocked in this thread only, the write fails with EPIPE instead, which is counted.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      results[i] = workers[i]->run();
      published[i].finished.store(true, std::memory_order_release);
    });
  }
  shared.connected.wait();
  std::uint64_t connected = 0;
  for (const Published& each : published) {
    connected += each.connected.load(std::memory_order_relaxed);
  }
  bool unreachable = connected == 0 && !cancel.requested();
  // A small head start so every worker is back from the latch before its first intended time.
  shared.start = clock.now() + std::chrono::milliseconds(1);
  shared.abort.store(unreachable || cancel.requested(), std::memory_order_release);
  shared.go.count_down();

  TimePoint next_report = shared.start + std::chrono::seconds(1);
  while (!unreachable) {
    bool all_done = std::all_of(published.begin(), published.end(), [](const Published& each) {
      return each.finished.load(std::memory_order_acquire);
    });
    if (all_done) {
      break;
    }
    TimePoint now = clock.now();
    if (now >= next_report) {
      if (progress) {
        std::uint64_t responses = 0;
        std::uint64_t failures = 0;
        for (const Published& each : published) {
          responses += each.responses.load(std::memory_order_relaxed);
          failures += each.failures.load(std::memory_order_relaxed);
        }
        progress(std::chrono::duration<double>(now - shared.start).count(), responses, failures);
      }
      next_report += std::chrono::seconds(1);
    }
    if (cancel.requested()) {
      break;  // the workers see it too and stop within a tick
    }
    cancel.wait_until(clock, std::min(next_report, now + std::chrono::milliseconds(50)));
  }
  running.clear();  // joins

  LoadResult merged(shared.start);
  for (const LoadResult& each : results) {
    merged.merge(each);
  }
  merged.intended_rate = spec.rate ? spec.rate->per_second : 0;
  merged.open_loop = spec.rate.has_value();
  if (unreachable) {
    std::string why = merged.error_samples.empty() ? "no connection succeeded" : merged.error_samples.front();
    return fail(ErrorKind::network, fmt::format("cannot connect to {}: {}", spec.url.to_string(), why));
  }
  return merged;
}

}  // namespace kp::drivers::ingress
