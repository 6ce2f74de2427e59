#include "drivers/net/agent.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "core/flag_values.hpp"
#include "core/live_lines.hpp"
#include "drivers/net/socket.hpp"
#include "load/rate_setting.hpp"

namespace kp::drivers::net {
namespace {

Result<std::uint64_t> flag_size(std::string_view flag, const std::string& text) {
  Result<ByteSize> value = parse_byte_size(text);
  if (!value) {
    return flag_error(flag, "not a size", text);
  }
  return value->bytes;
}

}  // namespace

void attach_server_options(CLI::App& app, ServerAgentOptions& options) {
  app.add_option("--listen", options.listen, "address:port for control, data and datagrams (TCP and UDP)")
      ->capture_default_str();
  app.add_option("--hold", options.hold,
                 "test option: hold each RR/CRR response this long (e.g. 5ms) to add a known delay")
      ->capture_default_str();
  app.add_flag("--once", options.once, "serve one test, then exit");
}

void attach_client_options(CLI::App& app, ClientAgentOptions& options) {
  app.add_option("--server", options.server, "the server's host:port (pod IP, Service address or name)")
      ->required();
  app.add_option("--scenario", options.scenario, "TCP_STREAM, UDP_STREAM, TCP_RR, UDP_RR or TCP_CRR")
      ->capture_default_str();
  app.add_option("--streams", options.streams, "parallel streams (connections, sockets)")
      ->capture_default_str();
  app.add_option("--duration", options.duration, "measured window")->capture_default_str();
  app.add_option("--warmup", options.warmup, "traffic before the window, excluded from every figure")
      ->capture_default_str();
  app.add_option("--total", options.total, "end the window after this many messages or transactions");
  app.add_option("--message-size", options.message_size,
                 "STREAM: bytes per write or datagram (default 128KiB TCP, 1400 UDP)");
  app.add_option("--request-size", options.request_size, "RR/CRR request bytes")->capture_default_str();
  app.add_option("--response-size", options.response_size, "RR/CRR response bytes")->capture_default_str();
  app.add_option("--rate", options.rate, "RR/CRR transactions/s over all streams (open loop), or max")
      ->capture_default_str();
  app.add_option("--arrival", options.arrival, "open-loop arrivals: constant or poisson")
      ->capture_default_str();
  app.add_option("--bandwidth", options.bandwidth,
                 "UDP_STREAM offered load, e.g. 500Mbps (default: unpaced)");
  app.add_option("--response-timeout", options.response_timeout,
                 "RR/CRR: a TCP response later than this ends the test; a UDP one counts as a timeout")
      ->capture_default_str();
  app.add_option("--connect-timeout", options.connect_timeout, "bound on reaching the server")
      ->capture_default_str();
  app.add_flag("--live-lines", options.live_lines,
               "print the window's live counts once a second per stream as `kp-live {json}` lines on stderr");
}

Result<ServerOptions> to_server_options(const ServerAgentOptions& options) {
  ServerOptions server;
  server.listen = options.listen;
  Result<Duration> hold = flag_duration("hold", options.hold);
  if (!hold) {
    return std::unexpected(hold.error());
  }
  if (*hold > std::chrono::seconds(10)) {
    return flag_error("hold", "must be at most 10s", options.hold);
  }
  server.hold = *hold;
  server.once = options.once;
  return server;
}

Result<ClientOptions> to_client_options(const ClientAgentOptions& options) {
  ClientOptions client;
  client.server = options.server;
  TestSpec& spec = client.spec;
  std::optional<Scenario> scenario = parse_scenario(options.scenario);
  if (!scenario) {
    return flag_error("scenario", fmt::format("must be one of {}", kScenarioNames), options.scenario);
  }
  spec.scenario = *scenario;
  spec.streams = options.streams;
  spec.total = options.total;
  struct DurationFlag {
    std::string_view flag;
    const std::string& text;
    Duration& target;
  };
  for (DurationFlag f : {DurationFlag{"duration", options.duration, spec.duration},
                         DurationFlag{"warmup", options.warmup, spec.warmup},
                         DurationFlag{"response-timeout", options.response_timeout, spec.response_timeout},
                         DurationFlag{"connect-timeout", options.connect_timeout, client.connect_timeout}}) {
    Result<Duration> value = flag_duration(f.flag, f.text);
    if (!value) {
      return std::unexpected(value.error());
    }
    f.target = *value;
  }
  if (client.connect_timeout <= Duration::zero()) {
    return flag_error("connect-timeout", "must be > 0", options.connect_timeout);
  }
  const std::string message_size =
      !options.message_size.empty() ? options.message_size : (is_udp(spec.scenario) ? "1400" : "128KiB");
  struct SizeFlag {
    std::string_view flag;
    const std::string& text;
    std::uint64_t& target;
  };
  for (SizeFlag f : {SizeFlag{"message-size", message_size, spec.message_size},
                     SizeFlag{"request-size", options.request_size, spec.request_size},
                     SizeFlag{"response-size", options.response_size, spec.response_size}}) {
    Result<std::uint64_t> value = flag_size(f.flag, f.text);
    if (!value) {
      return std::unexpected(value.error());
    }
    f.target = *value;
  }
  // The same reader as a plan's `rate:` (load/rate_setting.hpp).
  Result<load::RateSetting> rate = load::agent_rate_setting("rate", options.rate);
  if (!rate) {
    return std::unexpected(rate.error());
  }
  if (rate->is_fixed()) {
    spec.rate = rate->rate;
  }
  Result<Arrival> arrival = flag_arrival("arrival", options.arrival);
  if (!arrival) {
    return std::unexpected(arrival.error());
  }
  spec.arrival = *arrival;
  if (!options.bandwidth.empty()) {
    Result<Bandwidth> bandwidth = parse_bandwidth(options.bandwidth);
    if (!bandwidth) {
      return flag_error("bandwidth", "not a bandwidth", options.bandwidth);
    }
    spec.bandwidth = *bandwidth;
  }
  if (Result<void> valid = validate(spec, FieldStyle::flag); !valid) {
    return std::unexpected(valid.error());
  }
  if (client.server.empty()) {
    return fail(ErrorKind::usage, "--server: required (host:port of a net-server)");
  }
  if (Result<std::pair<std::string, std::uint16_t>> parts = split_host_port(client.server); !parts) {
    return std::unexpected(with_context(parts.error(), "--server: "));
  }
  return client;
}

std::string server_listening_line(const Server& server, Duration hold) {
  return nlohmann::json{{"kind", kServerLineKind},
                        {"version", 1},
                        {"listening", server.address()},
                        {"hold_s", std::chrono::duration<double>(hold).count()},
                        {"udp_receive_buffer", server.udp_receive_buffer().granted},
                        {"socket_buffer_note", server.udp_receive_buffer().note}}
      .dump();
}

Result<void> run_server_agent(const ServerAgentOptions& options, Clock& clock,
                              engine::CancellationToken& cancel,
                              const std::function<void(std::string_view)>& print_line, const LogFn& log) {
  Result<ServerOptions> server_options = to_server_options(options);
  if (!server_options) {
    return std::unexpected(server_options.error());
  }
  Result<std::unique_ptr<Server>> server = Server::open(*server_options, clock);
  if (!server) {
    return std::unexpected(server.error());
  }
  print_line(server_listening_line(**server, server_options->hold));
  return (*server)->serve(cancel, log);
}

Result<ClientResult> run_client_agent(const ClientAgentOptions& options, Clock& clock,
                                      engine::CancellationToken& cancel,
                                      const std::function<void(std::string_view)>& progress) {
  Result<ClientOptions> client = to_client_options(options);
  if (!client) {
    return std::unexpected(client.error());
  }
  const bool stream = is_stream(client->spec.scenario);
  auto on_second = [&](const ProgressSample& sample) {
    if (progress) {
      progress(stream ? fmt::format("net-client: {}s {}", sample.second,
                                    format_quantity(Quantity::bandwidth, sample.bits_per_second))
                      : fmt::format("net-client: {}s {:.0f} transactions/s", sample.second,
                                    sample.transactions_per_second));
    }
  };
  std::optional<LineLiveSink> live;
  if (options.live_lines && progress) {
    live.emplace(progress);
    client->live = &*live;
  }
  return run_client(*client, clock, cancel, on_second);
}

}  // namespace kp::drivers::net
