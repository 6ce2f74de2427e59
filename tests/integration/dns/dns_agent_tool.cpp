// The DNS agent as a stand-alone program, for bench/compare-dns.sh before `kubeproof agent dns` is wired in
// the CLI (which calls the same attach_agent_options/run_agent). Prints one JSON line; progress goes to
// stderr.

#include <csignal>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "drivers/dns/agent.hpp"

int main(int argc, char** argv) {
  CLI::App app("kubeproof dns agent: DNS queries over UDP/TCP, one JSON line of results");
  kp::drivers::dns::AgentOptions options;
  kp::drivers::dns::attach_agent_options(app, options);
  bool quiet = false;
  app.add_flag("--quiet", quiet, "no progress on stderr");
  CLI11_PARSE(app, argc, argv);

  kp::engine::CancellationToken cancel;
  // SIGINT cancels the run through the token; a thread waits for it so no work happens in a signal handler.
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

  auto progress = [quiet](std::string_view line) {
    if (!quiet) {
      fmt::print(stderr, "dns: {}\n", line);
    }
  };
  kp::Result<kp::drivers::dns::AgentResult> result =
      kp::drivers::dns::run_agent(options, kp::real_clock(), cancel, progress);
  if (!result) {
    fmt::print(stderr, "kubeproof agent dns: {}\n", result.error().message);
    return result.error().kind == kp::ErrorKind::usage || result.error().kind == kp::ErrorKind::input ? 2 : 4;
  }
  fmt::print("{}\n", kp::drivers::dns::agent_json_line(*result));
  return result->run.invalid_reasons.empty() ? 0 : 4;
}
