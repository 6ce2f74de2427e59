#include "lab/nginx_service.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "lab/http_get.hpp"
#include "lab/ports.hpp"
#include "lab/process.hpp"

extern char** environ;

namespace kp::lab {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kLoopback = "127.0.0.1";
constexpr Duration kHealthPoll = std::chrono::milliseconds(20);
constexpr Duration kStopGrace = std::chrono::seconds(10);

Result<void> write_file(const fs::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return fail(ErrorKind::io, fmt::format("lab: nginx: cannot write \"{}\"", file.string()));
  }
  return {};
}

// A throw-away CA and a server certificate it signs, for DNS:localhost and IP:127.0.0.1 (EC P-256: fast to
// make).
Result<void> make_certificates(const fs::path& tls) {
  fs::path log = tls / "openssl.log";
  auto path = [&](std::string_view name) { return (tls / std::string(name)).string(); };
  if (auto written = write_file(tls / "server.ext",
                                "basicConstraints=critical,CA:FALSE\n"
                                "keyUsage=critical,digitalSignature\n"
                                "extendedKeyUsage=serverAuth\n"
                                "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
      !written) {
    return written;
  }
  std::vector<std::vector<std::string>> steps = {
      {"openssl",
       "req",
       "-x509",
       "-newkey",
       "ec",
       "-pkeyopt",
       "ec_paramgen_curve:prime256v1",
       "-nodes",
       "-days",
       "30",
       "-subj",
       "/CN=kubeproof lab CA",
       "-addext",
       "basicConstraints=critical,CA:TRUE",
       "-addext",
       "keyUsage=critical,keyCertSign,cRLSign",
       "-keyout",
       path("ca.key"),
       "-out",
       path("ca.pem")},
      {"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-subj", "/CN=localhost", "-keyout", path("server.key"), "-out", path("server.csr")},
      {"openssl", "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
       "-CAcreateserial", "-days", "30", "-extfile", path("server.ext"), "-out", path("server.pem")},
  };
  for (const auto& step : steps) {
    if (auto ran = run_to_completion(step, log, "lab: nginx", "openssl"); !ran) {
      return ran;
    }
  }
  return {};
}

std::string nginx_config(const NginxOptions& options, const fs::path& dir,
                         const std::map<std::string, std::uint16_t>& ports) {
  std::string d = dir.string();
  // Running as root, workers would switch to "nobody", who may not read a state dir under /root.
  std::string user = geteuid() == 0 ? "user root;\n" : "";
  std::string access_log = options.access_log ? fmt::format("access_log {}/logs/access.log counts;", d)
                                              : std::string("access_log off;");
  return fmt::format(R"(# Written by kubeproof's lab; regenerated at every start.
{user}worker_processes {workers};
daemon off;
master_process on;
pid {d}/run/nginx-master.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 8192; multi_accept on; }}
http {{
    log_format counts '$status $request_method $request_uri $server_port';
    {access_log}
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_timeout 65; keepalive_requests 1000000;
    open_file_cache max=100 inactive=60s;
    client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi; uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
    default_type text/plain;
    types {{ text/html html; text/plain txt; }}
    server {{
        listen {host}:{http} reuseport backlog=4096;
        listen {host}:{https} ssl reuseport backlog=4096;
        ssl_certificate {d}/tls/server.pem;
        ssl_certificate_key {d}/tls/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root {d}/html;
        location = /healthz {{ return 200 "ok\n"; }}
        location = /error {{ return 500; }}
        location = /small.txt {{ }}
        location = / {{ index index.html; }}
        location = /index.html {{ }}
        location / {{ return 404; }}
    }}
}}
)",
                     fmt::arg("user", user), fmt::arg("workers", options.workers), fmt::arg("d", d),
                     fmt::arg("access_log", access_log), fmt::arg("host", kLoopback),
                     fmt::arg("http", ports.at("http")), fmt::arg("https", ports.at("https")));
}

class NginxSpec final : public ServiceSpec {
 public:
  explicit NginxSpec(NginxOptions options) : options_(options) {}
  std::string_view name() const override { return "nginx"; }
  std::string_view binary_name() const override { return "nginx"; }
  std::string_view debian_package() const override { return "nginx"; }
  std::vector<std::string> port_roles() const override { return {"http", "https"}; }

  Result<std::vector<std::string>> command(const fs::path& binary, const fs::path& dir,
                                           const std::map<std::string, std::uint16_t>& ports) const override {
    return nginx_command(options_, binary, dir, ports);
  }

  fs::path log_file(const fs::path& dir) const override { return dir / "logs" / "error.log"; }

  std::map<std::string, std::string> endpoints(
      const std::map<std::string, std::uint16_t>& ports) const override {
    return {
        {"http", fmt::format("http://{}:{}", kLoopback, ports.at("http"))},
        {"https", fmt::format("https://{}:{}", kLoopback, ports.at("https"))},
        {"url", fmt::format("http://{}:{}/small.txt", kLoopback, ports.at("http"))},
        {"tls_url", fmt::format("https://{}:{}/small.txt", kLoopback, ports.at("https"))},
        {"error_url", fmt::format("http://{}:{}/error", kLoopback, ports.at("http"))},
        {"health", fmt::format("http://{}:{}/healthz", kLoopback, ports.at("http"))},
    };
  }

