#pragma once

// Starts tests/fixtures/connect-proxy/connect_proxy.py (an HTTP CONNECT and SOCKS5 proxy on loopback), waits
// for its ready line (bounded; no sleeps) and stops it at the end. tunnels() reads the tunnels it opened.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "fake_apiserver.hpp"

namespace kp::testing {

class ConnectProxy {
 public:
  explicit ConnectProxy(const std::filesystem::path& dir) : log_(dir / "proxy-tunnels.log") {
    std::filesystem::remove(log_);
    std::string script = std::string(KP_SOURCE_DIR) + "/tests/fixtures/connect-proxy/connect_proxy.py";
    std::vector<std::string> args = {"python3", script, "--log", log_.string()};
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    int spawned = posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (spawned != 0) {
      close(fds[0]);
      pid_ = 0;
      return;
    }
    const std::string line = read_ready_line(fds[0], std::chrono::seconds(20));
    close(fds[0]);
    nlohmann::json ready = nlohmann::json::parse(line, nullptr, false);
    if (!ready.is_discarded() && ready.contains("port")) {
      port_ = ready["port"].get<int>();
    }
  }
  ~ConnectProxy() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  ConnectProxy(const ConnectProxy&) = delete;
  ConnectProxy& operator=(const ConnectProxy&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  // One line per tunnel opened: "CONNECT 127.0.0.1:6443", "SOCKS5 127.0.0.1:6443".
  std::vector<std::string> tunnels() const {
    std::vector<std::string> lines;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) {
      lines.push_back(line);
    }
    return lines;
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = 0;
  int port_ = 0;
};

}  // namespace kp::testing
