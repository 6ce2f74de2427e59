#pragma once

// The agent's server end (`kubeproof agent net-server`): one TCP+UDP port for the control connection, the
// data connections and the datagrams of every scenario. It serves one test at a time (a second client is
// told the server is busy), so its CPU figures are that test's. A client that vanishes mid-test ends its
// session within a bound; the server then takes the next test.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/socket_buffer.hpp"
#include "core/units.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::net {

inline constexpr std::uint16_t kDefaultPort = 7410;

struct ServerOptions {
  std::string listen = "0.0.0.0:7410";  // port 0 picks a free one (tests)
  // A test option: hold each RR/CRR response this long after its request is complete, so a test can add a
  // known delay to the round trip (the kernels here have no netem to do it on the link).
  Duration hold{0};
  bool once = false;  // serve one test, then return
};

using LogFn = std::function<void(std::string_view)>;

class Server {
 public:
  // Binds the TCP listener and the UDP socket on the same port.
  static Result<std::unique_ptr<Server>> open(const ServerOptions& options, Clock& clock);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Where it listens, e.g. "0.0.0.0:7410" (the real port when 0 was asked).
  std::string address() const;
  std::uint16_t port() const;
  // The UDP socket's receive buffer as the kernel granted it ("note" says why it is less than asked).
  const SocketBufferGrant& udp_receive_buffer() const;

  // Serves tests until `cancel` (or after one test with `once`). An error means the listener failed; a
  // test's own failure is logged and told to its client. Cancellation ends a running test within a bound.
  Result<void> serve(engine::CancellationToken& cancel, const LogFn& log);

  std::uint64_t tests_served() const { return tests_served_.load(); }

 private:
  struct State;
  explicit Server(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
  std::atomic<std::uint64_t> tests_served_{0};
};

}  // namespace kp::drivers::net
