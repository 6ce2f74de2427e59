#pragma once

// One load worker's connection I/O: an event loop owning its connections (TCP, optional TLS), their parsers
// and a read buffer, on epoll (readiness: http_worker.cpp) or io_uring (completions: http_worker_uring.cpp,
// and http_worker_uring_tls.cpp for TLS in memory; io_backend.hpp says how the backend is chosen). What to
// send when, the requests in flight and the results live in RequestFlow (request_flow.hpp); this class only
// moves bytes and reports events to it with the clock's time.
//
// Lifecycle, on the worker's own thread: connect_first() before the common start (keep-alive connections, or
// one probe connection per request mode), then run(start) until the window ends and the responses in flight
// are in (or timed out), or abandon() when the run does not start. Destroying it closes every connection.

#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/live.hpp"
#include "drivers/ingress/io_backend.hpp"
#include "drivers/ingress/load.hpp"
#include "drivers/ingress/request_flow.hpp"
#include "drivers/ingress/response_parser.hpp"
#include "drivers/ingress/tls.hpp"
#include "drivers/ingress/uring_loop.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::ingress {

// Timeouts, reconnect back-off and progress are checked this often; a timeout fires at most this late.
inline constexpr Duration kWorkerTick = std::chrono::milliseconds(10);
// After a failed connect, wait this long before the next attempt, so a down server is not hammered in a loop.
inline constexpr Duration kReconnectBackoff = std::chrono::milliseconds(10);
// epoll events taken per wait.
inline constexpr int kMaxEvents = 256;

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

// Resolves the URL's host (ErrorKind::network when it does not resolve).
Result<Address> resolve(const Url& url);

// What every worker reads; written before the threads start.
struct Target {
  Address address;
  std::vector<std::string> requests;  // the bytes of one request per path
  std::shared_ptr<TlsContext> tls;    // null: plain HTTP
  std::string tls_name;
};

// Per-worker progress for the monitor thread, published every tick with relaxed stores (never per request).
struct alignas(64) Published {
  std::atomic<std::uint64_t> responses{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> connected{0};  // connections up after connect_first()
};

// This worker's part of the run.
struct WorkerShare {
  int index = 0;
  int workers = 1;
  int connections = 1;
  std::optional<std::uint64_t> requests;
  std::optional<Rate> rate;
  IoBackend io = IoBackend::epoll;  // chosen by run_load (never automatic)
};

class HttpWorker {
 public:
  // `stop` (may be empty) is asked every tick besides `cancel`: another worker failed.
  HttpWorker(const LoadSpec& spec, const Target& target, Clock& clock, engine::CancellationToken& cancel,
             const WorkerShare& share, Published& published, std::function<bool()> stop);
  ~HttpWorker();
  HttpWorker(const HttpWorker&) = delete;
  HttpWorker& operator=(const HttpWorker&) = delete;

  // Opens the connections before the start (publishes how many are up).
  void connect_first();
  // The timed run from `start`.
  LoadResult run(TimePoint start);
  // The run does not start (nothing reachable, or cancelled): what connect_first() saw.
  LoadResult abandon();

 private:
  enum class State : std::uint8_t { closed, backoff, connecting, handshaking, idle, sending, awaiting };
  // io_uring: what a completion is for (the top byte of its tag; uring_token()).
  enum class Op : std::uint8_t { connect = 1, send = 2, receive = 3 };

  struct Conn {
    int fd = -1;
    SSL* ssl = nullptr;
    std::uint32_t generation = 0;
    State state = State::closed;
    std::uint32_t interest = 0;
    const std::string* request = nullptr;
    std::size_t written = 0;
    TimePoint connect_started{};
    TimePoint handshake_started{};
    TimePoint deadline{};  // connect, handshake or back-off
    ResponseParser parser;
    // TLS on io_uring: the SSL works on memory; `network` is the ciphertext's end of its BIO pair, and `out`
    // the ciphertext of the send in flight (one at a time, so `out` does not move under the kernel).
    BIO* network = nullptr;
    std::string out;
    std::size_t out_sent = 0;
    bool send_in_flight = false;
  };

