// `kubeproof agent storage` as a binary of its own, for bench/compare-storage.sh until the CLI has the
// subcommand: the same attach_agent_options / run_agent / agent_json_line the CLI calls. Progress on stderr,
// the JSON line on stdout; exit 2 on a usage error, 1 on any other.

#include <cstdio>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "drivers/storage/agent.hpp"

int main(int argc, char** argv) {
  CLI::App app("kubeproof agent storage (standalone): fio-driven storage jobs, one JSON line");
  kp::drivers::storage::AgentOptions options;
  kp::drivers::storage::attach_agent_options(app, options);
  CLI11_PARSE(app, argc, argv);
  kp::engine::CancellationToken cancel;
  auto result = kp::drivers::storage::run_agent(options, kp::real_clock(), cancel, [](std::string_view line) {
    fmt::print(stderr, "storage: {}\n", line);
  });
  if (!result) {
    fmt::print(stderr, "error: {}\n", result.error().message);
    return result.error().kind == kp::ErrorKind::usage ? 2 : 1;
  }
  fmt::print("{}\n", kp::drivers::storage::agent_json_line(*result));
  return 0;
}
