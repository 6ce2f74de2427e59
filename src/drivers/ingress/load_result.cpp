// LoadResult's merge and rates, and the bytes of a request: what every worker's results share.

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "drivers/ingress/load.hpp"
#include "drivers/ingress/request_flow.hpp"

namespace kp::drivers::ingress {

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
  if (io_backend.empty()) {
    io_backend = other.io_backend;
  } else if (!other.io_backend.empty() && other.io_backend != io_backend) {
    io_backend = "epoll+uring";
  }
  if (io_note.empty()) {
    io_note = other.io_note;
  }
  timeouts += other.timeouts;
  unsent += other.unsent;
  dispatched += other.dispatched;
  queued += other.queued;
  unsent_for_server += other.unsent_for_server;
  unsent_own += other.unsent_own;
  connections_opened += other.connections_opened;
  server_closes += other.server_closes;
  bytes_read += other.bytes_read;
  latency.merge(other.latency);
  uncorrected.merge(other.uncorrected);
  connect_time.merge(other.connect_time);
  handshake_time.merge(other.handshake_time);
  pacer.merge(other.pacer);
  own_lateness.merge(other.own_lateness);
  series.merge(other.series);
  for (const std::string& sample : other.error_samples) {
    keep_error_sample(*this, sample);
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

}  // namespace kp::drivers::ingress
