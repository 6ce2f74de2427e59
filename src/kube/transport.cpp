#include "kube/transport.hpp"

#include <cstdio>
#include <future>

#include <curl/curl.h>
#include <fmt/format.h>

namespace kp::kube {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

long to_ms(Duration duration) {
  return std::max<long>(
      1, static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count()));
}

bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "PATCH";
}

// scheme://host[:port][/prefix] -> pieces; host keeps IPv6 brackets.
struct ServerUrl {
  std::string scheme;
  std::string host;
  std::string port;
  std::string prefix;
};

Result<ServerUrl> split_server(const std::string& server) {
  std::size_t scheme_end = server.find("://");
  if (scheme_end == std::string::npos) {
    return fail(ErrorKind::input, fmt::format("server \"{}\": not a URL", server));
  }
  ServerUrl url;
  url.scheme = server.substr(0, scheme_end);
  std::string rest = server.substr(scheme_end + 3);
  std::size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  url.prefix = slash == std::string::npos ? "" : rest.substr(slash);
  std::size_t colon = authority.rfind(':');
  std::size_t bracket = authority.rfind(']');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    url.host = authority.substr(0, colon);
    url.port = authority.substr(colon + 1);
  } else {
    url.host = authority;
    url.port = url.scheme == "https" ? "443" : "80";
  }
  return url;
}

}  // namespace

struct Transport::Transfer {
  std::uint64_t id = 0;
  Request request;
  Callback done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* connect_to = nullptr;
  std::string body;
  std::string retry_after;
  std::string flow_schema_uid;
  std::string priority_level_uid;
  int throttled = 0;
  TimePoint first_started{};
  long status = 0;
  bool status_known = false;
  bool streaming = false;      // delivering a 2xx body to on_data
  bool consumer_stop = false;  // on_data returned false
  bool delivered = false;      // some streamed data went out: never retry then
  bool cancelled = false;
  int attempts = 0;
  bool reauthenticated = false;
  std::uint64_t generation = 0;
  TimePoint intended;
  char error_buffer[CURL_ERROR_SIZE] = {};
};

namespace {

// The value of `line` when it is the header `name` (case-insensitive), trimmed; nullopt otherwise.
std::optional<std::string_view> header_value(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) !=
        std::tolower(static_cast<unsigned char>(name[i]))) {
      return std::nullopt;
    }
  }
  std::string_view value = line.substr(name.size() + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  return value;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transport::Transfer*>(user);
  std::string_view line(data, size * count);
  if (std::optional<std::string_view> value = header_value(line, "Retry-After")) {
    transfer->retry_after = std::string(*value);
  } else if (std::optional<std::string_view> fs = header_value(line, kFlowSchemaHeader)) {
    transfer->flow_schema_uid = std::string(*fs);
  } else if (std::optional<std::string_view> pl = header_value(line, kPriorityLevelHeader)) {
    transfer->priority_level_uid = std::string(*pl);
  }
  return size * count;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transport::Transfer*>(user);
  std::size_t bytes = size * count;
  if (!transfer->status_known) {
    curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &transfer->status);
    transfer->status_known = true;
    transfer->streaming = transfer->request.on_data && transfer->status >= 200 && transfer->status < 300;
  }
  if (transfer->streaming) {
    transfer->delivered = true;
    if (!transfer->request.on_data(std::string_view(data, bytes))) {
      transfer->consumer_stop = true;
      return 0;  // CURLE_WRITE_ERROR ends the transfer
    }
    return bytes;
  }
  // Error bodies and whole responses; a LIST of many thousands of objects is tens of MB at most.
  if (transfer->body.size() + bytes > (std::size_t{1} << 30)) {
    return 0;
  }
  transfer->body.append(data, bytes);
  return bytes;
}

}  // namespace

