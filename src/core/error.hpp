#pragma once

#include <expected>
#include <string>
#include <utility>

namespace kp {

// What went wrong, coarse enough that only main needs it to choose an exit code.
enum class ErrorKind {
  usage,        // a wrong flag or argument on the command line
  input,        // a file the user gave is missing, malformed or invalid
  io,           // reading or writing a local file failed for reasons other than its content
  unavailable,  // a service a phase needs is absent; the phase is SKIPPED, not failed
  network,      // a peer could not be reached or the connection broke
  protocol,     // a peer answered something we could not understand
  timeout,      // an operation did not finish within its bound
  cancelled,    // the user interrupted the run (SIGINT)
  internal,     // a bug: an invariant of our own did not hold
};

// A recoverable error: one line for a human that names the file, field or flag and echoes the bad value.
struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return std::unexpected(Error{kind, std::move(message)});
}

// Prefixes context ("plans/x.yaml: ") to an error, keeping its kind.
inline Error with_context(Error error, std::string_view context) {
  error.message = std::string(context) + error.message;
  return error;
}

}  // namespace kp
