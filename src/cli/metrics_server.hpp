#pragma once

// A minimal HTTP/1.1 server for Prometheus to scrape while a run goes on (`run --metrics-listen`).
// GET /metrics answers the text `render` returns at that moment; / names the endpoint; anything else is 404
// (405 for other methods, 400 for what is not a request). One thread, one connection at a time, each closed
// after its answer: a scraper every few seconds is the whole load. A client gets one second in all to send
// its request, so none can hold the server (or the run's end) up.
//
// Owns its thread and sockets; the destructor stops the thread and joins it. `render` is called on the
// server's thread and must be thread-safe (report::LiveMetrics::render is).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "engine/cancellation.hpp"

namespace kp::cli {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Checks the form of a --metrics-listen value without binding: "9464" and ":9464" (loopback, 127.0.0.1),
  // "0.0.0.0:9464" or "[::]:9464" (every address, said explicitly), "[::1]:9464", "localhost:9464" (a name
  // binds its first address); port 0 picks a free one.
  // Errors (ErrorKind::usage) name the flag and the value.
  static Result<void> check_listen(std::string_view listen);
  static Result<std::unique_ptr<MetricsServer>> start(std::string_view listen, Render render, Clock& clock);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const { return port_; }
  // False when other hosts can reach the endpoint (an explicit address that is not loopback): the run warns.
  bool loopback_only() const { return loopback_; }
  // "http://127.0.0.1:9464/metrics" (the host as given, 127.0.0.1 when none was).
  std::string url() const;
  // GET /metrics requests answered so far.
  std::uint64_t scrapes() const { return scrapes_.load(std::memory_order_acquire); }
  // Waits until more than `after` scrapes were answered, `linger` passed, or `cancel` was requested; true
  // when a scrape came. At the end of a run this lets Prometheus read the verdict before the endpoint goes.
  bool wait_for_scrape(std::uint64_t after, Duration linger, engine::CancellationToken& cancel);

 private:
  MetricsServer(int listen_fd, int stop_fd, std::uint16_t port, std::string host, Render render,
                Clock& clock);
  void serve();
  void answer(int fd);

  int listen_fd_;
  int stop_fd_;  // an eventfd: written once by the destructor
  std::uint16_t port_;
  std::string host_;
  bool loopback_ = true;
  Render render_;
  Clock& clock_;
  std::atomic<std::uint64_t> scrapes_{0};
  std::thread thread_;
};

}  // namespace kp::cli
