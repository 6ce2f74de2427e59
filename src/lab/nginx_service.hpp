#pragma once

// nginx from Debian as the lab's ingress stand-in, on 127.0.0.1 with its own prefix, config, logs, temp dirs
// and pid file under the service dir (never /etc/nginx or a running system instance):
//   http  port: /small.txt (200, 100 bytes, like the anchor baselines), / (a small page), /healthz (200
//   "ok"),
//               /error (always 500), anything else 404
//   https port: the same site over TLS with a certificate made at start-up by the openssl CLI: a throw-away
//   CA
//               (tls/ca.pem) signing a server certificate for DNS:localhost and IP:127.0.0.1.
// The worker count and the access log (on for tests that compare counts, off for benchmarks) are options.
//
// make_nginx_service_spec() is the lab's ServiceSpec (registered in services.cpp). start_nginx()/stop() run
// one instance directly, for tests and bench/ that need their own instance in their own directory.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "lab/services.hpp"

namespace kp::lab {

struct NginxOptions {
  int workers = 1;
  bool access_log = false;  // logs/access.log, one line per request: "<status> <method> <uri> <port>"
};

// The options `kubeproof lab up` uses: workers from $KUBEPROOF_LAB_NGINX_WORKERS (default 1), access log on
// when $KUBEPROOF_LAB_NGINX_ACCESS_LOG is "on".
NginxOptions nginx_options_from_env();

std::unique_ptr<ServiceSpec> make_nginx_service_spec(NginxOptions options = nginx_options_from_env());

// Files of an nginx service dir (the lab's is <state_dir>/nginx).
inline std::filesystem::path nginx_ca_file(const std::filesystem::path& dir) {
  return dir / "tls" / "ca.pem";
}
inline std::filesystem::path nginx_access_log(const std::filesystem::path& dir) {
  return dir / "logs" / "access.log";
}
// The name the server certificate is issued for (besides IP 127.0.0.1).
inline constexpr std::string_view kNginxTlsName = "localhost";

// Writes the site, the certificates and nginx.conf into `dir` and returns the command line (the spec's
// command()). Ports by role: "http", "https".
Result<std::vector<std::string>> nginx_command(const NginxOptions& options,
                                               const std::filesystem::path& binary,
                                               const std::filesystem::path& dir,
                                               const std::map<std::string, std::uint16_t>& ports);

// A directly started instance (tests, bench). Stops it on destruction.
class NginxInstance {
 public:
  NginxInstance(NginxInstance&& other) noexcept;
  NginxInstance& operator=(NginxInstance&&) = delete;
  ~NginxInstance();

  pid_t pid() const { return pid_; }
  std::uint16_t http_port() const { return ports_.at("http"); }
  std::uint16_t https_port() const { return ports_.at("https"); }
  const std::filesystem::path& dir() const { return dir_; }
  std::string http_url(std::string_view path) const;
  std::string https_url(std::string_view path) const;
  Result<void> stop();

 private:
  friend Result<NginxInstance> start_nginx(const std::filesystem::path&, const NginxOptions&, Clock&,
                                           Duration);
  NginxInstance(pid_t pid, std::filesystem::path dir, std::map<std::string, std::uint16_t> ports,
                Clock& clock)
      : pid_(pid), dir_(std::move(dir)), ports_(std::move(ports)), clock_(&clock) {}
  pid_t pid_ = 0;
  std::filesystem::path dir_;
  std::map<std::string, std::uint16_t> ports_;
  Clock* clock_;
};

// Starts nginx in `dir` (emptied first) on free ports and polls /healthz until it answers or `timeout`
// passes. ErrorKind::unavailable when nginx is not installed.
Result<NginxInstance> start_nginx(const std::filesystem::path& dir, const NginxOptions& options, Clock& clock,
                                  Duration timeout = std::chrono::seconds(15));

}  // namespace kp::lab
