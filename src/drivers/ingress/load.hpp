#pragma once

// The HTTP/1.1 load generator: one event loop per thread (epoll or io_uring: io_backend.hpp), each owning its
// connections, parser state, histograms, recorder and random generator; nothing shared on the hot path (a
// relaxed counter per thread is published every 10 ms for progress). Per-thread results are merged after
// join.
//
// Modes:
//  - closed loop (no rate): every connection sends its next request as soon as the previous response is in,
//    like wrk. Latency = service time.
//  - open loop (rate): intended send times come from kp::Pacer (per thread rate / threads), like wrk2. The
//    schedule is not capped by the connections: when all are busy, requests queue keeping their intended
//    time, and latency is measured from it (corrected); the service time from the actual send is kept too.
//    Such a wait is the server's (LoadResult::queued); only a send that found a free connection and still
//    went out late is the generator's own lateness (LoadResult::own_lateness).
//  - connection per request: each request opens a new connection (TCP connect, TLS handshake), sends with
//    "Connection: close" and closes; connect and handshake times are measured apart. Open or closed loop;
//    `connections` bounds how many are in flight.
//
// A run always stops: at `duration`, after `requests` requests, or on cancellation; then it waits for the
// responses in flight for at most `timeout` (so counts match the server's access log) and closes everything.
//
// Files, one job each: request_flow.* (schedule, in-flight table, results: pure logic on a clock's time
// points, driven by a FakeClock in tests), http_worker.* (one thread's connection I/O: epoll, TLS, parsing),
// load_generator.cpp (run_load: the worker pool), load_result.cpp (merging, rates, the request bytes).

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/histogram.hpp"
#include "core/live.hpp"
#include "core/pacer.hpp"
#include "core/recorder.hpp"
#include "core/units.hpp"
#include "drivers/ingress/io_backend.hpp"
#include "drivers/ingress/tls.hpp"
#include "drivers/ingress/url.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::ingress {

struct RequestSpec {
  std::string method = "GET";
  std::vector<std::string> paths;  // empty: the URL's path; else each connection cycles through them
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string host;  // the Host header; empty: the URL's authority
};

struct LoadSpec {
  Url url;
  RequestSpec request;
  int threads = 1;
  int connections = 10;      // in total, spread over the threads (each thread gets at least one)
  std::optional<Rate> rate;  // set: open loop at this total rate
  Arrival arrival = Arrival::constant;
  Duration duration = std::chrono::seconds(10);  // 0: bounded by `requests` only
  std::optional<std::uint64_t> requests;         // total requests to send
  Duration timeout = std::chrono::seconds(5);    // per request, and per connect + handshake
  bool connection_per_request = false;
  TlsSettings tls;
  std::uint64_t seed = 1;
  // A request whose send is later than this after its intended time counts as a late send.
  Duration late_tolerance = std::chrono::milliseconds(1);
  // Live counts for `run --metrics-listen` under this series name (5xx and failures are errors); null: off.
  LiveSink* live = nullptr;
  std::string live_series = "request";
  IoBackend io = IoBackend::automatic;  // --io / the phase's `io:`
};

// Names of the per-second series in LoadResult::series.
inline constexpr std::string_view kSeriesLatency = "latency";  // every response, ns (corrected in open loop)
inline constexpr std::string_view kSeries5xx = "5xx";          // 5xx responses, their latency
inline constexpr std::string_view kSeriesErrors = "errors";    // socket errors, timeouts, malformed responses
inline constexpr std::string_view kSeriesConnect = "connect";  // completed connects, connect time ns

struct LoadResult {
  bool open_loop = false;
  double intended_rate = 0;  // open loop: requests per second asked for
  Duration window{0};        // from the start to the end of sending (duration, or until the count was sent)
  Duration elapsed{0};       // from the start to the last response or error, drain included

  std::uint64_t requests_sent = 0;   // request bytes fully written
  std::uint64_t responses = 0;       // complete responses, any status (a subset of requests_sent)
  std::uint64_t sent_in_window = 0;  // requests sent before the end of the window (a subset of requests_sent)
  std::uint64_t issued = 0;          // open loop: intended send times before the end of the window
  std::array<std::uint64_t, 6> status_classes{};  // [1]..[5]: 1xx..5xx responses; [0]: unused
  // Failures, each counted once per request or connection attempt:
  std::uint64_t connect_errors = 0;  // connect() refused, reset or unreachable
  std::uint64_t tls_errors = 0;      // handshake failed (verification, protocol)
  std::uint64_t read_errors = 0;     // reset or closed while a request was outstanding
  std::uint64_t write_errors = 0;    // the request could not be written
  std::uint64_t parse_errors = 0;    // malformed or truncated response
  std::uint64_t timeouts = 0;        // no response (or connection) within `timeout`
  std::uint64_t unsent = 0;          // open loop: intended before the end but never sent
  // Open loop, who a late or missing send belongs to (load/validity.hpp):
  std::uint64_t dispatched = 0;  // intended times (all due in the window) handed to a connection
  // Intended times that waited because every connection was busy with the server (sent later, timed out in
  // the queue, or never sent): the server's latency, never the generator's shortfall. "queued for a
  // connection".
  std::uint64_t queued = 0;
  std::uint64_t unsent_for_server = 0;   // a subset of queued: never sent (busy to the end, or timed out)
  std::uint64_t unsent_own = 0;          // a subset of unsent: due, but the event loop never got to them
  std::uint64_t connections_opened = 0;  // TCP connects that succeeded (and, for TLS, handshakes)
  std::uint64_t server_closes = 0;       // idle keep-alive connections the server closed (reopened; no error)
  std::uint64_t bytes_read = 0;

  Histogram latency;         // open loop: corrected (from the intended time); closed loop: service time
  Histogram uncorrected;     // service time (from the actual send), in both modes
  Histogram connect_time;    // TCP connect
  Histogram handshake_time;  // TLS handshake (after the connect)
  PacerStats pacer;          // open loop only: every send's lag, whoever caused it
  Histogram own_lateness;    // open loop: send lag (ns) of the sends that found a free connection at once
  Recorder series;
  std::vector<std::string> error_samples;  // up to 5 distinct error texts, for people
  std::string io_backend;  // the I/O backend that ran: "epoll", "uring" ("epoll+uring" when workers differed)
  std::string io_note;     // why it is epoll when io_uring was wanted; empty otherwise

  explicit LoadResult(TimePoint start = {}) : series(start) {}
  void merge(const LoadResult& other);

  std::uint64_t socket_errors() const { return connect_errors + tls_errors + read_errors + write_errors; }
  std::uint64_t failures() const { return socket_errors() + parse_errors + timeouts; }
  double rps() const;                 // responses per second of `elapsed`
  double achieved_send_rate() const;  // sent_in_window per second of `window`
  double connection_rate() const;     // successful connections per second of `elapsed`
};

// Called about once per second from the calling thread: seconds since start and responses so far.
using ProgressFn = std::function<void(double seconds, std::uint64_t responses, std::uint64_t failures)>;

// Runs the load. Errors (before any traffic): the host does not resolve, the CA file is unreadable, no thread
// could start. A target that refuses or never accepts a single connection is an error too
// (ErrorKind::network, "cannot connect to http://127.0.0.1:1/: Connection refused"), returned within about
// `timeout`.
Result<LoadResult> run_load(const LoadSpec& spec, Clock& clock, engine::CancellationToken& cancel,
                            const ProgressFn& progress = {});

// The bytes of one request for `path` (exposed for tests).
std::string build_request(const RequestSpec& request, const Url& url, std::string_view path, bool close);

}  // namespace kp::drivers::ingress
