// A stand-alone `kubeproof http` for bench/compare-http.sh until the CLI wires the subcommand: the same
// options (drivers/ingress/http_command.hpp), the same summary. --json prints the agent's JSON line instead.

#include <csignal>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "drivers/ingress/http_command.hpp"

namespace {

kp::engine::CancellationToken* g_cancel = nullptr;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("kubeproof http: HTTP/1.1 load generator (stand-alone build)");
  kp::drivers::ingress::HttpOptions options;
  bool json = false;
  kp::drivers::ingress::add_http_options(app, options);
  app.add_flag("--json", json, "Print the agent's JSON line instead of the summary");
  CLI11_PARSE(app, argc, argv);

  kp::engine::CancellationToken cancel;
  g_cancel = &cancel;
  // SIGINT cancels the run (it stops within a tick and prints what it measured).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::jthread watcher([set](std::stop_token stop) {
    while (!stop.stop_requested()) {
      timespec wait{0, 100'000'000};
      if (sigtimedwait(&set, nullptr, &wait) == SIGINT) {
        g_cancel->request();
        return;
      }
    }
  });
  kp::Result<int> outcome =
      json ? kp::drivers::ingress::run_http_agent(options, kp::real_clock(), cancel, std::cout)
           : kp::drivers::ingress::run_http_command(options, kp::real_clock(), cancel, std::cout);
  watcher.request_stop();
  if (!outcome) {
    std::cerr << "kubeproof http: " << outcome.error().message << "\n";
    return outcome.error().kind == kp::ErrorKind::usage ? 2 : 4;
  }
  return *outcome;
}
