#pragma once

// HTTP to one API server as one user, the way client-go does it: one libcurl multi handle on one thread owns
// every connection, so requests share them (HTTP/2 multiplexing where the server offers h2 through ALPN — a
// real kube-apiserver does — and connection reuse with HTTP/1.1 keep-alive otherwise). Callers on any thread
// submit requests; completions run on the transport thread.
//
// Per request: QPS/burst reservation (rate_limiter.hpp), credentials (credentials.hpp; a 401 re-reads them
// once; an exec plugin or token file is (re-)read on a helper thread, never on the I/O thread, so a slow
// plugin holds up only the requests that need its new credentials, not the streams and requests already
// in flight), retries of 429 after Retry-After and of 5xx with exponential backoff (POST only when the server
// sent Retry-After, i.e. said it did not act on it), and a latency measured from the intended start time.
// HTTP error statuses are Responses, not Errors: api.hpp turns their Status bodies into messages.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "kube/credentials.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/rate_limiter.hpp"

namespace kp::kube {

struct Request {
  std::string method = "GET";
  std::string path;  // from the server root, with the query: "/api/v1/namespaces?limit=500"
  std::string body;
  std::string content_type;         // for bodies: "application/json", "application/merge-patch+json"
  std::optional<Duration> timeout;  // whole exchange; unset: the client's; 0: none (watches)
  // Start no earlier than this (a job's own pacing); it is also the intended start latency counts from.
  std::optional<TimePoint> not_before;
  // Streaming (watch): a 2xx body is handed over chunk by chunk as it arrives, on the transport thread, and
  // not kept; returning false ends the transfer (the Response then completes normally).
  std::function<bool(std::string_view)> on_data;
  // Ends the exchange (ErrorKind::timeout) when nothing at all arrives for this long: a connection that died
  // without a FIN or RST (a NAT or load balancer dropped it) otherwise keeps a stream open for good. Whole
  // seconds (libcurl's low-speed limit of 1 byte/s over this time).
  std::optional<Duration> stall_timeout;
  bool retry = true;
  bool rate_limited = true;  // false for the phase's own bookkeeping (metrics scrapes, cleanup)
};

// API Priority and Fairness names the flow schema and priority level a request was classified into, by UID,
// in two headers on every response of a server with APF on (the names are not sent: the UIDs map to them
// through the flowschemas and prioritylevelconfigurations resources).
inline constexpr std::string_view kFlowSchemaHeader = "X-Kubernetes-PF-FlowSchema-UID";
inline constexpr std::string_view kPriorityLevelHeader = "X-Kubernetes-PF-PriorityLevel-UID";

struct Response {
  long status = 0;
  std::string body;  // empty for streamed 2xx bodies
  std::string retry_after;
  long http_version = 0;  // 2 or 11 (1.1)
  int attempts = 1;
  // Attempts the server answered 429 (API Priority and Fairness or max-in-flight rejected them); each was
  // retried after its Retry-After, and that wait is inside latency().
  int throttled = 0;
  // The APF headers of the last 429 (of the final answer when none was throttled); empty when not sent.
  std::string flow_schema_uid;
  std::string priority_level_uid;
  TimePoint intended;  // when the rate limiter let it start
  TimePoint started;   // when its first attempt actually started (started - intended: the client's lateness)
  TimePoint finished;
  Duration latency() const { return finished - intended; }
};

struct ClientOptions {
  double qps = 0;  // <= 0: unlimited
  int burst = 1;
  int max_retries = 10;  // client-go's default
  Duration request_timeout = std::chrono::seconds(60);
  Duration connect_timeout = std::chrono::seconds(10);
  Duration max_retry_after = std::chrono::seconds(30);
  Duration backoff_base = std::chrono::milliseconds(100);
  Duration backoff_cap = std::chrono::seconds(5);
  bool http2 = true;
  // Where loud warnings go (insecure-skip-tls-verify); default: stderr.
  std::function<void(std::string_view)> warn;
};

struct TransportStats {
  std::uint64_t requests = 0;     // completed (after retries), including failed ones
  std::uint64_t attempts = 0;     // HTTP exchanges, retries included
  std::uint64_t retries = 0;      // attempts - first attempts
  std::uint64_t connections = 0;  // new connections opened
  std::uint64_t http2 = 0;        // exchanges that used HTTP/2
};

using Callback = std::function<void(Result<Response>)>;

class Transport {
 public:
  static Result<std::unique_ptr<Transport>> create(RestConfig config, ClientOptions options, Clock& clock);
  // Stops the thread; requests still queued or running complete with ErrorKind::cancelled first.
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Queues a request; `done` runs exactly once, on the transport thread (it must not call call()).
  // Thread-safe. Returns an id for cancel().
  std::uint64_t submit(Request request, Callback done);
  // Ends a queued or running request; its callback gets ErrorKind::cancelled (a stream: its Response).
  void cancel(std::uint64_t id);
  // Blocking submit. Not from the transport thread.
  Result<Response> call(Request request);

  const RestConfig& config() const { return config_; }
  CredentialSource& credentials() { return credentials_; }
  TransportStats stats() const;
  std::string url(std::string_view path) const { return base_url_ + std::string(path); }
  // The server's address for messages (the kubeconfig's `server`).
  const std::string& server() const { return config_.server; }

 public:
  struct Transfer;  // one request, across its attempts (transport.cpp)

 private:
  Transport(RestConfig config, ClientOptions options, Clock& clock);
  void loop();
  // `given`: credentials a refresh just produced for this attempt (used even when they are already expired,
  // so a plugin that hands out short-lived ones cannot keep a request waiting for ever).
  void start_attempt(Transfer* transfer, std::optional<Credentials> given = std::nullopt);
  // Parks the transfer until the helper thread has refreshed the credentials (starting it when idle).
  void await_credentials(Transfer* transfer);
  // On the I/O thread: hands a finished refresh to the transfers that waited for it.
  void resume_after_refresh(Result<Credentials> refreshed);
  void finish(Transfer* transfer, int curl_code);
  void complete(Transfer* transfer, Result<Response> result);
  void schedule(Transfer* transfer, TimePoint at);
  void wake();

  RestConfig config_;
  ClientOptions options_;
  Clock& clock_;
  CredentialSource credentials_;
  TokenBucket limiter_;
  std::string base_url_;    // the server URL, with tls-server-name as its host when set
  std::string connect_to_;  // CURLOPT_CONNECT_TO entry for tls-server-name
  void* multi_ = nullptr;   // CURLM*

  std::mutex mutex_;  // guards incoming_, cancels_, stopping_, refreshed_
  std::vector<std::unique_ptr<Transfer>> incoming_;
  std::vector<std::uint64_t> cancels_;
  bool stopping_ = false;
  std::optional<Result<Credentials>> refreshed_;  // the helper thread's answer, until the loop takes it
  std::atomic<std::uint64_t> next_id_{1};

  // Owned by the transport thread.
  std::map<std::uint64_t, std::unique_ptr<Transfer>> transfers_;
  std::multimap<TimePoint, std::uint64_t> timers_;
  std::vector<void*> idle_handles_;                  // CURL* kept for reuse
  std::vector<std::uint64_t> awaiting_credentials_;  // transfers parked until the refresh ends
  bool refreshing_ = false;                          // the helper thread runs (or its answer is unread)
  std::thread refresher_;                            // runs credentials_.current(); joined before the next

  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> attempts_{0};
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> http2_{0};
  std::thread thread_;
};

}  // namespace kp::kube
