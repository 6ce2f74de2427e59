#include "drivers/dns/server_stats.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "lab/http_get.hpp"
#include "prom/prometheus_text.hpp"

namespace kp::drivers::dns {
namespace {

// Waits until `fd` is ready for `events` or the deadline passes.
Result<void> ready(int fd, short events, TimePoint deadline, Clock& clock, std::string_view what) {
  while (true) {
    const Duration left = deadline - clock.now();
    if (left <= Duration::zero()) {
      return fail(ErrorKind::timeout, fmt::format("{}: no reply in time", what));
    }
    pollfd pfd{fd, events, 0};
    const int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
    const int n = ::poll(&pfd, 1, ms);
    if (n > 0) {
      return {};
    }
    if (n < 0 && errno != EINTR) {
      return fail(ErrorKind::network, fmt::format("{}: poll: {}", what, std::strerror(errno)));
    }
  }
}

class UnboundSource final : public CacheStatsSource {
 public:
  UnboundSource(ServerAddress control, Duration timeout, Clock& clock)
      : control_(std::move(control)), timeout_(timeout), clock_(clock) {}

  Result<CacheCounters> read() override {
    Result<std::string> text = unbound_control(control_, "stats_noreset", timeout_, clock_);
    if (!text) {
      return std::unexpected(text.error());
    }
    Result<std::map<std::string, double>> stats = parse_unbound_stats(*text);
    if (!stats) {
      return std::unexpected(with_context(stats.error(), describe() + ": "));
    }
    return unbound_cache_counters(*stats);
  }

  std::string describe() const override { return fmt::format("unbound stats_noreset at {}", control_.text); }

 private:
  ServerAddress control_;
  Duration timeout_;
  Clock& clock_;
};

class CorednsSource final : public CacheStatsSource {
 public:
  CorednsSource(std::string url, Duration timeout) : url_(std::move(url)), timeout_(timeout) {}

  Result<CacheCounters> read() override {
    Result<http::Response> response = http::get(url_, timeout_);
    if (!response) {
      return std::unexpected(response.error());
    }
    if (response->status != 200) {
      return fail(ErrorKind::protocol, fmt::format("GET {}: HTTP {}", url_, response->status));
    }
    Result<CacheCounters> counters = coredns_cache_counters(response->body);
    if (!counters) {
      return std::unexpected(with_context(counters.error(), fmt::format("{}: ", url_)));
    }
    return counters;
  }

  std::string describe() const override { return fmt::format("CoreDNS {}", url_); }

 private:
  std::string url_;
  Duration timeout_;
};

}  // namespace

std::optional<double> CacheDelta::ratio() const {
  const double total = hits + misses;
  if (!(total > 0)) {
    return std::nullopt;
  }
  return hits / total;
}

Result<CacheDelta> difference(const CacheCounters& before, const CacheCounters& after) {
  if (after.hits < before.hits || after.misses < before.misses ||
      (after.queries && before.queries && *after.queries < *before.queries)) {
    return fail(ErrorKind::protocol,
                fmt::format("cache counters went down during the run (hits {} -> {}, misses {} -> {}): the "
                            "server restarted or its statistics were reset",
                            before.hits, after.hits, before.misses, after.misses));
  }
  CacheDelta delta;
  delta.hits = after.hits - before.hits;
  delta.misses = after.misses - before.misses;
  if (after.queries && before.queries) {
    delta.queries = *after.queries - *before.queries;
  }
  for (const auto& [type, count] : after.requests_by_type) {
    const auto was = before.requests_by_type.find(type);
    delta.requests_by_type[type] = count - (was == before.requests_by_type.end() ? 0.0 : was->second);
  }
  return delta;
}

Result<std::string> unbound_control(const ServerAddress& control, std::string_view command, Duration timeout,
                                    Clock& clock) {
  const std::string what = fmt::format("unbound remote control {} ({})", control.text, command);
  const TimePoint deadline = clock.now() + timeout;
  const int fd = ::socket(control.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(ErrorKind::network, fmt::format("{}: socket: {}", what, std::strerror(errno)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&control.address), control.length) != 0 &&
      errno != EINPROGRESS) {
    return fail(ErrorKind::network, fmt::format("{}: connect: {}", what, std::strerror(errno)));
  }
  if (Result<void> writable = ready(fd, POLLOUT, deadline, clock, what); !writable) {
    return std::unexpected(writable.error());
  }
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    return fail(ErrorKind::network, fmt::format("{}: connect: {}", what, std::strerror(error)));
  }
  // unbound-control's own framing (smallapp/unbound-control.c): "UBCT<version> <command>\n".
  const std::string request = fmt::format("UBCT1 {}\n", command);
  std::size_t written = 0;
  while (written < request.size()) {
    const ssize_t n = ::send(fd, request.data() + written, request.size() - written, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (Result<void> writable = ready(fd, POLLOUT, deadline, clock, what); !writable) {
        return std::unexpected(writable.error());
      }
      continue;
    }
    if (n <= 0) {
      return fail(ErrorKind::network, fmt::format("{}: send: {}", what, std::strerror(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  std::string reply;
  std::array<char, 16384> chunk{};
  while (true) {
    if (Result<void> readable = ready(fd, POLLIN, deadline, clock, what); !readable) {
      return std::unexpected(readable.error());
    }
    const ssize_t n = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n < 0) {
      return fail(ErrorKind::network, fmt::format("{}: receive: {}", what, std::strerror(errno)));
    }
    if (n == 0) {
      break;  // the server closes the connection after the reply
    }
    reply.append(chunk.data(), static_cast<std::size_t>(n));
    if (reply.size() > (16u << 20)) {
      return fail(ErrorKind::protocol, fmt::format("{}: reply larger than 16 MiB", what));
    }
  }
  if (reply.starts_with("error")) {
    std::string first_line = reply.substr(0, reply.find('\n'));
    return fail(ErrorKind::protocol, fmt::format("{}: {}", what, first_line));
  }
  return reply;
}

Result<std::map<std::string, double>> parse_unbound_stats(std::string_view text) {
  std::map<std::string, double> stats;
  std::size_t line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      continue;
    }
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return fail(ErrorKind::protocol,
                  fmt::format("line {}: expected key=value, got \"{}\"", line_number, line.substr(0, 120)));
    }
    std::string_view value = line.substr(equals + 1);
    double number = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc{} || ptr != value.data() + value.size()) {
      return fail(ErrorKind::protocol, fmt::format("line {}: bad number \"{}\" for {}", line_number, value,
                                                   line.substr(0, equals)));
    }
    stats[std::string(line.substr(0, equals))] = number;
  }
  return stats;
}

