#include "drivers/ingress/http_command.hpp"

#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/cpu_budget.hpp"
#include "core/flag_values.hpp"
#include "drivers/ingress/measurements.hpp"
#include "load/criteria_view.hpp"
#include "load/rate_setting.hpp"

namespace kp::drivers::ingress {
namespace {

// wrk's units: 412.00us, 1.21ms, 2.00s.
std::string latency_text(double ns) {
  if (ns < 1e3) {
    return fmt::format("{:.0f}ns", ns);
  }
  if (ns < 1e6) {
    return fmt::format("{:.2f}us", ns / 1e3);
  }
  if (ns < 1e9) {
    return fmt::format("{:.2f}ms", ns / 1e6);
  }
  return fmt::format("{:.2f}s", ns / 1e9);
}

std::string bytes_text(double bytes) {
  if (bytes < 1024) {
    return fmt::format("{:.0f}B", bytes);
  }
  if (bytes < 1024.0 * 1024) {
    return fmt::format("{:.2f}KB", bytes / 1024);
  }
  if (bytes < 1024.0 * 1024 * 1024) {
    return fmt::format("{:.2f}MB", bytes / (1024.0 * 1024));
  }
  return fmt::format("{:.2f}GB", bytes / (1024.0 * 1024 * 1024));
}

std::unexpected<Error> usage(std::string_view flag, std::string_view message, std::string_view value) {
  return fail(ErrorKind::usage, fmt::format("{}: {}, got \"{}\"", flag, message, value));
}

void distribution(std::string& out, std::string_view title, const Histogram& histogram,
                  const std::vector<double>& percentiles) {
  out += fmt::format("  {}\n", title);
  for (double percentile : percentiles) {
    out += fmt::format("  {:>8.3f}%  {}\n", percentile,
                       latency_text(static_cast<double>(histogram.value_at_percentile(percentile))));
  }
}

Result<std::pair<LoadSpec, LoadResult>> run(const HttpOptions& options, Clock& clock,
                                            engine::CancellationToken& cancel) {
  Result<LoadSpec> spec = to_load_spec(options);
  if (!spec) {
    return std::unexpected(spec.error());
  }
  Result<LoadResult> result = run_load(*spec, clock, cancel);
  if (!result) {
    return std::unexpected(result.error());
  }
  return std::pair<LoadSpec, LoadResult>(std::move(*spec), std::move(*result));
}

}  // namespace

load::Validity validity_of(const LoadSpec& spec, const LoadResult& result) {
  // No plan here: the shipped criteria (load::CriteriaView) say what is judged and the latency target.
  const load::CriteriaView criteria({});
  return spec.connection_per_request ? judge_run(result, "connections", "ingress.connection_rate", criteria)
                                     : judge_run(result, "requests", "ingress.rps", criteria);
}

void add_http_options(CLI::App& app, HttpOptions& options) {
  app.add_option("url", options.url, "Target URL, http:// or https://")->required();
  app.add_option("-t,--threads", options.threads,
                 "Event-loop threads (default 2, or 1 when the container's CPU quota is 1 CPU or less)");
  app.add_option("-c,--connections", options.connections,
                 "Connections in total, spread over the threads (default 10)");
  app.add_option("-d,--duration", options.duration,
                 "How long to send, e.g. 10s, 2m (default 10s; 0 with -n: count only)");
  app.add_option("-n,--requests", options.requests, "Stop after this many requests");
  app.add_option(
      "-R,--rate", options.rate,
      "Open loop at this many requests/s in total (latency from intended send times); \"max\" or none: "
      "closed loop");
  app.add_option("--arrival", options.arrival, "Open-loop arrivals: constant or poisson (default constant)");
  app.add_option("-m,--method", options.method, "HTTP method (default GET)");
  app.add_option("-H,--header", options.headers, "Request header \"Name: value\" (repeatable)");
  app.add_option("--body", options.body, "Request body");
  app.add_option("--host", options.host, "Host header (virtual host routing), default from the URL");
  app.add_option("--path", options.paths, "Paths to cycle through instead of the URL's (repeatable)");
  app.add_flag("-k,--insecure", options.insecure, "Do not verify the server's TLS certificate or name");
  app.add_option("--cacert", options.cacert, "PEM file of CAs to trust instead of the system store");
  app.add_option("--server-name", options.server_name,
                 "TLS SNI and the name verified (default: the URL's host)");
  app.add_option("--timeout", options.timeout, "Per-request (and per-connect) timeout (default 5s)");
  app.add_flag("--connection-per-request", options.connection_per_request,
               "Open a new connection (and TLS handshake) for every request; reports connections/s");
  app.add_option("--io", options.io,
                 "I/O backend: auto (io_uring where available, else epoll), epoll or uring (default auto)");
  app.add_flag("--latency", options.latency, "Print the latency distribution");
  app.add_option("--percentiles", options.percentiles,
                 "Percentiles for --latency (default 50,75,90,99,99.9,99.99)")
      ->delimiter(',');
}

Result<LoadSpec> to_load_spec(const HttpOptions& options) {
  LoadSpec spec;
  Result<Url> url = parse_url(options.url);
  if (!url) {
    return fail(ErrorKind::usage, "URL: " + url.error().message);
  }
  spec.url = std::move(*url);
  if (options.threads < 0 || options.threads > 1024) {
    return usage("--threads", "must be 1..1024", std::to_string(options.threads));
  }
  if (options.connections < 1 || options.connections > 1'000'000) {
    return usage("--connections", "must be 1..1000000", std::to_string(options.connections));
  }
  spec.threads = options.threads > 0 ? options.threads : std::min(2, usable_cpus());
  spec.connections = options.connections;
  Result<Duration> duration = parse_duration(options.duration);
  if (!duration) {
    return usage("--duration", "not a duration", options.duration);
  }
  spec.duration = *duration;
  spec.requests = options.requests;
  if (spec.requests && *spec.requests == 0) {
    return usage("--requests", "must be >= 1", "0");
  }
  if (spec.duration <= Duration::zero() && !spec.requests) {
    return usage("--duration", "must be > 0 unless --requests is given", options.duration);
  }
  if (!options.rate.empty()) {
    // The one flag reader of the load kernel: a rate, or "max" (closed loop, as without --rate).
    Result<load::RateSetting> rate = load::agent_rate_setting("rate", options.rate);
    if (!rate) {
      return std::unexpected(rate.error());
    }
    if (rate->is_fixed()) {
      spec.rate = rate->rate;
    }
  }
  Result<Arrival> arrival = flag_arrival("arrival", options.arrival);
  if (!arrival) {
    return std::unexpected(arrival.error());
  }
  spec.arrival = *arrival;
  if (options.method.empty() || options.method.find_first_of(" \t\r\n") != std::string::npos) {
    return usage("--method", "must be one token", options.method);
  }
  spec.request.method = options.method;
  spec.request.host = options.host;
  for (const std::string& header : options.headers) {
    std::size_t colon = header.find(':');
    if (colon == std::string::npos || colon == 0 || header.find_first_of("\r\n") != std::string::npos) {
      return usage("--header", "must be \"Name: value\"", header);
    }
    std::string name = header.substr(0, colon);
    std::string value = header.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    std::string lower = name;
    for (char& c : lower) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (lower == "host") {
      if (spec.request.host.empty()) {
        spec.request.host = value;  // -H "Host: x" works like --host, as in curl and wrk
      }
      continue;
    }
    spec.request.headers.emplace_back(std::move(name), std::move(value));
  }
  spec.request.body = options.body;
  for (const std::string& path : options.paths) {
    if (path.empty() || path.front() != '/' || path.find_first_of(" \t\r\n") != std::string::npos) {
      return usage("--path", "must start with / and have no whitespace", path);
    }
  }
  spec.request.paths = options.paths;
  spec.tls.insecure = options.insecure;
  spec.tls.ca_file = options.cacert;
  spec.tls.server_name = options.server_name;
  Result<Duration> timeout = parse_duration(options.timeout);
  if (!timeout || *timeout <= Duration::zero()) {
    return usage("--timeout", "not a duration > 0", options.timeout);
  }
  spec.timeout = *timeout;
  spec.connection_per_request = options.connection_per_request;
  Result<IoBackend> io = parse_io_backend("--io", options.io);
  if (!io) {
    return std::unexpected(io.error());
  }
  spec.io = *io;
  for (double percentile : options.percentiles) {
    if (!(percentile >= 0 && percentile <= 100)) {
      return usage("--percentiles", "each must be within 0..100", fmt::format("{}", percentile));
    }
  }
  return spec;
}

std::string format_summary(const LoadSpec& spec, const LoadResult& result,
                           const std::vector<double>& percentiles, bool show_distribution) {
  std::string out;
  std::string bound = spec.duration > Duration::zero() ? format_duration(spec.duration) : std::string();
  if (spec.requests) {
    bound += fmt::format("{}{} requests", bound.empty() ? "" : ", at most ", *spec.requests);
  }
  std::string mode =
      spec.rate ? fmt::format("open loop at {:g} req/s", spec.rate->per_second) : "closed loop";
  if (spec.connection_per_request) {
    mode += ", a new connection per request";
  }
  out += fmt::format("Running {} test @ {} ({})\n", bound, spec.url.to_string(), mode);
  out += fmt::format("  {} threads and {} connections, I/O on {}\n", spec.threads, spec.connections,
                     result.io_backend.empty() ? "-" : result.io_backend);
  if (!result.io_note.empty()) {
    out += fmt::format("  {}\n", result.io_note);
  }
  const Histogram& latency = result.latency;
  if (latency.count() > 0) {
    out += fmt::format("  Latency{}   avg {}  stdev {}  max {}\n", result.open_loop ? " (corrected)" : "",
                       latency_text(latency.mean()), latency_text(latency.stddev()),
                       latency_text(static_cast<double>(latency.max())));
    if (result.open_loop) {
      out += fmt::format("  Service time          avg {}  stdev {}  max {}\n",
                         latency_text(result.uncorrected.mean()), latency_text(result.uncorrected.stddev()),
                         latency_text(static_cast<double>(result.uncorrected.max())));
    }
    if (show_distribution) {
      distribution(out,
                   result.open_loop
                       ? "Latency Distribution (from intended send times: coordinated omission corrected)"
                       : "Latency Distribution",
                   latency, percentiles);
      if (result.open_loop) {
        distribution(out, "Service Time Distribution (uncorrected, from the actual send)", result.uncorrected,
                     percentiles);
      }
    }
  }
  if (result.connect_time.count() > 0 && (spec.connection_per_request || show_distribution)) {
    out +=
        fmt::format("  Connect      p50 {}  p99 {}  max {}  ({} connections)\n",
                    latency_text(static_cast<double>(result.connect_time.value_at_percentile(50))),
                    latency_text(static_cast<double>(result.connect_time.value_at_percentile(99))),
                    latency_text(static_cast<double>(result.connect_time.max())), result.connections_opened);
  }
  if (result.handshake_time.count() > 0 && (spec.connection_per_request || show_distribution)) {
    out +=
        fmt::format("  TLS handshake p50 {}  p99 {}  max {}\n",
                    latency_text(static_cast<double>(result.handshake_time.value_at_percentile(50))),
                    latency_text(static_cast<double>(
                        result.handshake_time.max() > 0 ? result.handshake_time.value_at_percentile(99) : 0)),
                    latency_text(static_cast<double>(result.handshake_time.max())));
  }
  double seconds = std::chrono::duration<double>(result.elapsed).count();
  out += fmt::format("  {} requests in {:.2f}s, {} read\n", result.responses, seconds,
                     bytes_text(static_cast<double>(result.bytes_read)));
  std::uint64_t non_2xx_3xx = result.status_classes[1] + result.status_classes[4] + result.status_classes[5];
  if (non_2xx_3xx > 0) {
    out += fmt::format("  Non-2xx or 3xx responses: {} (4xx {}, 5xx {})\n", non_2xx_3xx,
                       result.status_classes[4], result.status_classes[5]);
  }
  if (result.failures() > 0) {
    out += fmt::format("  Socket errors: connect {}, read {}, write {}, timeout {}; TLS {}; malformed {}\n",
                       result.connect_errors, result.read_errors, result.write_errors, result.timeouts,
                       result.tls_errors, result.parse_errors);
    for (const std::string& sample : result.error_samples) {
      out += fmt::format("    {}\n", sample);
    }
  }
  if (result.open_loop) {
    out += fmt::format(
        "  Schedule: {} intended, {} sent before the end, {} late by > {} (worst {}), {} never sent; {} "
        "queued for a connection (the server's latency)\n",
        result.issued, result.sent_in_window, result.pacer.late_sends, format_duration(spec.late_tolerance),
        format_duration(result.pacer.max_lag), result.unsent, result.queued);
  }
  out += fmt::format("Requests/sec: {:10.2f}\n", result.rps());
  if (spec.connection_per_request) {
    out += fmt::format("Connections/sec: {:7.2f}\n", result.connection_rate());
  }
  out += fmt::format("Transfer/sec: {:>10}\n",
                     bytes_text(seconds > 0 ? static_cast<double>(result.bytes_read) / seconds : 0));
  const load::Validity validity = validity_of(spec, result);
  out += fmt::format("Generator: {}\n", validity.statement);
  for (const std::string& reason : validity.invalid_reasons) {
    out += fmt::format("INVALID: {}\n", reason);
  }
  return out;
}

std::string agent_json_line(const LoadSpec& spec, const LoadResult& result) {
  const load::Validity validity = validity_of(spec, result);
  std::vector<Measurement> measurements =
      spec.connection_per_request ? connection_measurements(result) : request_measurements(result);
  nlohmann::json items = nlohmann::json::array();
  for (const Measurement& m : measurements) {
    nlohmann::json item{{"metric", m.metric}, {"value", m.value}, {"source", m.source}, {"note", m.note}};
    if (m.histogram) {
      item["histogram"] = m.histogram->to_json();
    }
    items.push_back(std::move(item));
  }
  nlohmann::json counts{{"requests_sent", result.requests_sent},
                        {"responses", result.responses},
                        {"status_1xx", result.status_classes[1]},
                        {"status_2xx", result.status_classes[2]},
                        {"status_3xx", result.status_classes[3]},
                        {"status_4xx", result.status_classes[4]},
                        {"status_5xx", result.status_classes[5]},
                        {"connect_errors", result.connect_errors},
                        {"tls_errors", result.tls_errors},
                        {"read_errors", result.read_errors},
                        {"write_errors", result.write_errors},
                        {"parse_errors", result.parse_errors},
                        {"timeouts", result.timeouts},
                        {"unsent", result.unsent},
                        {"dispatched", result.dispatched},
                        {"queued_for_connection", result.queued},
                        {"unsent_for_server", result.unsent_for_server},
                        {"issued", result.issued},
                        {"sent_in_window", result.sent_in_window},
                        {"late_sends", result.pacer.late_sends},
                        {"connections_opened", result.connections_opened},
                        {"bytes_read", result.bytes_read},
                        {"elapsed_s", std::chrono::duration<double>(result.elapsed).count()},
                        {"window_s", std::chrono::duration<double>(result.window).count()},
                        {"intended_rate", result.intended_rate},
                        {"open_loop", result.open_loop},
                        {"server_closes", result.server_closes},
                        {"unsent_own", result.unsent_own},
                        {"pacer_sends", result.pacer.sends},
                        {"pacer_max_lag_s", std::chrono::duration<double>(result.pacer.max_lag).count()}};
  nlohmann::json histograms{
      {"latency", result.latency.to_json()},           {"uncorrected", result.uncorrected.to_json()},
      {"connect", result.connect_time.to_json()},      {"handshake", result.handshake_time.to_json()},
      {"own_lateness", result.own_lateness.to_json()}, {"pacer_lag", result.pacer.lag.to_json()}};
  nlohmann::json line{{"kind", "kubeproof.agent.http"},
                      {"version", 1},
                      {"url", spec.url.to_string()},
                      {"threads", spec.threads},
                      {"measurements", std::move(items)},
                      {"invalid_reasons", validity.invalid_reasons},
                      {"generator", validity.statement},
                      {"counts", std::move(counts)},
                      {"histograms", std::move(histograms)},
                      {"errors", result.error_samples},
                      {"io", result.io_backend},
                      {"io_note", result.io_note}};
  return line.dump();
}

Result<int> run_http_command(const HttpOptions& options, Clock& clock, engine::CancellationToken& cancel,
                             std::ostream& out) {
  if (options.insecure && options.url.starts_with("https://")) {
    // Explicit (-k), and never silent. Only here: an agent's output is its one JSON line.
    std::fputs(
        "WARNING: --insecure: the server's TLS certificate and name are NOT verified, so anyone on the "
        "network path can read and change this traffic\n",
        stderr);
  }
  Result<std::pair<LoadSpec, LoadResult>> ran = run(options, clock, cancel);
  if (!ran) {
    return std::unexpected(ran.error());
  }
  const auto& [spec, result] = *ran;
  out << format_summary(spec, result, options.percentiles, options.latency) << std::flush;
  bool invalid = !validity_of(spec, result).valid();
  return cancel.requested() || invalid ? 4 : 0;
}

Result<int> run_http_agent(const HttpOptions& options, Clock& clock, engine::CancellationToken& cancel,
                           std::ostream& out) {
  Result<std::pair<LoadSpec, LoadResult>> ran = run(options, clock, cancel);
  if (!ran) {
    return std::unexpected(ran.error());
  }
  const auto& [spec, result] = *ran;
  out << agent_json_line(spec, result) << '\n' << std::flush;
  bool invalid = !validity_of(spec, result).valid();
  return cancel.requested() || invalid ? 4 : 0;
}

}  // namespace kp::drivers::ingress
