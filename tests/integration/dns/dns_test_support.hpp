#pragma once

// Support for the DNS integration tests: the lab's two unbound processes in a temp state dir, and in-process
// fake DNS servers (silent, or misbehaving on purpose). Nothing here sleeps to synchronise: servers wake on
// their sockets or a stop pipe, waits poll a condition with a deadline.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "lab/lab.hpp"

namespace kp::drivers::dns::testing {

// unbound-zone + unbound, started into their own state dir and stopped (and removed) at destruction.
// Uses lab::up/lab::down when service_specs() lists the DNS services; until then the same steps for these two
// specs directly (spawn, service.json, health poll), so the tests do not wait on that wiring.
class DnsLab {
 public:
  explicit DnsLab(std::string name);
  ~DnsLab();
  DnsLab(const DnsLab&) = delete;
  DnsLab& operator=(const DnsLab&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string dns() const;       // "127.0.0.1:port" of the caching unbound
  std::string control() const;   // its remote control
  std::string zone_dns() const;  // the authority
  std::filesystem::path cache_config() const;

 private:
  std::filesystem::path dir_;
  std::vector<lab::ServiceRecord> records_;
  std::string error_;
};

bool unbound_installed();

// The two services into `state_dir` (lab::up when service_specs() lists them, else the same steps directly),
// in start order; and their stop, from the records in `state_dir`. For DnsLab and the bench's kp_dns_lab.
Result<std::vector<lab::ServiceRecord>> start_dns_lab(const std::filesystem::path& state_dir);
void stop_dns_lab(const std::filesystem::path& state_dir);

// A UDP (and optionally TCP) server on 127.0.0.1 that hands each datagram to `respond`, which returns the
// datagrams to send back (possibly none, possibly several). TCP queries get `tcp_respond` (one answer each).
class FakeServer {
 public:
  using Responder = std::function<std::vector<std::vector<std::uint8_t>>(
      const std::vector<std::uint8_t>& query, std::uint64_t index)>;
  using TcpResponder = std::function<std::vector<std::uint8_t>(const std::vector<std::uint8_t>& query)>;

  FakeServer(Responder respond, TcpResponder tcp_respond = {});
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  std::string address() const;  // "127.0.0.1:port"
  std::uint64_t datagrams() const { return datagrams_.load(); }
  std::uint64_t tcp_queries() const { return tcp_queries_.load(); }

 private:
  void loop();

  Responder respond_;
  TcpResponder tcp_respond_;
  int udp_ = -1;
  int tcp_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> datagrams_{0};
  std::atomic<std::uint64_t> tcp_queries_{0};
  std::thread thread_;
};

// A correct answer to `query`: the query with QR and RA set, `rcode`, and `answers` A records 10.0.0.x
// (owner: a pointer to the question).
std::vector<std::uint8_t> answer_to(const std::vector<std::uint8_t>& query, int answers = 1, int rcode = 0,
                                    bool truncated = false);

// A UDP port on 127.0.0.1 with nothing listening (bound, then closed).
std::uint16_t closed_udp_port();

// Runs a program, returns its stdout; for the real unbound-control.
Result<std::string> run_capture(const std::vector<std::string>& argv);

}  // namespace kp::drivers::dns::testing
