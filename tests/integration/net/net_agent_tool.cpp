// The network agent as a stand-alone program: `kp_net_agent server ...` and `kp_net_agent client ...` are
// `kubeproof agent net-server|net-client ...` (same attach_*_options / run_*_agent) until the CLI wires them,
// for bench/compare-net.sh and for the integration tests, which run it inside network namespaces.
// The client prints one JSON line on stdout; progress and logs go to stderr; an error is one stderr line
// "kubeproof: <message>", as kubeproof's main prints it. SIGINT/SIGTERM cancel.

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "drivers/net/agent.hpp"

int main(int argc, char** argv) {
  CLI::App app(
      "kubeproof network agent: TCP/UDP stream, request/response and connect/request/response tests");
  app.require_subcommand(1);
  kp::drivers::net::ServerAgentOptions server_options;
  kp::drivers::net::ClientAgentOptions client_options;
  CLI::App* server = app.add_subcommand("server", "the server end (net-server)");
  CLI::App* client = app.add_subcommand("client", "the client end (net-client): prints one JSON line");
  kp::drivers::net::attach_server_options(*server, server_options);
  kp::drivers::net::attach_client_options(*client, client_options);
  bool quiet = false;
  app.add_flag("--quiet", quiet, "no progress on stderr");
  CLI11_PARSE(app, argc, argv);

  kp::engine::CancellationToken cancel;
  // SIGINT/SIGTERM cancel through the token; a thread waits for them so no work happens in a signal handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread watcher([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    cancel.request();
  });
  watcher.detach();

  auto err = [quiet](std::string_view line) {
    if (!quiet) {
      fmt::print(stderr, "{}\n", line);
    }
  };
  auto exit_code = [](const kp::Error& error) {
    return error.kind == kp::ErrorKind::usage || error.kind == kp::ErrorKind::input ? 2 : 4;
  };
  if (server->parsed()) {
    auto print = [](std::string_view line) {
      fmt::print("{}\n", line);
      std::fflush(stdout);
    };
    kp::Result<void> served = kp::drivers::net::run_server_agent(
        server_options, kp::real_clock(), cancel, print,
        [](std::string_view line) { fmt::print(stderr, "net-server: {}\n", line); });
    if (!served) {
      fmt::print(stderr, "kubeproof: {}\n", served.error().message);
      return exit_code(served.error());
    }
    return 0;
  }
  kp::Result<kp::drivers::net::ClientResult> result =
      kp::drivers::net::run_client_agent(client_options, kp::real_clock(), cancel, err);
  if (!result) {
    fmt::print(stderr, "kubeproof: {}\n", result.error().message);
    return exit_code(result.error());
  }
  fmt::print("{}\n", kp::drivers::net::to_json_line(*result));
  if (!result->complete) {
    fmt::print(stderr, "kubeproof: {}\n", result->error);
  }
  return result->complete ? 0 : 4;
}
