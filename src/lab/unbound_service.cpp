#include "lab/unbound_service.hpp"

#include <charconv>
#include <fstream>

#include <fmt/format.h>

#include "lab/cluster_zone.hpp"
#include "lab/dns_probe.hpp"
#include "lab/lab.hpp"

namespace kp::lab {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kLoopback = "127.0.0.1";

// The name both health checks ask for: it exists in every cluster, and in the lab's zone.
std::string health_name() {
  return fmt::format("kubernetes.default.svc.{}", ClusterShape{}.domain);
}

std::string config_path(const fs::path& dir) {
  return (dir / "unbound.conf").string();
}

Result<void> write_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return fail(ErrorKind::io, fmt::format("lab: cannot write \"{}\"", file.string()));
  }
  return {};
}

// Settings both servers share: loopback only, foreground, no privileges dropped (the lab runs as whoever
// runs it), logs and state in the service's dir, no pid file of unbound's own (the lab keeps the pid).
std::string common_server_block(const fs::path& dir, std::uint16_t port, int threads) {
  return fmt::format(
      "server:\n"
      "    interface: {0}@{1}\n"
      "    port: {1}\n"
      "    do-ip4: yes\n"
      "    do-ip6: no\n"
      "    do-udp: yes\n"
      "    do-tcp: yes\n"
      "    num-threads: {2}\n"
      "    so-reuseport: yes\n"
      "    username: \"\"\n"
      "    chroot: \"\"\n"
      "    directory: \"{3}\"\n"
      "    pidfile: \"\"\n"
      "    logfile: \"{4}\"\n"
      "    use-syslog: no\n"
      "    verbosity: 1\n"
      "    access-control: 127.0.0.0/8 allow\n"
      "    module-config: \"iterator\"\n"
      "    minimal-responses: yes\n",
      kLoopback, port, threads, dir.string(), (dir / "unbound.log").string());
}

Result<std::uint16_t> port_of(const std::map<std::string, std::string>& endpoints, const std::string& role) {
  auto found = endpoints.find(role);
  if (found == endpoints.end()) {
    return fail(ErrorKind::internal, fmt::format("lab: no \"{}\" endpoint", role));
  }
  std::string_view text = found->second;
  std::size_t colon = text.rfind(':');
  unsigned port = 0;
  if (colon == std::string_view::npos ||
      std::from_chars(text.data() + colon + 1, text.data() + text.size(), port).ec != std::errc{} ||
      port == 0 || port > 65535) {
    return fail(ErrorKind::internal, fmt::format("lab: bad endpoint \"{}\"", text));
  }
  return static_cast<std::uint16_t>(port);
}

// Healthy = answers the health name with NOERROR and an address: for the cache that also proves the forward
// path to the authority works.
Result<void> check_answers(const std::map<std::string, std::string>& endpoints, Duration timeout) {
  Result<std::uint16_t> port = port_of(endpoints, "dns");
  if (!port) {
    return std::unexpected(port.error());
  }
  Result<ProbeAnswer> answer = probe_dns(kLoopback, *port, health_name(), timeout);
  if (!answer) {
    return fail(ErrorKind::unavailable, answer.error().message);
  }
  if (answer->rcode != 0 || answer->answers == 0) {
    return fail(ErrorKind::unavailable,
                fmt::format("{}:{} answered {} A with RCODE {} and {} records", kLoopback, *port,
                            health_name(), answer->rcode, answer->answers));
  }
  return {};
}

class UnboundZoneSpec final : public ServiceSpec {
 public:
  std::string_view name() const override { return kUnboundZoneService; }
  std::string_view binary_name() const override { return "unbound"; }
  std::string_view debian_package() const override { return "unbound"; }
  std::vector<std::string> port_roles() const override { return {"dns"}; }

  Result<std::vector<std::string>> command(const fs::path& binary, const fs::path& dir,
                                           const std::map<std::string, std::uint16_t>& ports) const override {
    const ClusterShape shape;
    std::string config = common_server_block(dir, ports.at("dns"), 1);
    // Every name outside the served zones is NXDOMAIN with the root's SOA: the lab never recurses to the
    // internet, and negative answers stay cacheable downstream.
    config += "    local-zone: \".\" static\n";
    config += "    local-data: \". 30 IN SOA a.root.lab. hostmaster.lab. 1 7200 1800 86400 30\"\n";
    for (const std::string& zone : zone_names(shape)) {
      config += fmt::format("    local-zone: \"{}.\" static\n", zone);
    }
    for (const ZoneRecord& record : cluster_zone_records(shape)) {
      config += fmt::format("    local-data: \"{}\"\n", record.text());
    }
    config += "remote-control:\n    control-enable: no\n";
    if (Result<void> written = write_file(config_path(dir), config); !written) {
      return std::unexpected(written.error());
    }
    // The zone as a file too, for people and tests (the same records, zone-file syntax).
    std::string zone_file;
    for (const ZoneRecord& record : cluster_zone_records(shape)) {
      zone_file += record.text() + "\n";
    }
    if (Result<void> written = write_file(dir / "cluster.zone", zone_file); !written) {
      return std::unexpected(written.error());
    }
    // -d: stay in the foreground so the spawned pid is unbound's own; -p: no pid file of its own.
    return std::vector<std::string>{binary.string(), "-d", "-p", "-c", config_path(dir)};
  }

