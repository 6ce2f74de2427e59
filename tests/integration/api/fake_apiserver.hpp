#pragma once

// Starts tests/fixtures/kube-apiserver/fake_apiserver.py (Python 3 standard library) on a free port with a
// fresh certificate dir, waits for its "ready" line (bounded; no sleeps) and stops it at the end (SIGTERM:
// the fixture then kills its pods' processes and removes their network namespaces, bridge, nft table and
// volumes).
//
// The process kubelet is the config key "kubelet" (see the fixture's docstring), e.g.
//   FakeApiserver fixture("net", {{"kubelet", {{"binary", KP_BINARY}, {"images", {"kubeproof-agent"}}}}});
// It needs root; tests/integration/kubelet/kubelet_harness.hpp has the helpers its own tests use.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "kube/api.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/transport.hpp"

namespace kp::testing {

// The first line a fixture process prints on `fd` (its ready line, with its port), read until `timeout`; what
// came by then when no newline did.
inline std::string read_ready_line(int fd, Duration timeout) {
  std::string line;
  const TimePoint deadline = real_clock().now() + timeout;
  while (line.find('\n') == std::string::npos && real_clock().now() < deadline) {
    pollfd ready{fd, POLLIN, 0};
    if (poll(&ready, 1, 200) > 0) {
      char buffer[512];
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) {
        break;
      }
      line.append(buffer, static_cast<std::size_t>(n));
    }
  }
  return line;
}

class FakeApiserver {
 public:
  // `config` is the fixture's JSON config (delays, injections); see fake_apiserver.py.
  explicit FakeApiserver(std::string name, nlohmann::json config = nlohmann::json::object()) {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("kp-api-fixture-{}-{}", getpid(), name);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::string script = std::string(KP_SOURCE_DIR) + "/tests/fixtures/kube-apiserver/fake_apiserver.py";
    std::string config_text = config.dump();
    std::string dir = dir_.string();
    std::vector<std::string> args = {"python3", script, "--dir", dir, "--config", config_text};
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      error_ = "pipe failed";
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
      error_ = "cannot run python3";
      return;
    }
    // The ready line, within 60 s (certificate generation with openssl takes a second or two).
    const std::string line = read_ready_line(fds[0], std::chrono::seconds(60));
    close(fds[0]);
    nlohmann::json ready = nlohmann::json::parse(line, nullptr, false);
    if (ready.is_discarded() || !ready.contains("port")) {
      error_ = fmt::format("the fixture did not start (output: \"{}\")", line);
      return;
    }
    port_ = ready["port"].get<int>();
    kubeconfig_ = ready["kubeconfig"].get<std::string>();
  }
  ~FakeApiserver() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  FakeApiserver(const FakeApiserver&) = delete;
  FakeApiserver& operator=(const FakeApiserver&) = delete;

  bool ok() const { return port_ > 0; }
  pid_t pid() const { return pid_; }  // the fixture's process (a test may SIGKILL it to simulate a crash)
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  std::string server() const { return fmt::format("https://127.0.0.1:{}", port_); }

  Result<kube::RestConfig> rest_config(std::string context = "token") const {
    kube::LoadOptions options;
    options.kubeconfig = kubeconfig_;
    options.context = context;
    return kube::load_rest_config(options);
  }

  // The fixture's own view: /fixture/counters, /fixture/config, /fixture/compact, /fixture/tokens.
  nlohmann::json control(const std::string& method, const std::string& path,
                         const nlohmann::json& body = nlohmann::json()) {
    if (!control_) {
      Result<kube::RestConfig> config = rest_config();
      control_ = std::move(*kube::Transport::create(*config, kube::ClientOptions{}, real_clock()));
    }
    kube::Request request;
    request.method = method;
    request.path = path;
    request.rate_limited = false;
    if (!body.is_null()) {
      request.body = body.dump();
      request.content_type = "application/json";
    }
    Result<kube::Response> response = control_->call(request);
    if (!response) {
      return nlohmann::json{{"error", response.error().message}};
    }
    return nlohmann::json::parse(response->body, nullptr, false);
  }
  nlohmann::json counters() { return control("GET", "/fixture/counters"); }
  int count(const std::string& verb) {
    nlohmann::json c = counters();
    return c["by_verb"].value(verb, 0);
  }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = 0;
  int port_ = 0;
  std::string kubeconfig_;
  std::string error_;
  std::unique_ptr<kube::Transport> control_;
};

// The fixture config for tests of the process kubelet: pods of the agent image run `binary` (the kubeproof
// under test), with back-offs and condition delays short enough that a failure state shows within a second.
// `extra` is merged over it (storage classes, other images).
inline nlohmann::json process_kubelet_config(const std::string& binary,
                                             nlohmann::json extra = nlohmann::json::object()) {
  nlohmann::json config = {
      {"kubelet",
       {{"binary", binary},
        {"images", {"kubeproof-agent"}},
        {"crash_backoff_ms", 300},
        {"image_pull_backoff_ms", 300},
        {"scheduler_retry_ms", 300},
        {"termination_linger_ms", 1500}}},
      {"pod_delays_ms", {{"scheduled", 10}, {"initialized", 10}, {"containers_ready", 10}, {"ready", 10}}}};
  config.update(extra, true);
  return config;
}

}  // namespace kp::testing
