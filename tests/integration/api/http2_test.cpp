// The Kubernetes client over HTTP/2, proven with real components: Debian's nginx terminates TLS with h2
// (ALPN) on loopback and proxies to the API server fixture (which speaks only HTTP/1.1). nginx's own access
// log, with $server_protocol and $connection (its connection serial number), is the witness: the client's
// requests arrived as HTTP/2.0, and many concurrent requests shared very few TCP connections. A watch
// through the proxy (proxy_buffering off) must still deliver events as they happen.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "fake_apiserver.hpp"
#include "kube/watch.hpp"

namespace kp::kube {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeApiserver;
namespace fs = std::filesystem;

constexpr const char* kNginx = "/usr/sbin/nginx";

// Runs a command to completion with stdout/stderr into `log`; true when it exited 0.
bool run(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  for (const std::string& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return false;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A loopback port nobody listens on right now (the kernel's pick; nginx binds it a moment later).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// nginx with its own prefix, config, certificate and logs in a temp dir: h2 over TLS on 127.0.0.1, proxying
// everything to the fixture over HTTP/1.1 keep-alive.
class H2Proxy {
 public:
  H2Proxy(const std::string& name, int upstream_port) {
    dir_ = fs::temp_directory_path() / fmt::format("kp-h2-proxy-{}-{}", getpid(), name);
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "tmp");
    fs::path log = dir_ / "openssl.log";
    auto path = [&](const char* file) { return (dir_ / file).string(); };
    {
      std::ofstream ext(dir_ / "server.ext");
      ext << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    }
    bool certs =
        run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "2", "-subj", "/CN=kubeproof h2 test CA", "-keyout", path("ca.key"), "-out",
             path("ca.pem")},
            log) &&
        run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", "/CN=127.0.0.1", "-keyout", path("server.key"), "-out", path("server.csr")},
            log) &&
        run({"openssl", "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey",
             path("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", path("server.ext"), "-out",
             path("server.pem")},
            log);
    if (!certs) {
      error_ = fmt::format("openssl failed; see {}", log.string());
      return;
    }
    port_ = free_port();
    std::string d = dir_.string();
    // As root, workers would become "nobody", who may not read this dir.
    std::string user = geteuid() == 0 ? "user root;" : "";
    std::ofstream conf(dir_ / "nginx.conf");
    conf << fmt::format(R"({user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format h2 '$server_protocol $connection $status "$request"';
  access_log {d}/access.log h2;
  client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi; uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
  upstream fixture {{ server 127.0.0.1:{upstream}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{port} ssl http2;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    keepalive_requests 100000;
    http2_max_concurrent_streams 256;
    location / {{
      proxy_pass https://fixture;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
      proxy_ssl_verify off;
      proxy_ssl_session_reuse on;
    }}
  }}
}}
)",
                        fmt::arg("user", user), fmt::arg("d", d), fmt::arg("upstream", upstream_port),
                        fmt::arg("port", port_));
    conf.close();
    std::vector<std::string> args = {kNginx, "-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"};
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, kNginx, nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = 0;
      error_ = fmt::format("cannot run {} (Debian package nginx)", kNginx);
      return;
    }
    // Ready when a TCP connect succeeds (bounded; a failed connect returns at once on loopback).
    TimePoint deadline = real_clock().now() + seconds(15);
    while (real_clock().now() < deadline) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<std::uint16_t>(port_));
      int connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
      close(fd);
      if (connected == 0) {
        ready_ = true;
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        break;
      }
      real_clock().sleep_until(real_clock().now() + milliseconds(20));
    }
    std::ifstream errors(dir_ / "error.log");
    std::stringstream text;
    text << errors.rdbuf();
    error_ = fmt::format("nginx did not listen on 127.0.0.1:{}: {}", port_, text.str());
  }
  ~H2Proxy() {
    if (pid_ > 0) {
      kill(pid_, SIGQUIT);  // graceful: workers finish and flush the access log
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    fs::remove_all(dir_);
  }
  H2Proxy(const H2Proxy&) = delete;
  H2Proxy& operator=(const H2Proxy&) = delete;

  bool ok() const { return ready_; }
  const std::string& error() const { return error_; }
  std::string server() const { return fmt::format("https://127.0.0.1:{}", port_); }
  fs::path ca_file() const { return dir_ / "ca.pem"; }

  struct LogLine {
    std::string protocol;
    std::string connection;
    int status = 0;
    std::string request;
  };
  // Access-log lines whose request line contains `marker`, once there are `expected` of them (or 10 s
  // passed): nginx logs a request in its log phase, just after the last byte went out, so the client can hold
  // a response a moment before its line is written.
  std::vector<LogLine> log_lines(const std::string& marker, std::size_t expected) const {
    TimePoint deadline = real_clock().now() + seconds(10);
    std::vector<LogLine> lines = read_log(marker);
    while (lines.size() < expected && real_clock().now() < deadline) {
      real_clock().sleep_until(real_clock().now() + milliseconds(10));
      lines = read_log(marker);
    }
    return lines;
  }

 private:
  std::vector<LogLine> read_log(const std::string& marker) const {
    std::vector<LogLine> lines;
    std::ifstream in(dir_ / "access.log");
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(marker) == std::string::npos) {
        continue;
      }
      std::istringstream fields(line);
      LogLine parsed;
      fields >> parsed.protocol >> parsed.connection >> parsed.status;
      std::getline(fields, parsed.request);
      lines.push_back(parsed);
    }
    return lines;
  }

  fs::path dir_;
  pid_t pid_ = 0;
  int port_ = 0;
  bool ready_ = false;
  std::string error_;
};