Result<std::unique_ptr<Transport>> Transport::create(RestConfig config, ClientOptions options, Clock& clock) {
  global_init();
  Result<ServerUrl> url = split_server(config.server);
  if (!url) {
    return std::unexpected(url.error());
  }
  std::unique_ptr<Transport> transport(new Transport(std::move(config), std::move(options), clock));
  const RestConfig& rest = transport->config_;
  if (!rest.tls_server_name.empty()) {
    // Verify (and send SNI for) tls-server-name while connecting to the server's address: the URL carries
    // the name and CONNECT_TO maps it to the real host.
    transport->base_url_ =
        fmt::format("{}://{}:{}{}", url->scheme, rest.tls_server_name, url->port, url->prefix);
    transport->connect_to_ =
        fmt::format("{}:{}:{}:{}", rest.tls_server_name, url->port, url->host, url->port);
  } else {
    transport->base_url_ = rest.server;
  }
  if (rest.insecure_skip_tls_verify) {
    std::string warning = fmt::format(
        "WARNING: insecure-skip-tls-verify is set for cluster \"{}\" ({}): the API server's certificate is "
        "NOT "
        "verified, so anyone on the network path can read and change this traffic, credentials included",
        rest.cluster_name, rest.server);
    if (transport->options_.warn) {
      transport->options_.warn(warning);
    } else {
      std::fprintf(stderr, "%s\n", warning.c_str());
    }
  }
  transport->multi_ = curl_multi_init();
  if (transport->multi_ == nullptr) {
    return fail(ErrorKind::internal, "curl_multi_init failed");
  }
  CURLM* multi = static_cast<CURLM*>(transport->multi_);
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  // Over HTTP/1.1 (a server without h2) a burst opens a connection per request in flight; with only 64 kept
  // after it, the next burst paid a TLS handshake for nearly every request (6279 connections for 6670
  // requests in bench/compare-api.sh) and 8x the client CPU. Keep as many as the load runner has in flight.
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 512L);
  transport->thread_ = std::thread([raw = transport.get()] { raw->loop(); });
  return transport;
}

Transport::Transport(RestConfig config, ClientOptions options, Clock& clock)
    : config_(std::move(config)),
      options_(std::move(options)),
      clock_(clock),
      credentials_(config_, clock),
      limiter_(options_.qps, options_.burst, clock.now()) {}

Transport::~Transport() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) {
    thread_.join();
  }
  // A plugin still running is killed rather than waited for (up to its exec_timeout): nobody is left to use
  // what it would print.
  credentials_.abandon();
  if (refresher_.joinable()) {
    refresher_.join();
  }
  for (void* handle : idle_handles_) {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
  if (multi_ != nullptr) {
    curl_multi_cleanup(static_cast<CURLM*>(multi_));
  }
}

void Transport::wake() {
  if (multi_ != nullptr) {
    curl_multi_wakeup(static_cast<CURLM*>(multi_));
  }
}

std::uint64_t Transport::submit(Request request, Callback done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->id = next_id_.fetch_add(1);
  TimePoint now = clock_.now();
  transfer->intended = request.rate_limited ? limiter_.reserve(now) : now;
  if (request.not_before && *request.not_before > transfer->intended) {
    transfer->intended = *request.not_before;
  }
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  std::uint64_t id = transfer->id;
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    stopping = stopping_;
    if (!stopping) {
      incoming_.push_back(std::move(transfer));
    }
  }
  if (stopping) {
    transfer->done(fail(ErrorKind::cancelled, "the Kubernetes client is shutting down"));
    return id;
  }
  wake();
  return id;
}

void Transport::cancel(std::uint64_t id) {
  {
    std::lock_guard lock(mutex_);
    cancels_.push_back(id);
  }
  wake();
}

Result<Response> Transport::call(Request request) {
  auto promise = std::make_shared<std::promise<Result<Response>>>();
  std::future<Result<Response>> future = promise->get_future();
  submit(std::move(request), [promise](Result<Response> result) { promise->set_value(std::move(result)); });
  return future.get();
}

TransportStats Transport::stats() const {
  TransportStats stats;
  stats.requests = requests_.load();
  stats.attempts = attempts_.load();
  stats.retries = stats.attempts > stats.requests ? stats.attempts - stats.requests : 0;
  stats.connections = connections_.load();
  stats.http2 = http2_.load();
  return stats;
}

void Transport::schedule(Transfer* transfer, TimePoint at) {
  timers_.emplace(at, transfer->id);
}

