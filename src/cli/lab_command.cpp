#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/command.hpp"
#include "core/clock.hpp"
#include "core/flag_values.hpp"
#include "lab/lab.hpp"
#include "lab/netns.hpp"

namespace kp::cli {
namespace {

struct LabFlags {
  std::string state_dir;
  std::vector<std::string> services;
  std::vector<std::string> ports;  // "etcd.client=2379"
  std::string health_timeout = "30s";
  std::string etcd_members = "1";  // a string, so a bad value gets our one-line message, not CLI11's
};

std::filesystem::path state_dir_of(const LabFlags& flags) {
  return flags.state_dir.empty() ? lab::default_state_dir() : std::filesystem::path(flags.state_dir);
}

Result<std::map<std::string, std::uint16_t>> parse_ports(const std::vector<std::string>& given) {
  std::map<std::string, std::uint16_t> ports;
  for (const std::string& entry : given) {
    auto equals = entry.find('=');
    unsigned long port = 0;
    bool ok = equals != std::string::npos && equals > 0;
    if (ok) {
      try {
        std::size_t used = 0;
        port = std::stoul(entry.substr(equals + 1), &used);
        ok = used == entry.size() - equals - 1 && port > 0 && port < 65536;
      } catch (...) {
        ok = false;
      }
    }
    if (!ok) {
      return fail(
          ErrorKind::usage,
          fmt::format("--port: expected SERVICE.ROLE=PORT (e.g. etcd.client=2379), got \"{}\"", entry));
    }
    ports[entry.substr(0, equals)] = static_cast<std::uint16_t>(port);
  }
  return ports;
}

Result<int> parse_etcd_members(const std::string& text) {
  if (text == "1" || text == "3" || text == "5") {
    return text[0] - '0';
  }
  return flag_error("etcd-members", "must be 1, 3 or 5", text);
}

}  // namespace

Command add_lab_command(CLI::App& parent) {
  auto flags = std::make_shared<LabFlags>();
  Command command;
  command.app = parent.add_subcommand("lab",
                                      "Start, inspect and stop the local lab of real services (etcd, "
                                      "unbound, nginx, kube-apiserver when found) on 127.0.0.1");
  command.app->require_subcommand(1);
  command.app->add_option("--lab-dir", flags->state_dir,
                          "State dir of the lab (default $KUBEPROOF_LAB_DIR or ./.kubeproof/lab)");
  CLI::App* up =
      command.app->add_subcommand("up", "Start the lab's services and wait until they are healthy");
  up->add_option("--service", flags->services, "Start only these services (repeatable; default: all)");
  up->add_option("--port", flags->ports, "Fix a port: SERVICE.ROLE=PORT, e.g. etcd.client=2379 (repeatable)");
  up->add_option("--health-timeout", flags->health_timeout, "How long to wait for health");
  up->add_option("--etcd-members", flags->etcd_members,
                 "Members of the lab's etcd: 1 (default), 3 or 5, all on 127.0.0.1, so leader elections can "
                 "happen");
  CLI::App* status =
      command.app->add_subcommand("status", "Show each service, its pid, endpoints and health");
  CLI::App* down = command.app->add_subcommand("down", "Stop the lab's services and remove their state");

  command.run = [flags, up, status, down]() -> Outcome {
    const std::filesystem::path dir = state_dir_of(*flags);
    if (up->parsed()) {
      Result<Duration> timeout = parse_duration(flags->health_timeout);
      if (!timeout) {
        return std::unexpected(Error{ErrorKind::usage, "--health-timeout: " + timeout.error().message});
      }
      Result<std::map<std::string, std::uint16_t>> ports = parse_ports(flags->ports);
      if (!ports) {
        return std::unexpected(ports.error());
      }
      Result<int> etcd_members = parse_etcd_members(flags->etcd_members);
      if (!etcd_members) {
        return std::unexpected(etcd_members.error());
      }
      // The network namespaces are not a process, so not a ServiceSpec: they are set up beside the services.
      bool want_netns = flags->services.empty();
      std::vector<std::string> services;
      for (const std::string& service : flags->services) {
        if (service == "netns") {
          want_netns = true;
        } else {
          services.push_back(service);
        }
      }
      lab::LabOptions options;
      options.state_dir = dir;
      options.services = services;  // empty: every known service
      options.ports = *ports;
      options.health_timeout = *timeout;
      options.etcd_members = *etcd_members;
      // `--service netns` alone starts no process.
      Result<std::vector<lab::ServiceRecord>> started = std::vector<lab::ServiceRecord>{};
      std::vector<std::string> left_out;
      if (!services.empty() || flags->services.empty()) {
        started = lab::up(options, real_clock(), left_out);
      }
      if (!started) {
        return std::unexpected(started.error());
      }
      if (want_netns) {
        Result<lab::NetnsRecord> netns = lab::netns_up(dir, lab::NetnsLayout{}, real_clock());
        if (netns) {
          fmt::print("{:<14} {}\n", "netns", lab::netns_status(dir, real_clock()).detail);
        } else if (netns.error().kind == ErrorKind::unavailable) {
          fmt::print("network namespaces: skipped: {}\n", netns.error().message);
        } else {
          return std::unexpected(netns.error());
        }
      }
      for (const lab::ServiceRecord& record : *started) {
        std::vector<std::string> endpoints;
        for (const auto& [role, endpoint] : record.endpoints) {
          endpoints.push_back(fmt::format("{}={}", role, endpoint));
        }
        fmt::print("{:<14} pid {:<7} {}  log {}\n", record.name, record.pid, fmt::join(endpoints, " "),
                   record.log_file.string());
      }
      for (const std::string& line : left_out) {
        fmt::print("{}\n", line);
      }
      fmt::print("lab up: {} service(s) healthy; state in {}\n", started->size(), dir.string());
      return 0;
    }
    if (status->parsed()) {
      int unhealthy = 0;
      const std::vector<lab::ServiceStatus> statuses = lab::status(dir, std::chrono::seconds(2));
      // The name column fits the longest name (kube-controller-manager), so the columns line up.
      std::size_t width = std::string_view("netns").size();
      for (const lab::ServiceStatus& service : statuses) {
        width = std::max(width, service.name.size());
      }
      for (const lab::ServiceStatus& service : statuses) {
        std::string pid = service.record ? fmt::format("{}", service.record->pid) : "-";
        std::string endpoint = "-";
        if (service.record && !service.record->endpoints.empty()) {
          endpoint = service.record->endpoints.begin()->second;
        }
        fmt::print("{:<{}} {:<8} {:<40} {}\n", service.name, width, pid, endpoint, service.detail);
        if (service.record && !service.healthy) {
          ++unhealthy;
        }
      }
      lab::NetnsStatus netns = lab::netns_status(dir, real_clock());
      fmt::print("{:<{}} {:<8} {:<40} {}\n", "netns", width, "-", "-", netns.detail);
      if (netns.record && !netns.healthy) {
        ++unhealthy;
      }
      // A started service that is not healthy is worth a non-zero exit for scripts.
      return unhealthy == 0 ? 0 : 4;
    }
    if (down->parsed()) {
      Result<std::vector<std::string>> netns_lines = lab::netns_down(dir, real_clock());
      Result<std::vector<std::string>> lines = lab::down(dir, real_clock());
      for (const auto* result : {&netns_lines, &lines}) {
        if (*result) {
          for (const std::string& line : **result) {
            fmt::print("{}\n", line);
          }
        }
      }
      if (!netns_lines) {
        return std::unexpected(netns_lines.error());
      }
      if (!lines) {
        return std::unexpected(lines.error());
      }
      return 0;
    }
    return fail(ErrorKind::usage, "lab: choose up, status or down");
  };
  return command;
}

}  // namespace kp::cli
