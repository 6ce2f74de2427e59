#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

#include "cli/command.hpp"
#include "cli/interrupt.hpp"
#include "core/clock.hpp"
#include "core/cpu_budget.hpp"
#include "drivers/dns/agent.hpp"
#include "drivers/etcd/agent.hpp"
#include "drivers/ingress/http_command.hpp"
#include "drivers/net/agent.hpp"
#include "drivers/net/result.hpp"
#include "drivers/storage/agent.hpp"
#include "load/start_time.hpp"
#include "load/validity.hpp"

// Every agent prints exactly one JSON result line on stdout, also when it fails before it ran (a bad flag, a
// setup failure): the pod runner reads that line from the pod's log by its "kind", and a pod that printed
// none would leave it with only a stderr text to guess from. A failure line is {"kind": ..., "version": 1,
// "error": "<the message>", "error_kind": "usage"|..., "cpu_budget": {...}}; the exit code stays 2 for usage
// or input, 4 otherwise (main). Every line carries "cpu_budget": the container's CPU quota, the threads it
// leaves, and the throttling during the run, which makes the run invalid above load::kMaxThrottledShare, and
// "clock": what the agent's clock saw (load::AgentClock: the --start-at asked for, the process's start, the
// measurement's start after the wait, the line's time), which the pod runner checks against its own clock and
// the pod's status times (cluster/agent_clock.hpp).

namespace kp::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kEtcdKind = "kubeproof.agent.etcd";
constexpr std::string_view kDnsKind = "kubeproof.agent.dns";
constexpr std::string_view kStorageKind = "kubeproof.agent.storage";
constexpr std::string_view kHttpKind = "kubeproof.agent.http";

// Agents print one JSON result line on stdout (what the in-cluster runner reads from a pod's log); progress
// goes to stderr.
void progress_to_stderr(std::string_view text) {
  fmt::print(stderr, "{}\n", text);
}

void print_line(const json& line) {
  // Query names and URLs come from users and may not be UTF-8: replace such bytes rather than throw.
  fmt::print("{}\n", line.dump(-1, ' ', false, json::error_handler_t::replace));
  std::fflush(stdout);
}

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::usage:
      return "usage";
    case ErrorKind::input:
      return "input";
    case ErrorKind::io:
      return "io";
    case ErrorKind::unavailable:
      return "unavailable";
    case ErrorKind::network:
      return "network";
    case ErrorKind::protocol:
      return "protocol";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::cancelled:
      return "cancelled";
    case ErrorKind::internal:
      return "internal";
  }
  return "internal";
}

// The CPU an agent had: its budget from the cgroup, read at the start, and cpu.stat before and after; and
// what its clock saw (the start time it waited for).
class CpuWatch {
 public:
  CpuWatch() : budget_(read_cpu_budget()), before_(read_cpu_stat(budget_)) {
    clock_.process_ms = load::epoch_ms(real_clock().wall_now());
    clock_.started_ms = clock_.process_ms;
    clock_.kernel_start_ms = load::process_start_epoch_ms();
  }

  // --start-at: waits until then (bounded, load/start_time.hpp). Errors: a bad or too distant value
  // (ErrorKind::usage), a start that passed too long ago (timeout), cancellation.
  Result<void> wait_for_start(const std::string& start_at, engine::CancellationToken& cancel) {
    if (start_at.empty()) {
      return {};
    }
    Clock& clock = real_clock();
    Result<WallTime> at = load::parse_start_at("start-at", start_at, clock.wall_now());
    if (!at) {
      return std::unexpected(at.error());
    }
    clock_.start_at_ms = load::epoch_ms(*at);
    Result<TimePoint> deadline = load::start_deadline(*at, clock);
    if (!deadline) {
      return std::unexpected(deadline.error());
    }
    if (cancel.wait_until(clock, *deadline)) {
      return fail(ErrorKind::cancelled,
                  fmt::format("cancelled while waiting for --start-at {}", load::format_wall_ms(*at)));
    }
    clock_.started_ms = load::epoch_ms(clock.wall_now());
    return {};
  }