  bool keep_alive_mode() const { return !spec_.connection_per_request; }
  bool has_request(std::size_t index) const { return flow_ && flow_->has_request(index); }
  TimePoint clock_now() const { return clock_.now(); }
  std::uint64_t token(std::size_t index) const;
  // The operation, the low 24 bits of the generation and the index: a completion for a connection closed
  // since it was queued carries an old generation and is dropped.
  std::uint64_t uring_token(std::size_t index, Op op) const;
  bool on_uring() const { return uring_ != nullptr; }
  // Sets up the backend the share asks for; io_uring failing here (it passed run_load's probe) falls back to
  // epoll with a note.
  bool open_backend();
  void set_interest(Conn& conn, std::size_t index, std::uint32_t events);
  void count_error(TimePoint now);
  void note_error(std::string text);

  void close_conn(std::size_t index);
  bool start_connect(std::size_t index, TimePoint now);
  void connect_failed(std::size_t index, TimePoint now, std::string why);
  void fail_conn(std::size_t index, TimePoint now, std::uint64_t& counter, std::string why);
  void finish_connect(std::size_t index, TimePoint now);
  void connect_succeeded(std::size_t index, TimePoint now);
  void continue_handshake(std::size_t index, TimePoint now);
  void connected(std::size_t index, TimePoint now);

  const std::string& next_request();
  void start_request(std::size_t index, TimePoint now);
  void begin_send(std::size_t index, TimePoint now);
  void continue_send(std::size_t index, TimePoint now);
  void read_ready(std::size_t index);
  void consume(std::size_t index, std::string_view data);
  void parse_failed(std::size_t index, TimePoint now, ParseError error);
  void read_failed(std::size_t index, TimePoint now, std::string why);
  void peer_closed(std::size_t index, TimePoint now);
  void completed(std::size_t index, TimePoint now, bool leftover);
  void reconnect_or_free(std::size_t index, TimePoint now);
  void after_slot_freed(std::size_t index, TimePoint now);
  void became_idle(std::size_t index, TimePoint now);
  void dispatch(TimePoint now);

  void wait_and_handle(std::vector<epoll_event>& events, Duration wait);
  // io_uring (http_worker_uring.cpp): submit, wait, and handle the completions.
  void uring_wait_and_handle(Duration wait);
  void uring_completed(const Completion& completion);
  void uring_sent(std::size_t index, int result);
  void uring_received(std::size_t index, const Completion& completion);
  // TLS on io_uring (http_worker_uring_tls.cpp): encrypt and queue the request, take a send's completion,
  // feed received ciphertext to the session, and send what the session wrote (handshake flights, records,
  // alerts).
  void uring_tls_send(std::size_t index, TimePoint now);
  void uring_tls_sent(std::size_t index, int result);
  void uring_tls_received(std::size_t index, std::string_view data);
  void tls_flush(std::size_t index);
  void handle(std::size_t index, std::uint32_t events);
  void tick(TimePoint now);
  void publish();

  const LoadSpec& spec_;
  const Target& target_;
  Clock& clock_;
  engine::CancellationToken& cancel_;
  WorkerShare share_;
  Published& published_;
  std::function<bool()> stop_;
  std::vector<Conn> conns_;
  std::unique_ptr<char[]> buffer_;
  LiveSeries live_;
  int epoll_ = -1;
  std::unique_ptr<UringLoop> uring_;  // set: the worker runs on io_uring, and epoll_ stays -1
  std::string io_note_;               // io_uring could not be set up in this worker: why
  LoadResult result_;
  std::optional<RequestFlow> flow_;  // from run()
  TimePoint next_intended_ = TimePoint::max();
  std::size_t next_path_ = 0;
  bool running_ = false;
  bool ring_failed_ = false;  // io_uring's wait failed: stop as if cancelled
  bool head_request_ = false;
};

}  // namespace kp::drivers::ingress
