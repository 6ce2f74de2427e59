#pragma once

// The confirmation before kubeproof puts load on, or deletes from, a real cluster: what will happen, then
// "Proceed? [y/N]" on a terminal. Without a terminal nobody can answer, so the command refuses (exit 2) and
// says that --yes is needed, instead of proceeding silently or waiting for input that never comes.

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace kp::cli {

// `lines` are printed on stderr before the question. Ok: confirmed. ErrorKind::usage: stdin is not a
// terminal (the message starts with `what` and names --yes). ErrorKind::cancelled: the answer was not yes.
Result<void> confirm(std::string_view what, const std::vector<std::string>& lines);

}  // namespace kp::cli