Result<CacheCounters> unbound_cache_counters(const std::map<std::string, double>& stats) {
  auto get = [&](const char* key) -> Result<double> {
    auto found = stats.find(key);
    if (found == stats.end()) {
      return fail(ErrorKind::protocol, fmt::format("unbound statistics have no {}", key));
    }
    return found->second;
  };
  Result<double> hits = get("total.num.cachehits");
  if (!hits) {
    return std::unexpected(hits.error());
  }
  Result<double> misses = get("total.num.cachemiss");
  if (!misses) {
    return std::unexpected(misses.error());
  }
  CacheCounters counters{
      .hits = *hits, .misses = *misses, .queries = {}, .present = true, .requests_by_type = {}};
  if (Result<double> queries = get("total.num.queries")) {
    counters.queries = *queries;
  }
  return counters;
}

Result<CacheCounters> coredns_cache_counters(std::string_view metrics_page) {
  Result<prom::Exposition> page = prom::parse_text(metrics_page);
  if (!page) {
    return std::unexpected(page.error());
  }
  // client_golang leaves a counter family off the page until it has a first sample, so a missing family is
  // zero; none of them (after traffic) means there is no cache plugin, which the phase reports.
  CacheCounters counters;
  counters.present = false;
  std::optional<double> requests;
  bool misses_given = false;
  for (auto [family, target] : {std::pair{"coredns_cache_hits_total", &counters.hits},
                                std::pair{"coredns_cache_misses_total", &counters.misses}}) {
    if (page->find(family) == nullptr) {
      continue;
    }
    Result<double> value = prom::scalar(*page, family);
    if (!value) {
      return std::unexpected(value.error());
    }
    *target = *value;
    counters.present = true;
    misses_given = misses_given || target == &counters.misses;
  }
  if (page->find("coredns_cache_requests_total") != nullptr) {
    Result<double> value = prom::scalar(*page, "coredns_cache_requests_total");
    if (!value) {
      return std::unexpected(value.error());
    }
    requests = *value;
    counters.present = true;
  }
  if (!misses_given && requests) {
    counters.misses = std::max(0.0, *requests - counters.hits);
  }
  if (const prom::Family* family = page->find("coredns_dns_requests_total")) {
    for (const prom::Sample& sample : family->samples) {
      counters.requests_by_type[std::string(sample.label("type").value_or("other"))] += sample.value;
    }
  }
  return counters;
}

std::unique_ptr<CacheStatsSource> unbound_stats_source(ServerAddress control, Duration timeout,
                                                       Clock& clock) {
  return std::make_unique<UnboundSource>(std::move(control), timeout, clock);
}

std::unique_ptr<CacheStatsSource> coredns_stats_source(std::string metrics_url, Duration timeout) {
  return std::make_unique<CorednsSource>(std::move(metrics_url), timeout);
}

}  // namespace kp::drivers::dns