  fs::path log_file(const fs::path& dir) const override { return dir / "unbound.log"; }

  std::map<std::string, std::string> endpoints(
      const std::map<std::string, std::uint16_t>& ports) const override {
    return {{"dns", fmt::format("{}:{}", kLoopback, ports.at("dns"))}};
  }

  Result<void> check_health(const std::map<std::string, std::string>& endpoints,
                            Duration timeout) const override {
    return check_answers(endpoints, timeout);
  }
};

class UnboundCacheSpec final : public ServiceSpec {
 public:
  std::string_view name() const override { return kUnboundService; }
  std::string_view binary_name() const override { return "unbound"; }
  std::string_view debian_package() const override { return "unbound"; }
  std::vector<std::string> port_roles() const override { return {"dns", "control"}; }

  Result<std::vector<std::string>> command(const fs::path& binary, const fs::path& dir,
                                           const std::map<std::string, std::uint16_t>& ports) const override {
    // The authority runs from the same state dir; its record says where it listens.
    const fs::path state_dir = dir.parent_path();
    Result<std::optional<ServiceRecord>> upstream = read_record(state_dir, kUnboundZoneService);
    if (!upstream) {
      return std::unexpected(upstream.error());
    }
    if (!*upstream || !is_same_service(**upstream, (*upstream)->pid) || !(*upstream)->ports.contains("dns")) {
      return fail(
          ErrorKind::unavailable,
          fmt::format("lab: {} forwards to {}, which is not running in \"{}\"; start both (`kubeproof lab "
                      "up` starts {} first)",
                      kUnboundService, kUnboundZoneService, state_dir.string(), kUnboundZoneService));
    }
    const std::uint16_t upstream_port = (*upstream)->ports.at("dns");
    std::string config = common_server_block(dir, ports.at("dns"), 2);
    config += fmt::format(
        // Bursts of outstanding queries overflow the default 208 KiB receive buffer (the anchor baselines
        // lost queries exactly so); as root unbound forces the size past rmem_max.
        "    so-rcvbuf: 4m\n"
        "    so-sndbuf: 4m\n"
        "    msg-cache-size: 64m\n"
        "    rrset-cache-size: 128m\n"
        "    num-queries-per-thread: 4096\n"
        "    outgoing-range: 8192\n"
        // Statistics never reset, not even by `unbound-control stats`: the phase takes differences.
        "    extended-statistics: yes\n"
        "    statistics-cumulative: yes\n"
        "    statistics-interval: 0\n"
        // Answers expire with their TTLs and are fetched again, as CoreDNS's cache does: no prefetch, no
        // serving of expired data.
        "    prefetch: no\n"
        "    serve-expired: no\n"
        "    qname-minimisation: no\n"
        // The upstream is on loopback, and an overloaded upstream must not be written off for 15 minutes.
        "    do-not-query-localhost: no\n"
        "    infra-keep-probing: yes\n"
        "forward-zone:\n"
        "    name: \".\"\n"
        "    forward-addr: {0}@{1}\n"
        "remote-control:\n"
        "    control-enable: yes\n"
        "    control-interface: {0}\n"
        "    control-port: {2}\n"
        "    control-use-cert: no\n",
        kLoopback, upstream_port, ports.at("control"));
    if (Result<void> written = write_file(config_path(dir), config); !written) {
      return std::unexpected(written.error());
    }
    return std::vector<std::string>{binary.string(), "-d", "-p", "-c", config_path(dir)};
  }

  fs::path log_file(const fs::path& dir) const override { return dir / "unbound.log"; }

  std::map<std::string, std::string> endpoints(
      const std::map<std::string, std::uint16_t>& ports) const override {
    return {{"dns", fmt::format("{}:{}", kLoopback, ports.at("dns"))},
            {"control", fmt::format("{}:{}", kLoopback, ports.at("control"))}};
  }

  Result<void> check_health(const std::map<std::string, std::string>& endpoints,
                            Duration timeout) const override {
    return check_answers(endpoints, timeout);
  }
};

}  // namespace

std::unique_ptr<ServiceSpec> make_unbound_zone_service() {
  return std::make_unique<UnboundZoneSpec>();
}

std::unique_ptr<ServiceSpec> make_unbound_service() {
  return std::make_unique<UnboundCacheSpec>();
}

}  // namespace kp::lab
