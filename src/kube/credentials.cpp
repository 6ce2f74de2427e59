#include "kube/credentials.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/yaml_fields.hpp"
#include "kube/encoding.hpp"

extern char** environ;

namespace kp::kube {
namespace {

using nlohmann::json;

struct Pipe {
  int read = -1;
  int write = -1;
  ~Pipe() {
    if (read >= 0) {
      close(read);
    }
    if (write >= 0) {
      close(write);
    }
  }
};

std::string exec_info(const ExecConfig& exec, const RestConfig& cluster) {
  json spec = {{"interactive", false}};
  if (exec.provide_cluster_info) {
    json info = {{"server", cluster.server}};
    if (!cluster.tls_server_name.empty()) {
      info["tls-server-name"] = cluster.tls_server_name;
    }
    if (cluster.insecure_skip_tls_verify) {
      info["insecure-skip-tls-verify"] = true;
    }
    if (!cluster.proxy_url.empty()) {
      info["proxy-url"] = cluster.proxy_url;  // the Cluster of client.authentication.k8s.io carries it too
    }
    if (!cluster.ca_data.empty()) {
      info["certificate-authority-data"] = base64_encode(cluster.ca_data);
    }
    spec["cluster"] = info;
  }
  return json{{"apiVersion", exec.api_version}, {"kind", "ExecCredential"}, {"spec", spec}}.dump();
}

std::string first_line(const std::string& text, std::size_t limit = 200) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > limit) {
    line = line.substr(0, limit) + "...";
  }
  return line;
}

bool is_api_version(std::string_view text) {
  return text.starts_with("client.authentication.k8s.io/") && text.size() <= 64 &&
         text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789./") == std::string_view::npos;
}

bool is_timestamp_text(std::string_view text) {
  return text.size() <= 40 && text.find_first_not_of("0123456789-:.TZtz+ ") == std::string_view::npos;
}

// The value quoted when it passes `plausible`, else only its length.
std::string shown_if(std::string_view value, bool (*plausible)(std::string_view)) {
  if (value.empty()) {
    return "(none)";
  }
  return plausible(value) ? fmt::format("\"{}\"", value)
                          : fmt::format("(a value of {} characters, not shown)", value.size());
}

}  // namespace

Result<Credentials> parse_exec_credential(std::string_view text, std::string_view expected_api_version) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(ErrorKind::protocol, "exec plugin output is not a JSON object");
  }
  // The plugin's output is credential material: a message echoes a value from it only where the value has the
  // shape it should (a version, a timestamp), so a token in the wrong field never reaches an error.
  auto kind = doc.find("kind");
  if (kind == doc.end() || !kind->is_string() || kind->get<std::string>() != "ExecCredential") {
    return fail(ErrorKind::protocol, "exec plugin output: kind must be ExecCredential");
  }
  auto version = doc.find("apiVersion");
  std::string api_version = version != doc.end() && version->is_string() ? version->get<std::string>() : "";
  if (api_version != expected_api_version) {
    return fail(ErrorKind::protocol,
                fmt::format("exec plugin output: apiVersion {} does not match the kubeconfig's \"{}\"",
                            shown_if(api_version, is_api_version), expected_api_version));
  }
  auto status = doc.find("status");
  if (status == doc.end() || !status->is_object()) {
    return fail(ErrorKind::protocol, "exec plugin output: status is missing");
  }
  Credentials credentials;
  auto string_field = [&](const char* key) -> std::string {
    auto it = status->find(key);
    return it != status->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  credentials.token = string_field("token");
  credentials.cert_pem = string_field("clientCertificateData");
  credentials.key_pem = string_field("clientKeyData");
  if (credentials.token.empty() && credentials.cert_pem.empty()) {
    return fail(ErrorKind::protocol,
                "exec plugin output: status has neither token nor clientCertificateData");
  }
  if (credentials.cert_pem.empty() != credentials.key_pem.empty()) {
    return fail(ErrorKind::protocol,
                "exec plugin output: clientCertificateData and clientKeyData must be given together");
  }
  std::string expiry = string_field("expirationTimestamp");
  if (!expiry.empty()) {
    std::optional<WallTime> parsed = parse_rfc3339(expiry);
    if (!parsed) {
      return fail(ErrorKind::protocol,
                  fmt::format("exec plugin output: expirationTimestamp is not RFC 3339, got {}",
                              shown_if(expiry, is_timestamp_text)));
    }
    credentials.expiry = parsed;
  }
  return credentials;
}

