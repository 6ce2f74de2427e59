#include "cli/progress.hpp"

#include <fmt/format.h>
#include <cstdio>

namespace kp::cli {

void StderrProgress::message(Phase phase, std::string_view text) {
  std::string line = fmt::format("[{}] {}\n", to_string(phase), text);
  std::lock_guard lock(mutex_);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace kp::cli
