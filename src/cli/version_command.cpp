#include <fmt/format.h>

#include "cli/command.hpp"

namespace kp::cli {

Command add_version_command(CLI::App& parent) {
  Command command;
  command.app = parent.add_subcommand("version", "Print the version of kubeproof");
  command.run = []() -> Outcome {
    fmt::print("kubeproof {}\n", KP_VERSION);
    return 0;
  };
  return command;
}

}  // namespace kp::cli