class Http2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new FakeApiserver("h2");
    if (server_->ok()) {
      proxy_ = new H2Proxy("h2", server_->port());
    }
  }
  static void TearDownTestSuite() {
    delete proxy_;
    proxy_ = nullptr;
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->error();
    ASSERT_TRUE(proxy_->ok()) << proxy_->error();
  }
  // The fixture's token user, but the server is nginx and the CA nginx's.
  static std::unique_ptr<Transport> connect(ClientOptions options) {
    Result<RestConfig> config = server_->rest_config("token");
    EXPECT_TRUE(config);
    config->server = proxy_->server();
    config->ca_data.clear();
    config->ca_file = proxy_->ca_file();
    Result<std::unique_ptr<Transport>> transport = Transport::create(*config, options, real_clock());
    EXPECT_TRUE(transport);
    return std::move(*transport);
  }
  // Submits `count` GETs of distinct names at once and waits for all of them.
  static std::vector<Result<Response>> concurrent_gets(Transport& transport, const std::string& marker,
                                                       int count) {
    std::vector<std::future<Result<Response>>> futures;
    for (int i = 0; i < count; ++i) {
      auto promise = std::make_shared<std::promise<Result<Response>>>();
      futures.push_back(promise->get_future());
      Request request;
      request.path = fmt::format("/api/v1/namespaces/default/configmaps/{}-{}", marker, i);
      transport.submit(std::move(request),
                       [promise](Result<Response> result) { promise->set_value(std::move(result)); });
    }
    std::vector<Result<Response>> results;
    for (auto& future : futures) {
      results.push_back(future.get());
    }
    return results;
  }
  static FakeApiserver* server_;
  static H2Proxy* proxy_;
};
FakeApiserver* Http2::server_ = nullptr;
H2Proxy* Http2::proxy_ = nullptr;

constexpr int kConcurrent = 50;

TEST_F(Http2, ConcurrentRequestsAreMultiplexedOnFewConnections) {
  ClientOptions options;
  options.qps = 1000;
  options.burst = kConcurrent;  // the whole batch is allowed at once, so it is in flight together
  auto transport = connect(options);
  std::vector<Result<Response>> results = concurrent_gets(*transport, "h2mux", kConcurrent);
  for (const Result<Response>& result : results) {
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->status, 404) << result->body;  // the fixture answered (no such configmap)
    EXPECT_EQ(result->http_version, 2);
  }
  TransportStats stats = transport->stats();
  EXPECT_EQ(stats.requests, static_cast<std::uint64_t>(kConcurrent));
  EXPECT_EQ(stats.http2, static_cast<std::uint64_t>(kConcurrent));
  EXPECT_LE(stats.connections, 2u);

  std::vector<H2Proxy::LogLine> lines = proxy_->log_lines("/configmaps/h2mux-", kConcurrent);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kConcurrent));
  std::set<std::string> connections;
  for (const H2Proxy::LogLine& line : lines) {
    EXPECT_EQ(line.protocol, "HTTP/2.0") << line.request;
    EXPECT_EQ(line.status, 404) << line.request;
    connections.insert(line.connection);
  }
  EXPECT_LE(connections.size(), 2u) << kConcurrent << " concurrent requests must share connections";
}