  // "cpu_budget": {hardware_threads, quota_cpus (null: none), usable_cpus, threads, cgroup, throttling
  // {periods, throttled, throttled_s, share} (null: no quota accounting)}. `threads`: what the agent ran, 0 =
  // unknown. When the throttling is above the limit, its reason joins the line's "invalid_reasons": true
  // then.
  bool annotate(json& line, int threads) const {
    json cpu{{"hardware_threads", budget_.hardware_threads},
             {"quota_cpus", budget_.quota_cpus ? json(*budget_.quota_cpus) : json(nullptr)},
             {"usable_cpus", budget_.usable_cpus()},
             {"cgroup", budget_.cgroup},
             {"throttling", nullptr}};
    if (threads > 0) {
      cpu["threads"] = threads;
    }
    bool invalid = false;
    std::optional<CpuStat> after = before_ ? read_cpu_stat(budget_) : std::nullopt;
    if (before_ && after) {
      const CpuThrottling t = throttling_between(*before_, *after);
      cpu["throttling"] = json{{"periods", t.periods},
                               {"throttled", t.throttled},
                               {"throttled_s", std::chrono::duration<double>(t.throttled_time).count()},
                               {"share", t.share()}};
      if (std::optional<std::string> reason = load::throttling_reason(t)) {
        if (!line.contains("invalid_reasons") || !line["invalid_reasons"].is_array()) {
          line["invalid_reasons"] = json::array();
        }
        line["invalid_reasons"].push_back(*reason);
        invalid = true;
      }
    }
    line["cpu_budget"] = std::move(cpu);
    json clock{{"process_ms", clock_.process_ms},
               {"started_ms", clock_.started_ms},
               {"ended_ms", load::epoch_ms(real_clock().wall_now())},
               {"start_at_ms", clock_.start_at_ms ? json(*clock_.start_at_ms) : json(nullptr)},
               {"kernel_start_ms", clock_.kernel_start_ms ? json(*clock_.kernel_start_ms) : json(nullptr)}};
    line["clock"] = std::move(clock);
    return invalid;
  }

 private:
  CpuBudget budget_;
  std::optional<CpuStat> before_;
  load::AgentClock clock_;
};

// The one line of an agent that failed before (or instead of) a result, and the error for main.
std::unexpected<Error> failure_line(std::string_view kind, const Error& error, const CpuWatch& cpu) {
  json line{
      {"kind", kind}, {"version", 1}, {"error", error.message}, {"error_kind", error_kind_name(error.kind)}};
  cpu.annotate(line, 0);
  print_line(line);
  return std::unexpected(error);
}

// Exit code of an agent run: 4 when the run is invalid (the JSON line says why), else 0.
template <typename AgentResult>
Outcome finish(std::string_view kind, Result<AgentResult> result, const CpuWatch& cpu, int threads,
               const std::function<std::string(const AgentResult&)>& json_line) {
  if (!result) {
    return failure_line(kind, result.error(), cpu);
  }
  json line = json::parse(json_line(*result), nullptr, /*allow_exceptions=*/false);
  if (line.is_discarded()) {
    return fail(ErrorKind::internal, fmt::format("agent: the {} result line is not JSON", kind));
  }
  const bool throttled = cpu.annotate(line, threads);
  print_line(line);
  return result->run.invalid_reasons.empty() && !throttled ? 0 : 4;
}

}  // namespace

