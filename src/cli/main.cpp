// The only place that turns outcomes into exit codes:
//   0 PASS, 1 FAIL, 3 CONDITIONAL PASS, 4 run invalid, incomplete or aborted (the verdict's own code);
//   2 usage or input error (a bad flag, a missing or malformed file);
//   4 anything else that stopped a command (a report that could not be written, an internal error).
// Every error is one line on stderr, "kubeproof: " followed by the message, which names the flag or file.

#include <fmt/format.h>
#include <cstdio>
#include <exception>

#include "cli/command.hpp"

namespace {

constexpr int kUsageOrInputError = 2;
constexpr int kNotSignable = 4;

int exit_code_for(const kp::Error& error) {
  switch (error.kind) {
    case kp::ErrorKind::usage:
    case kp::ErrorKind::input:
      return kUsageOrInputError;
    default:
      return kNotSignable;
  }
}

void print_error(std::string_view message) {
  std::string line = fmt::format("kubeproof: {}\n", message);
  std::fputs(line.c_str(), stderr);
}

int run(int argc, char** argv) {
  kp::cli::Cli cli = kp::cli::make_cli();
  try {
    cli.app->parse(argc, argv);
  } catch (const CLI::Success& success) {
    // --help and --version: CLI11 prints them to stdout and returns 0.
    return cli.app->exit(success);
  } catch (const CLI::ParseError& error) {
    // CLI11's own codes (106, 109, ...) mean nothing to a caller: every parse error is a usage error.
    for (const kp::cli::Command& command : cli.commands) {
      if (command.on_parse_error && command.app->parsed()) {
        command.on_parse_error(kp::Error{kp::ErrorKind::usage, error.what()});
      }
    }
    print_error(fmt::format("{} (see --help)", error.what()));
    return kUsageOrInputError;
  }
  for (const kp::cli::Command& command : cli.commands) {
    if (!command.app->parsed()) {
      continue;
    }
    kp::cli::Outcome outcome = command.run();
    if (!outcome) {
      print_error(outcome.error().message);
      return exit_code_for(outcome.error());
    }
    return *outcome;
  }
  std::string names;
  for (const kp::cli::Command& command : cli.commands) {
    names += names.empty() ? command.app->get_name() : ", " + command.app->get_name();
  }
  print_error(fmt::format("a command is required: {} (see --help)", names));
  return kUsageOrInputError;
}

}  // namespace

int main(int argc, char** argv) {
  // Exceptions never escape a module; this is the last line of defence against one that was missed.
  try {
    return run(argc, argv);
  } catch (const std::exception& exception) {
    print_error(fmt::format("internal error: {}", exception.what()));
  } catch (...) {
    print_error("internal error: unknown exception");
  }
  return kNotSignable;
}