void Transport::loop() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  while (true) {
    std::vector<std::unique_ptr<Transfer>> arrived;
    std::vector<std::uint64_t> cancels;
    bool stopping = false;
    std::optional<Result<Credentials>> refreshed;
    {
      std::lock_guard lock(mutex_);
      arrived.swap(incoming_);
      cancels.swap(cancels_);
      stopping = stopping_;
      refreshed.swap(refreshed_);
    }
    for (std::unique_ptr<Transfer>& transfer : arrived) {
      Transfer* raw = transfer.get();
      transfers_.emplace(raw->id, std::move(transfer));
      schedule(raw, raw->intended);
    }
    if (stopping) {
      for (auto& [id, transfer] : transfers_) {
        transfer->cancelled = true;
      }
      std::vector<std::uint64_t> ids;
      for (auto& [id, transfer] : transfers_) {
        ids.push_back(id);
      }
      for (std::uint64_t id : ids) {
        Transfer* transfer = transfers_.at(id).get();
        complete(transfer, fail(ErrorKind::cancelled, "the Kubernetes client is shutting down"));
      }
      return;
    }
    if (refreshed) {
      resume_after_refresh(std::move(*refreshed));
    }
    for (std::uint64_t id : cancels) {
      auto it = transfers_.find(id);
      if (it == transfers_.end()) {
        continue;
      }
      Transfer* transfer = it->second.get();
      transfer->cancelled = true;
      if (transfer->streaming) {
        Response response;
        response.status = transfer->status;
        response.attempts = transfer->attempts;
        response.intended = transfer->intended;
        response.finished = clock_.now();
        complete(transfer, response);
      } else {
        complete(transfer,
                 fail(ErrorKind::cancelled, fmt::format("{} {}: cancelled", transfer->request.method,
                                                        url(transfer->request.path))));
      }
    }
    TimePoint now = clock_.now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      std::uint64_t id = timers_.begin()->second;
      timers_.erase(timers_.begin());
      auto it = transfers_.find(id);
      if (it != transfers_.end() && it->second->easy == nullptr) {
        start_attempt(it->second.get());
      }
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
      if (message->msg != CURLMSG_DONE) {
        continue;
      }
      Transfer* transfer = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
      if (transfer != nullptr) {
        finish(transfer, message->data.result);
      }
    }
    long timeout_ms = 1000;
    if (!timers_.empty()) {
      auto until =
          std::chrono::duration_cast<std::chrono::milliseconds>(timers_.begin()->first - clock_.now());
      timeout_ms = std::clamp<long>(static_cast<long>(until.count()), 0, 1000);
      if (timeout_ms == 0 && timers_.begin()->first > clock_.now()) {
        timeout_ms = 1;
      }
    }
    if (timeout_ms > 0) {
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(timeout_ms), nullptr);
    }
  }
}

void Transport::await_credentials(Transfer* transfer) {
  awaiting_credentials_.push_back(transfer->id);
  if (refreshing_) {
    return;  // one run serves every transfer that waits
  }
  refreshing_ = true;
  if (refresher_.joinable()) {
    refresher_.join();  // the last refresh's thread, which has already handed over its answer
  }
  refresher_ = std::thread([this] {
    Result<Credentials> refreshed = credentials_.current();
    {
      std::lock_guard lock(mutex_);
      refreshed_ = std::move(refreshed);
    }
    wake();
  });
}

void Transport::resume_after_refresh(Result<Credentials> refreshed) {
  refreshing_ = false;
  std::vector<std::uint64_t> waiting;
  waiting.swap(awaiting_credentials_);
  for (std::uint64_t id : waiting) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) {
      continue;  // cancelled while it waited
    }
    if (!refreshed) {
      complete(it->second.get(), std::unexpected(with_context(refreshed.error(), "credentials: ")));
    } else {
      start_attempt(it->second.get(), *refreshed);
    }
  }
}

