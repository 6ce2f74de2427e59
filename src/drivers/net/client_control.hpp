#pragma once

// Inside the net client (client.hpp): its control connection to the server, what wakes the control thread,
// and the data side's opening and draining. Internal to the agent.

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "drivers/net/client.hpp"
#include "drivers/net/client_run.hpp"
#include "drivers/net/protocol.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::net::detail {

// The control thread looks at the clock, the workers and the server this often; it bounds how late a mark
// or a reaction to a dead server can be, not what is measured.
inline constexpr Duration kControlSlice = std::chrono::milliseconds(20);

// Reads control messages from the server. During the test any message (or the end of the connection) is
// bad news; at the end the report is expected.
class Control {
 public:
  Control(Fd fd, Clock& clock) : fd_(std::move(fd)), clock_(clock) {}

  int fd() const { return fd_.get(); }
  bool alive() const { return alive_; }

  bool send(const ControlMessage& message) {
    if (!alive_) {
      return false;
    }
    const std::string line = encode(message);
    std::size_t sent = 0;
    while (sent < line.size()) {
      const ssize_t n = ::send(fd_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        alive_ = false;
        return false;
      }
    }
    return true;
  }

  // The next message within `deadline`; the connection is marked dead on any failure but a timeout.
  Result<ControlMessage> read(TimePoint deadline) {
    while (true) {
      Result<std::optional<std::string>> line = reader_.next_line();
      if (!line) {
        alive_ = false;
        return std::unexpected(line.error());
      }
      if (*line) {
        return decode(**line);
      }
      if (!alive_) {
        return fail(ErrorKind::network, "the control connection is closed");
      }
      const TimePoint now = clock_.now();
      if (now >= deadline) {
        return fail(ErrorKind::timeout, "no answer from the server on the control connection in time");
      }
      if (!wait_readable(fd_.get(), std::min<Duration>(deadline - now, kControlSlice))) {
        continue;
      }
      if (Result<void> got = receive(); !got) {
        return std::unexpected(got.error());
      }
    }
  }

  // Takes what is readable now, without waiting (the control thread calls it when poll says so).
  Result<void> receive() {
    char buffer[4096];
    const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      reader_.append(std::string_view(buffer, static_cast<std::size_t>(n)));
      return {};
    }
    if (n < 0 && transient(errno)) {
      return {};
    }
    const int error = errno;
    alive_ = false;
    if (n == 0) {
      return fail(ErrorKind::network, "the server closed the control connection");
    }
    if (error == ECONNRESET) {
      return fail(ErrorKind::network,
                  fmt::format("the server reset the control connection ({})", error_text(error)));
    }
    return fail(ErrorKind::network, fmt::format("control connection to the server: {}", error_text(error)));
  }

  // A complete message already received, if any.
  Result<std::optional<ControlMessage>> pending() {
    Result<std::optional<std::string>> line = reader_.next_line();
    if (!line) {
      return std::unexpected(line.error());
    }
    if (!*line) {
      return std::optional<ControlMessage>{};
    }
    Result<ControlMessage> message = decode(**line);
    if (!message) {
      return std::unexpected(message.error());
    }
    return std::optional<ControlMessage>(std::move(*message));
  }

 private:
  Fd fd_;
  Clock& clock_;
  LineReader reader_;
  bool alive_ = true;
};

enum class Wake { time, worker, control, cancelled };

Wake wait_for(Control& control, RunState& run, engine::CancellationToken& cancel, TimePoint deadline);

// What came on the control connection during the test: the server's error, its departure, or nonsense.
std::string control_failure(Control& control);

// Opens the data side: one connection or socket per stream (CRR connects per transaction).
Result<void> open_data(std::vector<std::unique_ptr<Worker>>& workers, const ClientOptions& options,
                       const SocketAddress& server, std::uint64_t session);

// Closes our side of each TCP data connection and waits (bounded) until the server has read everything and
// closed its side: then its byte counts are final.
void drain(std::vector<std::unique_ptr<Worker>>& workers, Clock& clock);

}  // namespace kp::drivers::net::detail