Command add_agent_command(CLI::App& parent) {
  Command command;
  command.app = parent.add_subcommand(
      "agent", "Run one phase's load generator alone and print one JSON result line (as agent pods do)");
  command.app->require_subcommand(1);

  auto etcd_options = std::make_shared<drivers::etcd::AgentOptions>();
  CLI::App* etcd = command.app->add_subcommand("etcd", "etcd KV load (put/range) against an endpoint");
  drivers::etcd::attach_agent_options(*etcd, *etcd_options);

  auto dns_options = std::make_shared<drivers::dns::AgentOptions>();
  CLI::App* dns = command.app->add_subcommand("dns", "DNS query load against a server");
  drivers::dns::attach_agent_options(*dns, *dns_options);

  auto storage_options = std::make_shared<drivers::storage::AgentOptions>();
  CLI::App* storage = command.app->add_subcommand("storage", "fio workloads on a directory (the volume)");
  drivers::storage::attach_agent_options(*storage, *storage_options);

  auto http_options = std::make_shared<drivers::ingress::HttpOptions>();
  CLI::App* http = command.app->add_subcommand("http", "HTTP load against a URL");
  drivers::ingress::add_http_options(*http, *http_options);

  auto net_server_options = std::make_shared<drivers::net::ServerAgentOptions>();
  CLI::App* net_server =
      command.app->add_subcommand("net-server", "Network test server (one end of a pod-to-pod test)");
  drivers::net::attach_server_options(*net_server, *net_server_options);

  auto net_client_options = std::make_shared<drivers::net::ClientAgentOptions>();
  CLI::App* net_client = command.app->add_subcommand(
      "net-client",
      "Network test client: TCP_STREAM, UDP_STREAM, TCP_RR, UDP_RR, TCP_CRR against a net-server");
  drivers::net::attach_client_options(*net_client, *net_client_options);

  // One wall-clock start for every agent of a test (load/start_time.hpp); the net server serves whenever a
  // client comes.
  auto start_at = std::make_shared<std::string>();
  for (CLI::App* app : {etcd, dns, storage, http, net_client}) {
    app->add_option(
        "--start-at", *start_at,
        "Begin measuring at this wall-clock time, Unix epoch milliseconds (at most 10m ahead; "
        "an agent ready more than 1 s after it fails): the pod runner gives every agent of a test "
        "the same");
  }

  // Which agent the command line chose, and the kind of its line: a flag CLI11 rejects still gets one.
  const std::vector<std::pair<CLI::App*, std::string_view>> kinds{
      {etcd, kEtcdKind},
      {dns, kDnsKind},
      {storage, kStorageKind},
      {http, kHttpKind},
      {net_server, drivers::net::kServerLineKind},
      {net_client, drivers::net::kClientResultKind}};
  command.on_parse_error = [kinds](const Error& error) {
    for (const auto& [app, kind] : kinds) {
      if (app->parsed()) {
        (void)failure_line(kind, error, CpuWatch());
        return;
      }
    }
  };

  command.run = [=]() -> Outcome {
    engine::CancellationToken cancel;
    InterruptWatcher watcher(cancel);
    CpuWatch cpu;
    for (const auto& [app, kind] : kinds) {
      if (app->parsed() && app != net_server) {
        if (Result<void> started = cpu.wait_for_start(*start_at, cancel); !started) {
          return failure_line(kind, started.error(), cpu);
        }
      }
    }
    if (net_server->parsed()) {
      // The driver waits for the listening line through a pipe: flush it at once.
      Result<void> served = drivers::net::run_server_agent(
          *net_server_options, real_clock(), cancel,
          [](std::string_view line) {
            fmt::print("{}\n", line);
            std::fflush(stdout);
          },
          [](std::string_view line) { fmt::print(stderr, "net-server: {}\n", line); });
      if (!served) {
        return failure_line(drivers::net::kServerLineKind, served.error(), cpu);
      }
      return 0;
    }
    if (net_client->parsed()) {
      Result<drivers::net::ClientResult> result =
          drivers::net::run_client_agent(*net_client_options, real_clock(), cancel, progress_to_stderr);
      if (!result) {
        return failure_line(drivers::net::kClientResultKind, result.error(), cpu);
      }
      json line = json::parse(drivers::net::to_json_line(*result), nullptr, /*allow_exceptions=*/false);
      // One thread per stream. Throttling is reported here and judged by the reader of the line (the net
      // phase judges the client's validity from the whole result).
      (void)cpu.annotate(line, result->spec.streams);
      print_line(line);
      if (!result->complete) {
        // The driver reads this line for the reason.
        fmt::print(stderr, "kubeproof: {}\n", result->error);
        return 4;
      }
      return 0;
    }
    if (etcd->parsed()) {
      return finish<drivers::etcd::AgentResult>(
          kEtcdKind, drivers::etcd::run_agent(*etcd_options, real_clock(), cancel, progress_to_stderr), cpu,
          0, [](const drivers::etcd::AgentResult& r) { return drivers::etcd::agent_json_line(r); });
    }
    if (dns->parsed()) {
      Result<drivers::dns::AgentResult> result =
          drivers::dns::run_agent(*dns_options, real_clock(), cancel, progress_to_stderr);
      const bool silent = result && result->load.counters.sent > 0 && result->load.counters.responses == 0;
      const int threads = result ? result->load.threads : 0;
      Outcome outcome = finish<drivers::dns::AgentResult>(
          kDnsKind, std::move(result), cpu, threads,
          [](const drivers::dns::AgentResult& r) { return drivers::dns::agent_json_line(r); });
      if (outcome && silent) {
        // The JSON line carries the losses; a script checking only the exit code must not read this as
        // success.
        fmt::print(stderr, "kubeproof: agent dns: the server answered none of the queries sent (all lost)\n");
        return 4;
      }
      return outcome;
    }
    if (storage->parsed()) {
      return finish<drivers::storage::StorageResult>(
          kStorageKind,
          drivers::storage::run_agent(*storage_options, real_clock(), cancel, progress_to_stderr), cpu, 0,
          [](const drivers::storage::StorageResult& r) { return drivers::storage::agent_json_line(r); });
    }
    if (http->parsed()) {
      std::ostringstream out;
      Result<int> ran = drivers::ingress::run_http_agent(*http_options, real_clock(), cancel, out);
      if (!ran) {
        return failure_line(kHttpKind, ran.error(), cpu);
      }
      json line = json::parse(out.str(), nullptr, /*allow_exceptions=*/false);
      if (line.is_discarded()) {
        return fail(ErrorKind::internal, "agent: the http result line is not JSON");
      }
      const bool throttled = cpu.annotate(line, line.value("threads", 0));
      print_line(line);
      return throttled ? 4 : *ran;
    }
    return fail(ErrorKind::usage, "agent: choose etcd, dns, storage, http, net-server or net-client");
  };
  return command;
}

Command add_http_command(CLI::App& parent) {
  auto options = std::make_shared<drivers::ingress::HttpOptions>();
  Command command;
  command.app = parent.add_subcommand("http",
                                      "HTTP/1.1 load generator, closed loop like wrk or open loop like "
                                      "wrk2 (-R), with a wrk-like summary");
  drivers::ingress::add_http_options(*command.app, *options);
  command.run = [options]() -> Outcome {
    engine::CancellationToken cancel;
    InterruptWatcher watcher(cancel);
    return drivers::ingress::run_http_command(*options, real_clock(), cancel, std::cout);
  };
  return command;
}

}  // namespace kp::cli