void Transport::start_attempt(Transfer* transfer, std::optional<Credentials> given) {
  std::optional<Credentials> credentials = given ? std::move(given) : credentials_.cached();
  if (!credentials) {
    await_credentials(transfer);
    return;
  }
  transfer->generation = credentials->generation;
  ++transfer->attempts;
  attempts_.fetch_add(1);
  if (transfer->attempts == 1) {
    transfer->first_started = clock_.now();
  }
  transfer->body.clear();
  transfer->retry_after.clear();
  if (transfer->throttled == 0) {
    // Keep a 429's APF headers for the report; otherwise the final answer's.
    transfer->flow_schema_uid.clear();
    transfer->priority_level_uid.clear();
  }
  transfer->status = 0;
  transfer->status_known = false;
  transfer->streaming = false;
  transfer->error_buffer[0] = '\0';

  CURL* easy = nullptr;
  if (!idle_handles_.empty()) {
    easy = static_cast<CURL*>(idle_handles_.back());
    idle_handles_.pop_back();
    curl_easy_reset(easy);
  } else {
    easy = curl_easy_init();
  }
  if (easy == nullptr) {
    complete(transfer, fail(ErrorKind::internal, "curl_easy_init failed"));
    return;
  }
  transfer->easy = easy;
  const Request& request = transfer->request;
  std::string full_url = url(request.path);
  curl_easy_setopt(easy, CURLOPT_URL, full_url.c_str());
  curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error_buffer);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, to_ms(options_.connect_timeout));
  Duration timeout = request.timeout.value_or(options_.request_timeout);
  if (timeout.count() > 0) {
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, to_ms(timeout));
  }
  if (request.stall_timeout) {
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(
        easy, CURLOPT_LOW_SPEED_TIME,
        std::max<long>(
            1, static_cast<long>(
                   std::chrono::duration_cast<std::chrono::seconds>(*request.stall_timeout).count())));
  }
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  if (options_.http2) {
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    // Wait for an existing connection to say whether it multiplexes instead of opening another one.
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  }
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  // TLS: the cluster's CA (file or data), tls-server-name, client certificates (kubeconfig or exec plugin).
  const RestConfig& rest = config_;
  if (rest.insecure_skip_tls_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!rest.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, rest.ca_file.c_str());
  } else if (!rest.ca_data.empty()) {
    curl_blob blob{const_cast<char*>(rest.ca_data.data()), rest.ca_data.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!rest.proxy_url.empty()) {
    // The kubeconfig's proxy-url (validated by kubeconfig.cpp). client-go's socks5 lets the proxy resolve
    // the server's name: libcurl's socks5h. An https:// proxy's own certificate is checked against the
    // system's CAs, as Go's transport does.
    const std::string proxy = rest.proxy_url.starts_with("socks5://")
                                  ? "socks5h://" + rest.proxy_url.substr(std::string_view("socks5://").size())
                                  : rest.proxy_url;
    curl_easy_setopt(easy, CURLOPT_PROXY, proxy.c_str());
  }
  if (!connect_to_.empty()) {
    // libcurl keeps the list's pointer (no copy) until the transfer ends; the transfer owns it.
    transfer->connect_to = curl_slist_append(nullptr, connect_to_.c_str());
    curl_easy_setopt(easy, CURLOPT_CONNECT_TO, transfer->connect_to);
  }
  const std::string& cert_pem =
      !credentials->cert_pem.empty() ? credentials->cert_pem : rest.client_cert_data;
  const std::string& key_pem = !credentials->key_pem.empty() ? credentials->key_pem : rest.client_key_data;
  if (!cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(cert_pem.data()), cert_pem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(key_pem.data()), key_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!rest.client_cert_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, rest.client_cert_file.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLKEY, rest.client_key_file.c_str());
  }
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "User-Agent: kubeproof/" KP_VERSION);
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip on POST
  if (!request.content_type.empty()) {
    headers = curl_slist_append(headers, fmt::format("Content-Type: {}", request.content_type).c_str());
  }
  if (!credentials->token.empty()) {
    std::string auth = "Authorization: Bearer " + credentials->token;
    headers = curl_slist_append(headers, auth.c_str());
    // Scrub our copy; libcurl holds its own in the slist, freed (not scrubbed) when the transfer ends.
    std::fill(auth.begin(), auth.end(), '\0');
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  transfer->headers = headers;
  curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
}

