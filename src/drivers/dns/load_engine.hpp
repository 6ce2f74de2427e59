#pragma once

// The DNS load engine. Open loop at a rate (each lookup has an intended start time from a Pacer; latency is
// measured from it, so a stalled server shows as latency instead of as fewer queries) or maximum throughput
// with a window of outstanding queries, like dnsperf's -q.
//
// One worker thread per share of the load (load::run_workers: a common start, totals split, a worker's
// exception a phase error), each with its own sockets (UDP: one connected socket per client,
// so the server's SO_REUSEPORT hash spreads clients over its threads; TCP: one pipelined connection per
// client), its own ID spaces, slots, timers, histograms and pacer: nothing is shared on the hot path but the
// read-only workload and two flags. Datagrams go out with sendmmsg and come back with recvmmsg, in batches;
// a query's packet is prepared once and sent as two pieces, its ID from the slot and the rest from the
// prepared bytes, so nothing is copied per query. Results are merged after the workers are joined.
//
// A run always ends: at its duration or count, on cancellation (what was measured is kept), or when no
// response has arrived for `failure_window` while queries were lost or refused (the server is gone). Queries
// still in flight when sending stops get their timeout, then count as lost.

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/histogram.hpp"
#include "core/live.hpp"
#include "core/pacer.hpp"
#include "drivers/dns/queries.hpp"
#include "drivers/dns/resolver.hpp"
#include "drivers/dns/wire.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::dns {

enum class Protocol { udp, tcp };
std::string_view to_string(Protocol protocol);

struct ServerAddress {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string text;  // "127.0.0.1:5353", "[::1]:53"
};

// "10.96.0.10" (port 53), "127.0.0.1:5353", "[fd00::10]:53", "::1". Names are not resolved: the server of a
// DNS test is an address. Errors echo the text.
Result<ServerAddress> parse_server(std::string_view text);

// What to ask, prepared: every distinct (name, type) once, and the lookups as lists of query indices.
struct Workload {
  std::vector<PreparedQuery> queries;
  // Each lookup's queries in order: one in direct mode; the search-list walk in pod resolver mode.
  std::vector<std::vector<std::uint32_t>> lookups;
  bool walk = false;  // move to the next query of a lookup after NXDOMAIN/NODATA/SERVFAIL (resolver.hpp)
};

// Direct mode when `resolver` is unset; pod resolver mode (each name expanded through the search list)
// otherwise.
Result<Workload> build_workload(const std::vector<QuerySpec>& specs,
                                const std::optional<ResolverConfig>& resolver, const QueryOptions& options);

struct LoadOptions {
  ServerAddress server;
  Protocol protocol = Protocol::udp;
  std::optional<Rate> rate;  // lookups per second (open loop); unset: maximum, bounded by `outstanding`
  Arrival arrival = Arrival::constant;
  // Queries in flight at most, over all threads. Open loop: a safety bound (0: rate x timeout, so a slow
  // server never holds the schedule back); max: the window, as dnsperf -q.
  std::uint32_t outstanding = 0;
  int clients = 1;  // UDP sockets / TCP connections over all threads (dnsperf -c)
  int threads = 1;  // at most `clients`
  Duration duration = std::chrono::seconds(10);
  std::optional<std::uint64_t> total;  // lookups to start, over all threads
  Duration timeout = std::chrono::seconds(2);
  Duration failure_window = std::chrono::seconds(5);
  bool tcp_on_truncation = true;  // ask again over TCP when a UDP answer has TC set (as stub resolvers do)
  Duration late_tolerance = std::chrono::milliseconds(5);
  int socket_buffer = 4 << 20;  // SO_RCVBUF/SO_SNDBUF asked for each UDP socket (the kernel may give less)
  std::uint64_t seed = 1;
  // Live counts for `run --metrics-listen` (series "query": answers are ok; lost, unsent and connection-lost
  // queries are errors); null: off.
  LiveSink* live = nullptr;
};

