#include <fmt/format.h>

#include <iostream>

#include "cli/command.hpp"
#include "cli/interrupt.hpp"
#include "core/clock.hpp"
#include "drivers/dns/agent.hpp"
#include "drivers/etcd/agent.hpp"
#include "drivers/ingress/http_command.hpp"
#include "drivers/net/agent.hpp"
#include "drivers/net/result.hpp"
#include "drivers/storage/agent.hpp"

namespace kp::cli {
namespace {

// Agents print one JSON result line on stdout (what the in-cluster runner reads from a pod's log); progress
// goes to stderr.
void progress_to_stderr(std::string_view text) {
  fmt::print(stderr, "{}\n", text);
}

// Exit code of an agent run: 4 when the run is invalid (the JSON line says why), else 0.
template <typename AgentResult>
Outcome finish(Result<AgentResult> result, const std::function<std::string(const AgentResult&)>& json_line) {
  if (!result) {
    return std::unexpected(result.error());
  }
  fmt::print("{}\n", json_line(*result));
  std::fflush(stdout);
  return result->run.invalid_reasons.empty() ? 0 : 4;
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

  command.run = [=]() -> Outcome {
    engine::CancellationToken cancel;
    InterruptWatcher watcher(cancel);
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
        return std::unexpected(served.error());
      }
      return 0;
    }
    if (net_client->parsed()) {
      Result<drivers::net::ClientResult> result =
          drivers::net::run_client_agent(*net_client_options, real_clock(), cancel, progress_to_stderr);
      if (!result) {
        return std::unexpected(result.error());
      }
      fmt::print("{}\n", drivers::net::to_json_line(*result));
      std::fflush(stdout);
      if (!result->complete) {
        // The driver reads this line for the reason.
        fmt::print(stderr, "kubeproof: {}\n", result->error);
        return 4;
      }
      return 0;
    }
    if (etcd->parsed()) {
      return finish<drivers::etcd::AgentResult>(
          drivers::etcd::run_agent(*etcd_options, real_clock(), cancel, progress_to_stderr),
          [](const drivers::etcd::AgentResult& r) { return drivers::etcd::agent_json_line(r); });
    }
    if (dns->parsed()) {
      Result<drivers::dns::AgentResult> result =
          drivers::dns::run_agent(*dns_options, real_clock(), cancel, progress_to_stderr);
      const bool silent = result && result->load.counters.sent > 0 && result->load.counters.responses == 0;
      Outcome outcome = finish<drivers::dns::AgentResult>(
          std::move(result),
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
          drivers::storage::run_agent(*storage_options, real_clock(), cancel, progress_to_stderr),
          [](const drivers::storage::StorageResult& r) { return drivers::storage::agent_json_line(r); });
    }
    if (http->parsed()) {
      return drivers::ingress::run_http_agent(*http_options, real_clock(), cancel, std::cout);
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
