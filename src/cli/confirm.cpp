#include "cli/confirm.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <cstdio>
#include <iostream>

namespace kp::cli {

Result<void> confirm(std::string_view what, const std::vector<std::string>& lines) {
  if (::isatty(STDIN_FILENO) != 1) {
    return fail(ErrorKind::usage,
                fmt::format("{} needs confirmation and stdin is not a terminal: pass --yes to "
                            "proceed (--dry-run shows what it would do)",
                            what));
  }
  for (const std::string& line : lines) {
    fmt::print(stderr, "  {}\n", line);
  }
  fmt::print(stderr, "{}. Proceed? [y/N] ", what);
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) {
    answer.clear();
  }
  if (answer == "y" || answer == "Y" || answer == "yes" || answer == "YES" || answer == "Yes") {
    return {};
  }
  return fail(ErrorKind::cancelled, fmt::format("{}: not confirmed, nothing was done", what));
}

}  // namespace kp::cli
