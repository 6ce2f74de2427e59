// Issue 18: credentials never appear in any output. The kubeproof binary runs against the API server fixture
// with known secrets in its kubeconfig (a bearer token, a client key given inline, an exec plugin's token, a
// basic-auth password), and every output is searched for them: stdout, stderr, every file of the results
// folder, and /metrics scraped while the run goes on, for a run that succeeds and for runs that fail on those
// very credentials. (kubeproof has no --verbose: stderr is its only log.)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "../../unit/cli/cli_runner.hpp"
#include "fake_apiserver.hpp"
#include "kube/encoding.hpp"

namespace kp {
namespace {

namespace fs = std::filesystem;
using cli::testing::count_lines;
using cli::testing::Ran;
using cli::testing::read_file;
using cli::testing::Sandbox;
using nlohmann::json;

// Distinct, searchable secrets; none is a substring of anything kubeproof prints for other reasons.
constexpr std::string_view kToken = "kpsecret-token-7f3a9c2e51d84b06";
constexpr std::string_view kExecToken = "kpsecret-exec-0b8e4d2f6a1c9375";
constexpr std::string_view kPassword = "kpsecret-password-5d1e8a3b";

// Every occurrence of each secret in `text`, as "<secret> in <where>" lines (empty: none).
std::string find_secrets(const std::vector<std::string>& secrets, const std::string& text,
                         const std::string& where) {
  std::string found;
  for (const std::string& secret : secrets) {
    if (!secret.empty() && text.find(secret) != std::string::npos) {
      found += fmt::format("\"{}\" in {}\n", secret, where);
    }
  }
  return found;
}

std::string find_secrets_in_folder(const std::vector<std::string>& secrets, const fs::path& folder) {
  std::string found;
  std::error_code error;
  for (const auto& entry : fs::recursive_directory_iterator(folder, error)) {
    if (entry.is_regular_file()) {
      found += find_secrets(secrets, read_file(entry.path()), entry.path().string());
    }
  }
  return found;
}

std::size_t count_files(const fs::path& folder) {
  std::size_t files = 0;
  std::error_code error;
  for (const auto& entry : fs::recursive_directory_iterator(folder, error)) {
    files += entry.is_regular_file() ? 1 : 0;
  }
  return files;
}

// A free loopback port for --metrics-listen (bound and released; the run binds it moments later).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// One GET /metrics on 127.0.0.1:port; the whole answer, or "" when nothing listens.
std::string scrape(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      ssize_t n = 0;
      while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
        answer.append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  return answer;
}

// Scrapes /metrics for as long as the run goes on; every answer is kept. A scrape every 200 ms is the pace of
// a scraper, not a synchronisation: the run's --metrics-linger waits for the last scrape after the reports.
class Scraper {
 public:
  explicit Scraper(int port) : port_(port), thread_([this] { loop(); }) {}
  ~Scraper() { stop(); }
  void stop() {
    done_.store(true);
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  const std::vector<std::string>& answers() const { return answers_; }

 private:
  void loop() {
    // Bounded: at most 10 minutes of scrapes, whatever the run does.
    for (int i = 0; i < 3000 && !done_.load(); ++i) {
      std::string answer = scrape(port_);
      if (!answer.empty()) {
        answers_.push_back(std::move(answer));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  int port_;
  std::atomic<bool> done_{false};
  std::vector<std::string> answers_;
  std::thread thread_;
};

// The fixture's client key and certificate, inline (client-key-data), and the secrets they hold: the base64
// text as the kubeconfig carries it and the PEM body lines as a careless message would print them.
struct ClientKey {
  std::string cert_data;
  std::string key_data;
  std::vector<std::string> secrets;
};

ClientKey client_key(const testing::FakeApiserver& server) {
  ClientKey key;
  std::string cert = read_file(server.dir() / "client.crt");
  std::string pem = read_file(server.dir() / "client.key");
  key.cert_data = kube::base64_encode(cert);
  key.key_data = kube::base64_encode(pem);
  // A 48-character window of the base64 text, from its middle (the head is the PEM header, the same in every
  // key), and the second and last-but-one body lines of the PEM.
  key.secrets.push_back(key.key_data.substr(key.key_data.size() / 2, 48));
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < pem.size()) {
    std::size_t end = pem.find('\n', at);
    lines.push_back(pem.substr(at, end == std::string::npos ? std::string::npos : end - at));
    at = end == std::string::npos ? pem.size() : end + 1;
  }
  if (lines.size() > 4) {
    key.secrets.push_back(lines[2]);
    key.secrets.push_back(lines[lines.size() - 3]);
  }
  return key;
}

// A kubeconfig for the fixture with one context per credential kind; `exec_command` is the plugin's path.
std::string kubeconfig(const testing::FakeApiserver& server, const ClientKey& key, const std::string& token,
                       const fs::path& exec_command) {
  json ca =
      json::parse(read_file(server.kubeconfig()))["clusters"][0]["cluster"]["certificate-authority-data"];
  json config = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"current-context", "token"},
      {"clusters",
       {{{"name", "fixture"},
         {"cluster", {{"server", server.server()}, {"certificate-authority-data", ca}}}}}},
      {"users",
       {{{"name", "token-user"}, {"user", {{"token", token}}}},
        {{"name", "cert-user"},
         {"user", {{"client-certificate-data", key.cert_data}, {"client-key-data", key.key_data}}}},
        {{"name", "exec-user"},
         {"user",
          {{"exec",
            {{"apiVersion", "client.authentication.k8s.io/v1"},
             {"command", exec_command.string()},
             {"interactiveMode", "Never"}}}}}},
        {{"name", "basic-user"}, {"user", {{"username", "admin"}, {"password", kPassword}}}}}},
      {"contexts",
       {{{"name", "token"}, {"context", {{"cluster", "fixture"}, {"user", "token-user"}}}},
        {{"name", "cert"}, {"context", {{"cluster", "fixture"}, {"user", "cert-user"}}}},
        {{"name", "exec"}, {"context", {{"cluster", "fixture"}, {"user", "exec-user"}}}},
        {{"name", "basic"}, {"context", {{"cluster", "fixture"}, {"user", "basic-user"}}}}}},
  };
  return config.dump(1);
}

// An exec credential plugin: a shell script that prints `stdout_text` and exits with `status`.
fs::path write_plugin(const Sandbox& sandbox, std::string_view name, const std::string& stdout_text,
                      int status) {
  fs::path path =
      sandbox.write(name, fmt::format("#!/bin/sh\ncat <<'KPEOF'\n{}\nKPEOF\nexit {}\n", stdout_text, status));
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

std::string exec_credential(std::string_view api_version, std::string_view token) {
  return json{{"apiVersion", api_version}, {"kind", "ExecCredential"}, {"status", {{"token", token}}}}.dump();
}

class Secrets : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::FakeApiserver>("secrets");
    ASSERT_TRUE(server_->ok()) << server_->error();
    // The fixture's own token stays accepted (its control calls use it), the test's are added.
    std::string own = json::parse(read_file(server_->kubeconfig()))["users"][0]["user"]["token"];
    json accepted = server_->control("POST", "/fixture/tokens",
                                     json{{"tokens", {own, std::string(kToken), std::string(kExecToken)}}});
    ASSERT_EQ(accepted.value("tokens", 0), 3) << accepted.dump();
    key_ = client_key(*server_);
    ASSERT_EQ(key_.secrets.size(), 3U);
    secrets_ = {std::string(kToken), std::string(kExecToken), std::string(kPassword)};
    secrets_.insert(secrets_.end(), key_.secrets.begin(), key_.secrets.end());
  }