  Result<void> check_health(const std::map<std::string, std::string>& endpoints,
                            Duration timeout) const override {
    const std::string& url = endpoints.at("health");
    Result<http::Response> response = http::get(url, timeout);
    if (!response) {
      return std::unexpected(response.error());
    }
    if (response->status != 200) {
      return fail(ErrorKind::unavailable, fmt::format("GET {}: HTTP {}", url, response->status));
    }
    return {};
  }

 private:
  NginxOptions options_;
};

}  // namespace

NginxOptions nginx_options_from_env() {
  NginxOptions options;
  if (const char* workers = std::getenv("KUBEPROOF_LAB_NGINX_WORKERS"); workers != nullptr) {
    int value = std::atoi(workers);
    if (value >= 1 && value <= 64) {
      options.workers = value;
    }
  }
  if (const char* log = std::getenv("KUBEPROOF_LAB_NGINX_ACCESS_LOG"); log != nullptr) {
    options.access_log = std::string_view(log) == "on";
  }
  return options;
}

std::unique_ptr<ServiceSpec> make_nginx_service_spec(NginxOptions options) {
  return std::make_unique<NginxSpec>(options);
}

Result<std::vector<std::string>> nginx_command(const NginxOptions& options, const fs::path& binary,
                                               const fs::path& dir,
                                               const std::map<std::string, std::uint16_t>& ports) {
  std::error_code error;
  for (const char* sub : {"html", "logs", "tmp", "run", "tls"}) {
    fs::create_directories(dir / sub, error);
    if (error) {
      return fail(ErrorKind::io,
                  fmt::format("lab: nginx: cannot create \"{}\": {}", (dir / sub).string(), error.message()));
    }
  }
  if (auto written = write_file(dir / "html" / "small.txt", std::string(100, 'x')); !written) {
    return std::unexpected(written.error());
  }
  if (auto written = write_file(dir / "html" / "index.html",
                                "<!doctype html><title>kubeproof lab</title><p>kubeproof lab ingress</p>\n");
      !written) {
    return std::unexpected(written.error());
  }
  if (auto made = make_certificates(dir / "tls"); !made) {
    return std::unexpected(made.error());
  }
  if (auto written = write_file(dir / "nginx.conf", nginx_config(options, dir, ports)); !written) {
    return std::unexpected(written.error());
  }
  // -e: the error log before the config is read (else the compiled-in /var/log/nginx/error.log); -p: prefix.
  return std::vector<std::string>{binary.string(),    "-c", (dir / "nginx.conf").string(),        "-p",
                                  dir.string() + "/", "-e", (dir / "logs" / "error.log").string()};
}

NginxInstance::NginxInstance(NginxInstance&& other) noexcept
    : pid_(std::exchange(other.pid_, 0)),
      dir_(std::move(other.dir_)),
      ports_(std::move(other.ports_)),
      clock_(other.clock_) {}

NginxInstance::~NginxInstance() {
  (void)stop();
}

std::string NginxInstance::http_url(std::string_view path) const {
  return fmt::format("http://{}:{}{}", kLoopback, http_port(), path);
}

std::string NginxInstance::https_url(std::string_view path) const {
  return fmt::format("https://{}:{}{}", kLoopback, https_port(), path);
}

Result<void> NginxInstance::stop() {
  if (pid_ <= 0) {
    return {};
  }
  // Our own child: the pid cannot have been recycled before we reap it.
  Result<void> stopped = terminate_process(pid_, *clock_, kStopGrace);
  pid_ = 0;
  return stopped;
}

Result<NginxInstance> start_nginx(const fs::path& dir, const NginxOptions& options, Clock& clock,
                                  Duration timeout) {
  std::optional<fs::path> binary = find_executable("nginx");
  if (!binary) {
    binary = find_executable("/usr/sbin/nginx");
  }
  if (!binary) {
    return fail(ErrorKind::unavailable, "lab: nginx: executable \"nginx\" not found (Debian package nginx)");
  }
  Result<std::vector<std::uint16_t>> free = choose_free_ports(2);
  if (!free) {
    return std::unexpected(free.error());
  }
  std::map<std::string, std::uint16_t> ports = {{"http", (*free)[0]}, {"https", (*free)[1]}};
  std::error_code error;
  fs::remove_all(dir, error);
  fs::create_directories(dir, error);
  fs::path absolute = fs::absolute(dir);
  Result<std::vector<std::string>> command = nginx_command(options, *binary, absolute, ports);
  if (!command) {
    return std::unexpected(command.error());
  }
  Result<pid_t> pid = spawn_detached(*command, absolute / "logs" / "stdout.log");
  if (!pid) {
    return std::unexpected(pid.error());
  }
  NginxInstance instance(*pid, absolute, ports, clock);
  NginxSpec spec(options);
  std::map<std::string, std::string> endpoints = spec.endpoints(ports);
  TimePoint deadline = clock.now() + timeout;
  while (true) {
    if (!process_alive(*pid)) {
      return fail(ErrorKind::unavailable, fmt::format("lab: nginx exited during start-up: {}",
                                                      tail_of_file(absolute / "logs" / "error.log", 3) + " " +
                                                          tail_of_file(absolute / "logs" / "stdout.log", 3)));
    }
    Result<void> health = spec.check_health(endpoints, std::chrono::seconds(1));
    if (health) {
      return instance;
    }
    if (clock.now() >= deadline) {
      return fail(ErrorKind::timeout, fmt::format("lab: nginx not healthy after {}: {}",
                                                  format_duration(timeout), health.error().message));
    }
    clock.sleep_until(std::min(deadline, clock.now() + kHealthPoll));
  }
}

}  // namespace kp::lab
