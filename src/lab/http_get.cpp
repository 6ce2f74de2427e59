#include "lab/http_get.hpp"

#include <memory>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

namespace kp::http {
namespace {

// Bodies larger than this are cut off with an error: a /metrics page of etcd is about 200 KB.
constexpr std::size_t kMaxBody = 64 * 1024 * 1024;

struct Sink {
  std::string body;
  bool too_large = false;
};

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  std::size_t bytes = size * count;
  if (sink->body.size() + bytes > kMaxBody) {
    sink->too_large = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  sink->body.append(data, bytes);
  return bytes;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

Result<Response> get(std::string_view url, Duration timeout, const TlsFiles& tls,
                     std::string_view bearer_token) {
  global_init();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    return fail(ErrorKind::internal, "curl_easy_init failed");
  }
  std::string url_text(url);
  Sink sink;
  char error_buffer[CURL_ERROR_SIZE] = {};
  long timeout_ms = std::max<long>(1, static_cast<long>(timeout.count() / 1'000'000));
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, url_text.c_str());
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  // No signals: libcurl's alarm-based DNS timeout is unsafe in a multi-threaded program.
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &write_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  std::string ca = tls.ca_file.string();
  std::string cert = tls.cert_file.string();
  std::string key = tls.key_file.string();
  if (!ca.empty()) {
    curl_easy_setopt(handle, CURLOPT_CAINFO, ca.c_str());
  }
  if (!cert.empty()) {
    curl_easy_setopt(handle, CURLOPT_SSLCERT, cert.c_str());
  }
  if (!key.empty()) {
    curl_easy_setopt(handle, CURLOPT_SSLKEY, key.c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, &curl_slist_free_all);
  if (!bearer_token.empty()) {
    std::string header = fmt::format("Authorization: Bearer {}", bearer_token);
    headers.reset(curl_slist_append(nullptr, header.c_str()));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  }
  CURLcode code = curl_easy_perform(handle);
  if (code != CURLE_OK) {
    if (sink.too_large) {
      return fail(ErrorKind::protocol, fmt::format("GET {}: body larger than {} bytes", url, kMaxBody));
    }
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    ErrorKind kind = code == CURLE_OPERATION_TIMEDOUT ? ErrorKind::timeout : ErrorKind::network;
    return fail(kind, fmt::format("GET {}: {}", url, detail));
  }
  Response response;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
  response.body = std::move(sink.body);
  return response;
}

}  // namespace kp::http