// Counts over a run. Every query sent ends exactly once: as a response, lost, or failed with its connection.
struct Counters {
  std::uint64_t sent = 0;       // queries sent (UDP datagrams and TCP messages, TCP retries included)
  std::uint64_t responses = 0;  // responses matched to a query in flight, any RCODE
  std::array<std::uint64_t, 16> rcodes{};  // responses per RCODE; they sum to `responses`
  std::uint64_t nodata = 0;                // NOERROR without answers (a subset of rcodes[NOERROR])
  std::uint64_t lost = 0;                  // sent, no response within the timeout
  std::uint64_t connection_lost = 0;       // sent over TCP, the connection failed or closed before the answer
  std::uint64_t send_errors = 0;           // not sent: the kernel refused (not in `sent`)
  std::uint64_t refused_icmp = 0;          // ICMP port-unreachable reports (ECONNREFUSED): nothing listens
  std::uint64_t truncated = 0;             // responses with the TC bit (not in `responses` when retried)
  std::uint64_t tcp_retries = 0;           // truncated UDP answers asked again over TCP (a subset of `sent`)
  std::uint64_t unexpected_id = 0;         // datagrams whose ID matched no query in flight: late or stray
  std::uint64_t mismatched = 0;            // ID in flight, but not a response or to another question
  std::uint64_t malformed = 0;             // shorter than a header, larger than the buffer, bad TCP framing
  std::uint64_t id_exhausted = 0;          // lookups that failed because every ID of every socket was busy
  std::uint64_t window_full = 0;           // loop turns in which a due query waited for a free slot
  std::uint64_t lookups_started = 0;
  std::uint64_t lookups_answered = 0;   // ended with NOERROR and answers
  std::uint64_t lookups_negative = 0;   // ended with NXDOMAIN or NODATA (after the whole walk)
  std::uint64_t lookups_failed = 0;     // ended with another RCODE, a send or connection error
  std::uint64_t lookups_lost = 0;       // ended with a timeout
  std::uint64_t lookups_abandoned = 0;  // still in flight when the run was cancelled
  std::uint64_t walk_steps = 0;         // queries after the first of a lookup (the search-list walk)
  std::uint64_t walk_nxdomain = 0;      // NXDOMAIN answers that moved a walk on

  // NOERROR + NXDOMAIN: answers a resolver can use. SERVFAIL, REFUSED, ... are error responses.
  std::uint64_t answered() const { return rcodes[0] + rcodes[3]; }
  std::uint64_t error_responses() const { return responses - answered(); }
  void merge(const Counters& other);
};

struct LoadResult {
  Counters counters;
  // Per query. corrected: from the intended time (open loop; max mode: the send), lost queries included at
  // their timeout (an application waits at least that long); uncorrected: responses only, from the send.
  LatencyRecorder query_latency;
  // Per lookup (pod resolver mode): from the lookup's intended start to its final outcome.
  Histogram lookup_latency;
  PacerStats pacer;
  std::uint64_t unsent_due = 0;  // lookups due before sending stopped that never went out
  // The validity rule's split (load/validity.hpp): lookups that waited for an in-flight slot because every
  // slot was held by the server (sent late or never: the server's latency, already in the corrected figures),
  // and of the unsent_due those that never went out for that reason.
  std::uint64_t queued_for_server = 0;
  std::uint64_t unsent_for_server = 0;
  // actual - intended send time (ns) of the lookups that did not wait for the server: the generator's own.
  Histogram own_lateness;
  Duration send_elapsed{0};  // from the start to when sending stopped
  Duration elapsed{0};       // from the start to the last response (or to the stop, if later)
  bool cancelled = false;
  std::string stopped_early;  // why sending stopped before the duration/count; "" if it did not
  std::string first_error;    // the first send/connection error, for people
  int receive_buffer = 0;     // SO_RCVBUF the kernel granted a UDP socket, bytes
  std::string buffer_note;    // "" when the buffers were forced; else the refusal and the grant
  double cpu_seconds = 0;     // user + system time of the worker threads
  int threads = 0;
  int clients = 0;
  std::uint32_t outstanding = 0;
  std::optional<Rate> rate;

  double elapsed_seconds() const { return std::chrono::duration<double>(elapsed).count(); }
  double answered_per_second() const;
  double responses_per_second() const;
  // Lookups sent over lookups due (1 when nothing was due or in max mode).
  double achieved_share() const;
  // Adds another worker's result: counts and histograms summed (exact), times the longest.
  void merge(const LoadResult& other);
};

using ProgressFn = std::function<void(std::string_view)>;

// Runs the load. Errors for what stops it before it starts (no socket), and ErrorKind::internal when a worker
// failed ("worker 2 of 4 failed: ..."). Progress, if given, gets a line every `progress_interval`.
// The files: worker.hpp (the loop), send_schedule.hpp, in_flight.hpp, worker_io.hpp + socket_io.cpp (I/O),
// load_results.cpp (workload and counts), query_once.cpp, server_address.cpp.
Result<LoadResult> run_load(const Workload& workload, const LoadOptions& options, Clock& clock,
                            engine::CancellationToken& cancel, const ProgressFn& progress = {},
                            Duration progress_interval = std::chrono::seconds(10));

// One query, waiting up to `timeout` for its response (UDP; TCP when `protocol` says so or the UDP answer is
// truncated). For probes and tests. Errors: network (refused), timeout, protocol (unparseable answer).
Result<Message> query_once(const ServerAddress& server, const PreparedQuery& query, Protocol protocol,
                           Duration timeout, Clock& clock);

}  // namespace kp::drivers::dns
