#include "drivers/net/lab_runner.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/live_lines.hpp"
#include "drivers/net/agent.hpp"

namespace kp::drivers::net {
namespace {

// Beyond warm-up + duration: connecting, the drain and the report take well under this.
constexpr Duration kClientSlack = std::chrono::seconds(30);

std::string ns_text(Duration duration) {
  return fmt::format("{}ns", duration.count());
}

}  // namespace

AgentCommand AgentCommand::self() {
  std::error_code error;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return AgentCommand{error ? std::filesystem::path("/proc/self/exe") : exe};
}

Result<LabServer> start_lab_server(const AgentCommand& agent, const std::string& netns,
                                   const std::string& listen, Duration hold, std::optional<int> cpu,
                                   Clock& clock, Duration ready_timeout, bool realtime) {
  AgentSpawn spawn{agent.binary, agent.server_args, netns, cpu, realtime};
  spawn.args.insert(spawn.args.end(), {"--listen", listen, "--hold", ns_text(hold)});
  Result<AgentProcess> process = AgentProcess::start(spawn);
  if (!process) {
    return std::unexpected(process.error());
  }
  Result<std::string> line = process->read_line(clock, clock.now() + ready_timeout);
  if (!line) {
    return fail(ErrorKind::unavailable, fmt::format("net-server in {}: {}", netns, line.error().message));
  }
  nlohmann::json parsed = nlohmann::json::parse(*line, nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) {
    // The agent's failure line (it could not listen, or a flag was refused).
    return fail(ErrorKind::unavailable,
                fmt::format("net-server in {}: {}", netns, parsed["error"].get<std::string>()));
  }
  if (parsed.is_discarded() || !parsed.is_object() || parsed.value("kind", "") != kServerLineKind ||
      !parsed.contains("listening") || !parsed["listening"].is_string()) {
    return fail(ErrorKind::protocol,
                fmt::format("net-server in {}: unexpected first line \"{}\"", netns, *line));
  }
  return LabServer{std::move(*process), parsed["listening"].get<std::string>()};
}

std::vector<std::string> client_flags(const TestSpec& spec, const std::string& server,
                                      Duration connect_timeout) {
  std::vector<std::string> flags = {"--server",
                                    server,
                                    "--scenario",
                                    std::string(to_string(spec.scenario)),
                                    "--streams",
                                    std::to_string(spec.streams),
                                    "--duration",
                                    ns_text(spec.duration),
                                    "--warmup",
                                    ns_text(spec.warmup),
                                    "--message-size",
                                    std::to_string(spec.message_size),
                                    "--request-size",
                                    std::to_string(spec.request_size),
                                    "--response-size",
                                    std::to_string(spec.response_size),
                                    "--rate",
                                    spec.rate ? fmt::format("{}", spec.rate->per_second) : "max",
                                    "--arrival",
                                    spec.arrival == Arrival::poisson ? "poisson" : "constant",
                                    "--response-timeout",
                                    ns_text(spec.response_timeout),
                                    "--connect-timeout",
                                    ns_text(connect_timeout)};
  if (spec.total) {
    flags.insert(flags.end(), {"--total", std::to_string(*spec.total)});
  }
  if (spec.bandwidth) {
    flags.insert(flags.end(), {"--bandwidth", fmt::format("{}", spec.bandwidth->bits_per_second)});
  }
  return flags;
}

Result<ClientResult> run_lab_client(const AgentCommand& agent, const std::string& netns,
                                    const std::string& server, const TestSpec& spec, Duration connect_timeout,
                                    std::optional<int> cpu, Clock& clock, engine::CancellationToken& cancel,
                                    LiveSink* live, const std::string& series) {
  AgentSpawn spawn{agent.binary, agent.client_args, netns, cpu, false};
  std::vector<std::string> flags = client_flags(spec, server, connect_timeout);
  spawn.args.insert(spawn.args.end(), flags.begin(), flags.end());
  if (live != nullptr) {
    spawn.args.emplace_back("--live-lines");
  }
  Result<AgentProcess> process = AgentProcess::start(spawn);
  if (!process) {
    return std::unexpected(process.error());
  }
  if (live != nullptr) {
    process->filter_stderr([live, &series](std::string_view line) {
      if (!line.starts_with(kLiveLinePrefix)) {
        return true;
      }
      if (std::optional<LiveDelta> delta = parse_live_line(line)) {
        delta->phase = Phase::network;
        delta->series = series;
        // The client's result line carries the exact per-second series (phase_flow.cpp hands it over).
        delta->finished_later = true;
        live->add(*delta);
      }
      return false;
    });
  }
  const TimePoint deadline = clock.now() + connect_timeout + spec.warmup + spec.duration + kClientSlack;
  const AgentExit exit = process->wait(clock, deadline, &cancel);
  // The result is the last line on stdout; anything before it would be a bug, but is not fatal.
  std::string line = exit.out;
  while (!line.empty() && line.back() == '\n') {
    line.pop_back();
  }
  if (const std::size_t newline = line.rfind('\n'); newline != std::string::npos) {
    line = line.substr(newline + 1);
  }
  if (line.empty()) {
    // kubeproof's main prints an error as one line, "kubeproof: <message>".
    std::string reason = exit.last_error_line();
    const std::string prefix = "kubeproof: ";
    if (reason.starts_with(prefix)) {
      reason = reason.substr(prefix.size());
    }
    if (reason.empty()) {
      reason = fmt::format("net-client printed no result ({})", exit.describe());
    }
    return fail(exit.exit_code == 2 ? ErrorKind::usage : ErrorKind::network, reason);
  }
  // An agent that failed before it measured prints a line with only its error (cli/agent_command.cpp).
  if (nlohmann::json early = nlohmann::json::parse(line, nullptr, false);
      early.is_object() && !early.contains("test") && early.contains("error") && early["error"].is_string()) {
    return fail(exit.exit_code == 2 ? ErrorKind::usage : ErrorKind::network,
                early["error"].get<std::string>());
  }
  Result<ClientResult> result = result_from_json_line(line);
  if (!result) {
    return std::unexpected(result.error());
  }
  return result;
}

}  // namespace kp::drivers::net