void Transport::finish(Transfer* transfer, int curl_code) {
  CURL* easy = transfer->easy;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  long connects = 0;
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
  connections_.fetch_add(static_cast<std::uint64_t>(connects));
  long version = 0;
  curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
  if (version == CURL_HTTP_VERSION_2_0) {
    http2_.fetch_add(1);
  }
  std::string curl_error = transfer->error_buffer[0] != '\0'
                               ? transfer->error_buffer
                               : curl_easy_strerror(static_cast<CURLcode>(curl_code));
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
  curl_slist_free_all(transfer->headers);
  transfer->headers = nullptr;
  curl_slist_free_all(transfer->connect_to);
  transfer->connect_to = nullptr;
  transfer->easy = nullptr;
  if (idle_handles_.size() < 256) {
    idle_handles_.push_back(easy);
  } else {
    curl_easy_cleanup(easy);
  }
  const Request& request = transfer->request;
  TimePoint now = clock_.now();
  auto retry_in = [&](Duration delay) { schedule(transfer, now + delay); };
  bool can_retry = request.retry && !transfer->delivered && transfer->attempts <= options_.max_retries;

  if (curl_code != CURLE_OK && !transfer->consumer_stop) {
    // A connection that broke before an answer: safe to repeat for reads only.
    bool transient = curl_code == CURLE_COULDNT_CONNECT || curl_code == CURLE_RECV_ERROR ||
                     curl_code == CURLE_SEND_ERROR || curl_code == CURLE_GOT_NOTHING ||
                     curl_code == CURLE_HTTP2 || curl_code == CURLE_HTTP2_STREAM;
    if (can_retry && transient && request.method == "GET" && transfer->attempts < 3) {
      retry_in(options_.backoff_base * (1 << (transfer->attempts - 1)));
      return;
    }
    ErrorKind kind = curl_code == CURLE_OPERATION_TIMEDOUT ? ErrorKind::timeout : ErrorKind::network;
    std::string attempts =
        transfer->attempts > 1 ? fmt::format(" (after {} attempts)", transfer->attempts) : "";
    complete(transfer,
             fail(kind, fmt::format("{} {}: {}{}", request.method, url(request.path), curl_error, attempts)));
    return;
  }
  if (status == 401 && !transfer->reauthenticated && credentials_.refreshable() && !transfer->delivered) {
    // Expired or rotated credentials: re-read them once and try again (client-go re-runs the exec plugin).
    transfer->reauthenticated = true;
    credentials_.invalidate(transfer->generation);
    retry_in(Duration::zero());
    return;
  }
  bool server_busy = status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
  if (status == 429) {
    ++transfer->throttled;
  }
  if (server_busy && can_retry &&
      (status == 429 || idempotent(request.method) || !transfer->retry_after.empty())) {
    Duration delay = options_.backoff_base * (1 << std::min(transfer->attempts - 1, 16));
    delay = std::min(delay, options_.backoff_cap);
    if (!transfer->retry_after.empty()) {
      // Retry-After in seconds (the apiserver's form); an HTTP date is not sent by Kubernetes.
      char* end = nullptr;
      long seconds = std::strtol(transfer->retry_after.c_str(), &end, 10);
      if (end != transfer->retry_after.c_str() && seconds >= 0) {
        delay = std::min<Duration>(std::chrono::seconds(seconds), options_.max_retry_after);
      }
    }
    retry_in(delay);
    return;
  }
  Response response;
  response.status = status;
  response.body = std::move(transfer->body);
  response.retry_after = transfer->retry_after;
  response.http_version = version == CURL_HTTP_VERSION_2_0 ? 2 : 11;
  response.attempts = transfer->attempts;
  response.throttled = transfer->throttled;
  response.flow_schema_uid = std::move(transfer->flow_schema_uid);
  response.priority_level_uid = std::move(transfer->priority_level_uid);
  response.intended = transfer->intended;
  response.started = transfer->first_started;
  response.finished = now;
  complete(transfer, std::move(response));
}

void Transport::complete(Transfer* transfer, Result<Response> result) {
  if (transfer->easy != nullptr) {
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), transfer->easy);
    curl_slist_free_all(transfer->headers);
    transfer->headers = nullptr;
    curl_slist_free_all(transfer->connect_to);
    transfer->connect_to = nullptr;
    curl_easy_cleanup(transfer->easy);
    transfer->easy = nullptr;
  }
  std::unique_ptr<Transfer> owned;
  if (auto it = transfers_.find(transfer->id); it != transfers_.end()) {
    owned = std::move(it->second);
    transfers_.erase(it);
  }
  requests_.fetch_add(1);
  if (owned && owned->done) {
    Callback done = std::move(owned->done);
    done(std::move(result));
  }
}

}  // namespace kp::kube