Result<Credentials> run_exec_plugin(const ExecConfig& exec, const RestConfig& cluster, Duration timeout,
                                    const std::atomic<bool>* abandoned) {
  std::string name = fmt::format("exec plugin \"{}\"", exec.command);
  Pipe out;
  Pipe err;
  int out_fds[2];
  int err_fds[2];
  if (pipe2(out_fds, O_CLOEXEC) != 0 || pipe2(err_fds, O_CLOEXEC) != 0) {
    return fail(ErrorKind::internal, fmt::format("{}: pipe: {}", name, std::strerror(errno)));
  }
  out.read = out_fds[0];
  out.write = out_fds[1];
  err.read = err_fds[0];
  err.write = err_fds[1];

  // The environment: ours, then the kubeconfig's env entries, then KUBERNETES_EXEC_INFO.
  std::map<std::string, std::string> vars;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::size_t eq = text.find('=');
    if (eq != std::string_view::npos) {
      vars[std::string(text.substr(0, eq))] = std::string(text.substr(eq + 1));
    }
  }
  for (const auto& [key, value] : exec.env) {
    vars[key] = value;
  }
  vars["KUBERNETES_EXEC_INFO"] = exec_info(exec, cluster);
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : vars) {
    env_strings.push_back(key + "=" + value);
  }
  std::vector<char*> envp;
  for (std::string& entry : env_strings) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {exec.command};
  argv_strings.insert(argv_strings.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.write, 1);
  posix_spawn_file_actions_adddup2(&actions, err.write, 2);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, exec.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    std::string hint =
        exec.install_hint.empty() ? std::string() : fmt::format(" ({})", first_line(exec.install_hint));
    return fail(ErrorKind::input, fmt::format("{}: cannot run: {}{}", name, std::strerror(spawned), hint));
  }
  close(out.write);
  out.write = -1;
  close(err.write);
  err.write = -1;

  std::string stdout_text;
  std::string stderr_text;
  Clock& clock = real_clock();
  TimePoint deadline = clock.now() + timeout;
  bool out_open = true;
  bool err_open = true;
  bool timed_out = false;
  bool given_up = false;
  const auto check_ms = std::chrono::duration_cast<std::chrono::milliseconds>(kAbandonCheck).count();
  while (out_open || err_open) {
    if (abandoned != nullptr && abandoned->load()) {
      given_up = true;
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_open ? out.read : -1, POLLIN, 0}, {err_open ? err.read : -1, POLLIN, 0}};
    int ready = poll(fds, 2, static_cast<int>(std::min<long long>(left, check_ms)));
    if (ready < 0 && errno != EINTR) {
      break;
    }
    char buffer[4096];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
        if (n <= 0) {
          (i == 0 ? out_open : err_open) = false;
        } else if (i == 0) {
          stdout_text.append(buffer, static_cast<std::size_t>(n));
        } else if (stderr_text.size() < 65536) {
          stderr_text.append(buffer, static_cast<std::size_t>(n));
        }
      }
    }
  }
  if (timed_out || given_up) {
    kill(pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (given_up) {
    return fail(ErrorKind::cancelled, fmt::format("{}: stopped: the client is closing", name));
  }
  if (timed_out) {
    return fail(ErrorKind::timeout,
                fmt::format("{}: did not finish within {}", name, format_duration(timeout)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string how = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                        : fmt::format("killed by signal {}", WTERMSIG(status));
    std::string detail = stderr_text.empty() ? std::string() : ": " + first_line(stderr_text);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !exec.install_hint.empty()) {
      detail += fmt::format(" ({})", first_line(exec.install_hint));
    }
    return fail(ErrorKind::input, fmt::format("{}: {}{}", name, how, detail));
  }
  Result<Credentials> credentials = parse_exec_credential(stdout_text, exec.api_version);
  if (!credentials) {
    return std::unexpected(with_context(credentials.error(), name + ": "));
  }
  return credentials;
}

CredentialSource::CredentialSource(RestConfig config, Clock& clock, Duration exec_timeout)
    : config_(std::move(config)), clock_(clock), exec_timeout_(exec_timeout) {
  if (!refreshable()) {
    // A static token (or none: client certificates) never changes: cached from the start, so no request
    // ever waits for a refresh.
    cached_ =
        Credentials{.token = config_.token, .cert_pem = {}, .key_pem = {}, .expiry = {}, .generation = 1};
    generation_ = 1;
  }
}

bool CredentialSource::fresh(const Credentials& credentials) const {
  return !credentials.expiry || clock_.wall_now() < *credentials.expiry;
}

std::optional<Credentials> CredentialSource::cached() const {
  std::lock_guard lock(mutex_);
  if (cached_ && fresh(*cached_)) {
    return cached_;
  }
  return std::nullopt;
}

Result<Credentials> CredentialSource::current() {
  // Serialise the refreshes: a caller that waited here finds the credentials another one just got.
  std::lock_guard refreshing(refresh_mutex_);
  if (std::optional<Credentials> ready = cached()) {
    return *ready;
  }
  // Run without mutex_, so cached() (the transport's I/O thread) never waits for a slow plugin.
  Credentials credentials;
  if (config_.exec) {
    if (abandoned_.load()) {
      return fail(ErrorKind::cancelled,
                  fmt::format("exec plugin \"{}\": not run: the client is closing", config_.exec->command));
    }
    Result<Credentials> ran = run_exec_plugin(*config_.exec, config_, exec_timeout_, &abandoned_);
    {
      std::lock_guard lock(mutex_);
      ++exec_runs_;
    }
    if (!ran) {
      return std::unexpected(ran.error());
    }
    credentials = std::move(*ran);
  } else if (!config_.token_file.empty()) {
    Result<std::string> text = config::read_text_file(config_.token_file.string());
    if (!text) {
      return std::unexpected(text.error());
    }
    std::string token = *text;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
      token.pop_back();
    }
    credentials.token = token;
  } else {
    credentials.token = config_.token;
  }
  std::lock_guard lock(mutex_);
  credentials.generation = ++generation_;
  cached_ = credentials;
  return credentials;
}

void CredentialSource::invalidate(std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  if (cached_ && cached_->generation == generation && refreshable()) {
    cached_.reset();
  }
}

int CredentialSource::exec_runs() const {
  std::lock_guard lock(mutex_);
  return exec_runs_;
}

}  // namespace kp::kube