// The contrast that makes the test above mean something: with HTTP/2 off, the same batch arrives as
// HTTP/1.1, and concurrency needs one connection per request in flight.
TEST_F(Http2, Http1BatchNeedsManyConnections) {
  ClientOptions options;
  options.qps = 1000;
  options.burst = kConcurrent;
  options.http2 = false;
  auto transport = connect(options);
  std::vector<Result<Response>> results = concurrent_gets(*transport, "h1batch", kConcurrent);
  for (const Result<Response>& result : results) {
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->http_version, 11);
  }
  std::vector<H2Proxy::LogLine> lines = proxy_->log_lines("/configmaps/h1batch-", kConcurrent);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kConcurrent));
  std::set<std::string> connections;
  for (const H2Proxy::LogLine& line : lines) {
    EXPECT_EQ(line.protocol, "HTTP/1.1") << line.request;
    connections.insert(line.connection);
  }
  EXPECT_GT(connections.size(), 2u);
}

TEST_F(Http2, SequentialRequestsReuseOneConnection) {
  auto transport = connect({});
  for (int i = 0; i < 20; ++i) {
    Request request;
    request.path = fmt::format("/api/v1/namespaces/default/configmaps/h2seq-{}", i);
    Result<Response> response = transport->call(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->http_version, 2);
  }
  std::vector<H2Proxy::LogLine> lines = proxy_->log_lines("/configmaps/h2seq-", 20);
  ASSERT_EQ(lines.size(), 20u);
  std::set<std::string> connections;
  for (const H2Proxy::LogLine& line : lines) {
    connections.insert(line.connection);
  }
  EXPECT_EQ(connections.size(), 1u);
  EXPECT_EQ(transport->stats().connections, 1u);
}

TEST_F(Http2, WatchThroughTheProxyDeliversEvents) {
  auto transport = connect({});
  Api api(*transport);
  Resource configmaps = *builtin_resource("v1", "ConfigMap");
  ASSERT_TRUE(
      api.create(namespaces_resource(), "",
                 json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "h2watch"}}}}));
  ApiResult<ListResult> listed = api.list(configmaps, "h2watch");
  ASSERT_TRUE(listed) << listed.error().error.message;
  WatchOptions options;
  options.resource_version = listed->resource_version;
  auto stream = WatchStream::open(*transport, real_clock(), configmaps, "h2watch", options);
  std::vector<std::string> added;
  for (int i = 0; i < 3; ++i) {
    std::string name = fmt::format("w{}", i);
    ASSERT_TRUE(api.create(configmaps, "h2watch",
                           json{{"apiVersion", "v1"},
                                {"kind", "ConfigMap"},
                                {"metadata", {{"name", name}}},
                                {"data", {{"i", std::to_string(i)}}}}));
    // Each event must arrive while the stream stays open: the proxy must not buffer the response.
    TimePoint deadline = real_clock().now() + seconds(10);
    while (added.size() < static_cast<std::size_t>(i + 1) && real_clock().now() < deadline) {
      ApiResult<WatchStream::Next> next = stream->next(deadline);
      ASSERT_TRUE(next) << next.error().error.message;
      ASSERT_NE(next->status, WatchStream::Status::closed);
      if (next->status == WatchStream::Status::event && next->event.type == WatchEvent::Type::added) {
        added.push_back(next->event.object["metadata"]["name"].get<std::string>());
      }
    }
  }
  EXPECT_EQ(added, (std::vector<std::string>{"w0", "w1", "w2"}));
  // The watch shared the connection of the requests around it.
  EXPECT_EQ(transport->stats().connections, 1u);
  EXPECT_GE(transport->stats().http2, 4u);
}

}  // namespace
}  // namespace kp::kube
