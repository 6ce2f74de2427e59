// Runs a piece of a test in a forked child that has dropped from root to uid/gid 65534 (nobody), as an agent
// pod runs with the restricted security context: setuid away from 0 also clears every effective capability.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace kp::testing {

struct NobodyOutcome {
  bool exited = false;  // false: the child was killed by a signal
  int exit_code = -1;   // 3: the drop to 65534 itself failed
  std::string said;     // what the body returned, passed back through a pipe
};

// The body runs in the child only; it returns its exit code and sets what it wants to say.
inline NobodyOutcome run_as_nobody(const std::function<int(std::string& said)>& body) {
  NobodyOutcome outcome;
  int out[2];
  if (::pipe(out) != 0) {
    outcome.said = "pipe failed";
    return outcome;
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(out[0]);
    ::close(out[1]);
    outcome.said = "fork failed";
    return outcome;
  }
  if (child == 0) {
    ::close(out[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      ::_exit(3);
    }
    std::string said;
    const int code = body(said);
    (void)!::write(out[1], said.data(), said.size());
    ::_exit(code);
  }
  ::close(out[1]);
  char buffer[1024];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) {
    outcome.said.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  outcome.exited = WIFEXITED(status);
  outcome.exit_code = outcome.exited ? WEXITSTATUS(status) : -1;
  return outcome;
}

}  // namespace kp::testing
