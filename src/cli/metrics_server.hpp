#pragma once

// A minimal HTTP/1.1 server for Prometheus to scrape while a run goes on (`run --metrics-listen`).
// GET /metrics answers the text `render` returns at that moment; / names the endpoint; anything else is 404
// (405 for other methods). One thread, one connection at a time, each closed after its answer: a scraper
// every few seconds is the whole load. A client that sends nothing is dropped after a second, so no client
// can hold the server (or the run's end) up.
//
// Owns its thread and sockets; the destructor stops the thread and joins it. `render` is called on the
// server's thread and must be thread-safe (report::LiveMetrics::render is).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "core/error.hpp"

namespace kp::cli {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // `listen`: "127.0.0.1:9464", ":9464" (every address), "[::1]:9464", "localhost:9464"; port 0 picks a free
  // one. Errors (ErrorKind::usage) name the flag and the value.
  static Result<std::unique_ptr<MetricsServer>> start(std::string_view listen, Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:9464/metrics" (the host as given; "0.0.0.0" when it was empty).
  std::string url() const;

 private:
  MetricsServer(int listen_fd, int stop_fd, std::uint16_t port, std::string host, Render render);
  void serve();
  void answer(int fd);

  int listen_fd_;
  int stop_fd_;  // an eventfd: written once by the destructor
  std::uint16_t port_;
  std::string host_;
  Render render_;
  std::thread thread_;
};

}  // namespace kp::cli