  // Every place `ran` and its results folder could carry a secret; "" when none does.
  std::string leaks(const Ran& ran, const std::string& what) const {
    return find_secrets(secrets_, ran.out, what + ": stdout") +
           find_secrets(secrets_, ran.err, what + ": stderr") +
           find_secrets_in_folder(secrets_, sandbox_.work() / "results");
  }

  std::unique_ptr<testing::FakeApiserver> server_;
  ClientKey key_;
  std::vector<std::string> secrets_;
  Sandbox sandbox_;
};

// A run that works with each credential kind: the api phase on --target cluster (token, with /metrics
// scraped throughout), then preflight with the client key and with the exec plugin, and a dry run.
TEST_F(Secrets, NoSecretInAnyOutputOfARunThatWorks) {
  fs::path plugin =
      write_plugin(sandbox_, "plugin.sh", exec_credential("client.authentication.k8s.io/v1", kExecToken), 0);
  fs::path config = sandbox_.write("kubeconfig", kubeconfig(*server_, key_, std::string(kToken), plugin));
  const int port = free_port();
  ASSERT_GT(port, 0);

  Scraper scraper(port);
  Ran ran = sandbox_.run({"run", "--only", "api", "--target", "cluster", "--type", "smoke",
                          "--duration-scale", "0.05", "--kubeconfig", config.string(), "--metrics-listen",
                          fmt::format("127.0.0.1:{}", port), "--metrics-linger", "10s"});
  scraper.stop();
  // The run really ran: it measured the api rows, served /metrics and wrote its reports.
  EXPECT_TRUE(ran.exit_code == 0 || ran.exit_code == 1 || ran.exit_code == 3) << ran.exit_code << ran.err;
  EXPECT_NE(ran.out.find("api.mutating.p99"), std::string::npos) << ran.out;
  ASSERT_FALSE(scraper.answers().empty()) << "no /metrics scrape answered\n" << ran.err;
  EXPECT_NE(scraper.answers().back().find("kubeproof_"), std::string::npos) << scraper.answers().back();
  EXPECT_GE(count_files(sandbox_.work() / "results"), 4U);
  EXPECT_GT(server_->count("create"), 0);
  std::string found = leaks(ran, "run");
  for (const std::string& answer : scraper.answers()) {
    found += find_secrets(secrets_, answer, "/metrics");
  }

  Ran cert = sandbox_.run({"preflight", "--kubeconfig", config.string(), "--context", "cert"});
  EXPECT_EQ(cert.exit_code, 0) << cert.err;
  found += leaks(cert, "preflight --context cert");
  Ran exec = sandbox_.run({"preflight", "--kubeconfig", config.string(), "--context", "exec"});
  EXPECT_EQ(exec.exit_code, 0) << exec.err;
  found += leaks(exec, "preflight --context exec");
  Ran dry = sandbox_.run({"run", "--only", "api", "--target", "cluster", "--type", "load", "--kubeconfig",
                          config.string(), "--context", "exec", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  found += leaks(dry, "run --dry-run");
  EXPECT_EQ(found, "");
}

// Runs that fail because of the credentials themselves: their error messages name what is wrong, never the
// secret.
TEST_F(Secrets, NoSecretInTheErrorsOfRunsThatFailOnTheirCredentials) {
  std::string found;
  // A token the server refuses (401).
  fs::path good_plugin =
      write_plugin(sandbox_, "plugin.sh", exec_credential("client.authentication.k8s.io/v1", kExecToken), 0);
  fs::path refused =
      sandbox_.write("refused", kubeconfig(*server_, key_, std::string(kPassword), good_plugin));
  Ran unauthorized = sandbox_.run({"run", "--only", "api", "--target", "cluster", "--type", "smoke",
                                   "--duration-scale", "0.05", "--kubeconfig", refused.string()});
  EXPECT_NE(unauthorized.exit_code, 0);
  EXPECT_NE(unauthorized.err.find("401"), std::string::npos) << unauthorized.err;
  found += leaks(unauthorized, "refused token");
  Ran unauthorized_preflight = sandbox_.run({"preflight", "--kubeconfig", refused.string()});
  EXPECT_NE(unauthorized_preflight.exit_code, 0);
  found += leaks(unauthorized_preflight, "preflight, refused token");

  // Basic authentication: not supported (Kubernetes removed it in 1.19); refused before anything runs.
  Ran basic = sandbox_.run({"preflight", "--kubeconfig", refused.string(), "--context", "basic"});
  EXPECT_EQ(basic.exit_code, 2) << basic.err;
  EXPECT_NE(basic.err.find("basic authentication is not supported"), std::string::npos) << basic.err;
  found += leaks(basic, "basic auth");

  // A credential of the wrong type or encoding: the error names the field, not its value.
  const std::vector<std::pair<std::string, json>> malformed = {
      {"token", json::array({std::string(kToken)})},
      {"client-key-data", std::string(kToken) + "!"},  // not base64
  };
  for (const auto& [field, value] : malformed) {
    json config = json::parse(kubeconfig(*server_, key_, std::string(kToken), good_plugin));
    config["users"][0]["user"] = json{{field, value}};
    fs::path file = sandbox_.write("malformed-" + field, config.dump(1));
    Ran bad = sandbox_.run({"preflight", "--kubeconfig", file.string()});
    EXPECT_EQ(bad.exit_code, 2) << field << ": " << bad.err;
    EXPECT_NE(bad.err.find(field), std::string::npos) << bad.err;
    found += leaks(bad, "malformed " + field);
  }

  // Exec plugins whose output holds a token but is not a valid ExecCredential, or that fail after printing
  // one: the error says what is wrong with the output, not what it was.
  const std::vector<std::pair<std::string, int>> plugins = {
      {exec_credential("client.authentication.k8s.io/v1beta1", kExecToken), 0},  // apiVersion mismatch
      {json{{"apiVersion", "client.authentication.k8s.io/v1"}, {"kind", std::string(kExecToken)}}.dump(), 0},
      {fmt::format("not json {}", kExecToken), 0},
      {exec_credential("client.authentication.k8s.io/v1", kExecToken), 1},
      {json{{"apiVersion", "client.authentication.k8s.io/v1"},
            {"kind", "ExecCredential"},
            {"status", {{"token", kExecToken}, {"expirationTimestamp", std::string(kExecToken)}}}}
           .dump(),
       0},
  };
  for (std::size_t i = 0; i < plugins.size(); ++i) {
    fs::path plugin =
        write_plugin(sandbox_, fmt::format("bad-plugin-{}.sh", i), plugins[i].first, plugins[i].second);
    fs::path config = sandbox_.write(fmt::format("kubeconfig-{}", i),
                                     kubeconfig(*server_, key_, std::string(kToken), plugin));
    Ran bad = sandbox_.run({"preflight", "--kubeconfig", config.string(), "--context", "exec"});
    EXPECT_NE(bad.exit_code, 0) << i;
    EXPECT_NE(bad.err.find("exec plugin"), std::string::npos) << i << ": " << bad.err;
    found += leaks(bad, fmt::format("bad exec plugin {}", i));
  }
  EXPECT_EQ(found, "");
}

}  // namespace
}  // namespace kp
