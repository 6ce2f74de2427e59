#include "lab/netns.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/private_file.hpp"
#include "lab/process.hpp"

extern char** environ;

namespace kp::lab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// `ip` and `nft` answer in milliseconds; this only bounds a hung one.
constexpr Duration kToolTimeout = std::chrono::seconds(20);

fs::path netns_dir(const fs::path& state_dir) {
  return state_dir / "netns";
}

fs::path record_file(const fs::path& state_dir) {
  return netns_dir(state_dir) / "netns.json";
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::optional<std::uint32_t> ipv4(const std::string& text) {
  in_addr address{};
  if (inet_pton(AF_INET, text.c_str(), &address) != 1) {
    return std::nullopt;
  }
  return ntohl(address.s_addr);
}

std::string join(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) {
    text += text.empty() ? arg : " " + arg;
  }
  return text;
}

// Runs a tool to completion, without a shell, output captured; bounded by kToolTimeout.
Result<std::string> run_tool(const std::vector<std::string>& argv, Clock& clock) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return fail(ErrorKind::io, fmt::format("pipe: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // The tool must not inherit a blocked SIGTERM/SIGINT from a thread that waits for signals.
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return fail(ErrorKind::unavailable, fmt::format("cannot run `{}`: {}", join(argv), std::strerror(rc)));
  }
  std::string output;
  const TimePoint deadline = clock.now() + kToolTimeout;
  bool timed_out = false;
  while (true) {
    const TimePoint now = clock.now();
    if (now >= deadline) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{pipe_fds[0], POLLIN, 0};
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    if (::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000))) <= 0) {
      continue;
    }
    char buffer[4096];
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) {
      break;  // the tool closed its output: it is exiting
    }
    output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) {
    output.pop_back();
  }
  if (timed_out) {
    return fail(ErrorKind::timeout,
                fmt::format("`{}` did not finish within {}", join(argv), format_duration(kToolTimeout)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    for (char& c : output) {
      c = c == '\n' ? ' ' : c;
    }
    return fail(ErrorKind::io,
                fmt::format("`{}` failed: {}", join(argv), output.empty() ? "no output" : output));
  }
  return output;
}

json to_json(const NetnsRecord& record) {
  const NetnsLayout& l = record.layout;
  return json{
      {"client_ns", l.client_ns},         {"server_ns", l.server_ns},   {"client_if", l.client_if},
      {"server_if", l.server_if},         {"client_ip", l.client_ip},   {"server_ip", l.server_ip},
      {"prefix_length", l.prefix_length}, {"service_ip", l.service_ip}, {"service_port", l.service_port},
      {"server_port", l.server_port},     {"nat", record.nat},          {"complete", record.complete}};
}

Result<NetnsRecord> from_json(const json& j, const fs::path& file) {
  try {
    NetnsRecord record;
    NetnsLayout& l = record.layout;
    l.client_ns = j.at("client_ns").get<std::string>();
    l.server_ns = j.at("server_ns").get<std::string>();
    l.client_if = j.at("client_if").get<std::string>();
    l.server_if = j.at("server_if").get<std::string>();
    l.client_ip = j.at("client_ip").get<std::string>();
    l.server_ip = j.at("server_ip").get<std::string>();
    l.prefix_length = j.at("prefix_length").get<int>();
    l.service_ip = j.at("service_ip").get<std::string>();
    l.service_port = j.at("service_port").get<std::uint16_t>();
    l.server_port = j.at("server_port").get<std::uint16_t>();
    record.nat = j.at("nat").get<std::string>();
    record.complete = j.at("complete").get<bool>();
    return record;
  } catch (const json::exception& e) {
    return fail(ErrorKind::input,
                fmt::format("{}: not a network namespace record: {}", file.string(), e.what()));
  }
}

Result<void> write_record(const fs::path& state_dir, const NetnsRecord& record) {
  std::error_code error;
  fs::create_directories(netns_dir(state_dir), error);
  if (error) {
    return fail(ErrorKind::io,
                fmt::format("cannot create \"{}\": {}", netns_dir(state_dir).string(), error.message()));
  }
  const fs::path file = record_file(state_dir);
  const fs::path temp = file.string() + ".tmp";
  if (Result<void> written = write_private_file(temp, to_json(record).dump(2) + "\n"); !written) {
    return written;
  }
  fs::rename(temp, file, error);
  if (error) {
    return fail(ErrorKind::io, fmt::format("cannot rename \"{}\": {}", temp.string(), error.message()));
  }
  return {};
}

bool netns_exists(const std::string& name) {
  std::error_code ignored;
  return fs::exists(netns_path(name), ignored);
}

Result<void> require_tools() {
  if (!find_executable("ip")) {
    return fail(ErrorKind::unavailable, "`ip` not found: install the Debian package iproute2");
  }
  if (!find_executable("nft")) {
    return fail(ErrorKind::unavailable, "`nft` not found: install the Debian package nftables");
  }
  return {};
}

Result<void> require_root(std::string_view what) {
  if (::geteuid() != 0) {
    return fail(
        ErrorKind::unavailable,
        fmt::format("{} needs root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN); running as "
                    "uid {}",
                    what, ::geteuid()));
  }
  return {};
}

// Deletes the recorded namespaces that exist; one line per namespace.
std::vector<std::string> delete_namespaces(const NetnsLayout& layout, Clock& clock) {
  std::vector<std::string> lines;
  for (const std::string& name : {layout.client_ns, layout.server_ns}) {
    if (!netns_exists(name)) {
      continue;
    }
    // A process still inside keeps the namespace (and its veth end) alive after the name is gone: say so.
    Result<std::string> pids = run_tool({"ip", "netns", "pids", name}, clock);
    Result<std::string> deleted = run_tool({"ip", "netns", "del", name}, clock);
    if (!deleted) {
      lines.push_back(fmt::format("network namespace {}: {}", name, deleted.error().message));
      continue;
    }
    std::string line = fmt::format("network namespace {}: removed", name);
    if (pids && !pids->empty()) {
      std::string list = *pids;
      std::replace(list.begin(), list.end(), '\n', ' ');
      line += fmt::format(" (processes still inside keep it alive until they exit: {})", list);
    }
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

std::string NetnsLayout::server_endpoint() const {
  return fmt::format("{}:{}", server_ip, server_port);
}

std::string NetnsLayout::service_endpoint() const {
  return fmt::format("{}:{}", service_ip, service_port);
}

fs::path netns_path(std::string_view name) {
  return fs::path("/run/netns") / std::string(name);
}

Result<void> validate(const NetnsLayout& l) {
  auto usage = [](std::string_view field, std::string_view message, std::string_view value) {
    return fail(ErrorKind::usage, fmt::format("netns.{}: {}, got \"{}\"", field, message, value));
  };
  const std::pair<std::string_view, const std::string*> names[] = {{"client_ns", &l.client_ns},
                                                                   {"server_ns", &l.server_ns},
                                                                   {"client_if", &l.client_if},
                                                                   {"server_if", &l.server_if}};
  for (const auto& [field, value] : names) {
    if (!valid_name(*value)) {
      return usage(field, "must be 1..15 characters of A-Z a-z 0-9 _ . -", *value);
    }
  }
  if (l.client_ns == l.server_ns) {
    return usage("server_ns", "must differ from client_ns", l.server_ns);
  }
  if (l.client_if == l.server_if) {
    return usage("server_if", "must differ from client_if", l.server_if);
  }
  if (l.prefix_length < 8 || l.prefix_length > 30) {
    return usage("prefix_length", "must be within 8..30", std::to_string(l.prefix_length));
  }
  const std::optional<std::uint32_t> client = ipv4(l.client_ip);
  const std::optional<std::uint32_t> server = ipv4(l.server_ip);
  const std::optional<std::uint32_t> service = ipv4(l.service_ip);
  if (!client) {
    return usage("client_ip", "not an IPv4 address", l.client_ip);
  }
  if (!server) {
    return usage("server_ip", "not an IPv4 address", l.server_ip);
  }
  if (!service) {
    return usage("service_ip", "not an IPv4 address", l.service_ip);
  }
  const std::uint32_t mask = ~std::uint32_t{0} << (32 - l.prefix_length);
  if ((*client & mask) != (*server & mask) || *client == *server) {
    return usage("server_ip", fmt::format("must be another address in {}/{}", l.client_ip, l.prefix_length),
                 l.server_ip);
  }
  if ((*service & mask) == (*client & mask)) {
    return usage("service_ip", fmt::format("must be outside the pods' {}/{}", l.client_ip, l.prefix_length),
                 l.service_ip);
  }
  if (l.service_port == 0 || l.server_port == 0) {
    return usage(l.service_port == 0 ? "service_port" : "server_port", "must be within 1..65535", "0");
  }
  return {};
}

std::string nft_ruleset(const NetnsLayout& l) {
  // kube-proxy's job in miniature: a connection to the service address is rewritten to the pod's, in the
  // client's own output path, so the pod-to-service figure pays for conntrack and NAT as on a node.
  return fmt::format(
      "table ip kubeproof {{\n"
      "  chain output {{\n"
      "    type nat hook output priority -100; policy accept;\n"
      "    ip daddr {0} tcp dport {1} dnat to {2}:{3}\n"
      "    ip daddr {0} udp dport {1} dnat to {2}:{3}\n"
      "  }}\n"
      "}}\n",
      l.service_ip, l.service_port, l.server_ip, l.server_port);
}

Result<std::optional<NetnsRecord>> read_netns_record(const fs::path& state_dir) {
  const fs::path file = record_file(state_dir);
  std::error_code error;
  if (!fs::exists(file, error)) {
    return std::optional<NetnsRecord>{};
  }
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  json parsed = json::parse(text.str(), nullptr, false);
  if (parsed.is_discarded()) {
    return fail(ErrorKind::input, fmt::format("{}: not JSON", file.string()));
  }
  Result<NetnsRecord> record = from_json(parsed, file);
  if (!record) {
    return std::unexpected(record.error());
  }
  return std::optional<NetnsRecord>(*record);
}

Result<NetnsRecord> netns_up(const fs::path& state_dir, const NetnsLayout& layout, Clock& clock) {
  if (Result<void> ok = validate(layout); !ok) {
    return std::unexpected(ok.error());
  }
  if (Result<void> ok = require_root("the lab's network namespaces"); !ok) {
    return std::unexpected(ok.error());
  }
  if (Result<void> ok = require_tools(); !ok) {
    return std::unexpected(ok.error());
  }
  Result<std::optional<NetnsRecord>> existing = read_netns_record(state_dir);
  if (!existing) {
    return std::unexpected(existing.error());
  }
  if (*existing) {
    return fail(
        ErrorKind::usage,
        fmt::format("network namespaces {} and {} are already recorded in {}: run `kubeproof lab down` first",
                    (*existing)->layout.client_ns, (*existing)->layout.server_ns, state_dir.string()));
  }
  for (const std::string& name : {layout.client_ns, layout.server_ns}) {
    if (netns_exists(name)) {
      return fail(
          ErrorKind::usage,
          fmt::format("network namespace {} already exists and is not this lab's: remove it with `ip netns "
                      "del {}` or choose other names",
                      name, name));
    }
  }
  NetnsRecord record{layout, "nftables", false};
  // Recorded first, so a `down` after a crash half-way still finds what to remove.
  if (Result<void> written = write_record(state_dir, record); !written) {
    return std::unexpected(written.error());
  }
  const fs::path ruleset = netns_dir(state_dir) / "ruleset.nft";
  {
    std::ofstream out(ruleset, std::ios::trunc);
    out << nft_ruleset(layout);
    if (!out) {
      return fail(ErrorKind::io, fmt::format("cannot write \"{}\"", ruleset.string()));
    }
  }
  const std::string cidr_client = fmt::format("{}/{}", layout.client_ip, layout.prefix_length);
  const std::string cidr_server = fmt::format("{}/{}", layout.server_ip, layout.prefix_length);
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "netns", "add", layout.client_ns},
      {"ip", "netns", "add", layout.server_ns},
      // Created directly inside the namespaces: never visible (or clashing) in the host's.
      {"ip", "link", "add", layout.client_if, "netns", layout.client_ns, "type", "veth", "peer", "name",
       layout.server_if, "netns", layout.server_ns},
      {"ip", "-n", layout.client_ns, "addr", "add", cidr_client, "dev", layout.client_if},
      {"ip", "-n", layout.server_ns, "addr", "add", cidr_server, "dev", layout.server_if},
      {"ip", "-n", layout.client_ns, "link", "set", "lo", "up"},
      {"ip", "-n", layout.server_ns, "link", "set", "lo", "up"},
      {"ip", "-n", layout.client_ns, "link", "set", layout.client_if, "up"},
      {"ip", "-n", layout.server_ns, "link", "set", layout.server_if, "up"},
      {"ip", "-n", layout.client_ns, "route", "add", layout.service_ip + "/32", "dev", layout.client_if},
      {"ip", "netns", "exec", layout.client_ns, "nft", "-f", ruleset.string()},
  };
  for (const std::vector<std::string>& step : steps) {
    Result<std::string> done = run_tool(step, clock);
    if (!done) {
      delete_namespaces(layout, clock);
      std::error_code ignored;
      fs::remove_all(netns_dir(state_dir), ignored);
      return std::unexpected(done.error());
    }
  }
  record.complete = true;
  if (Result<void> written = write_record(state_dir, record); !written) {
    return std::unexpected(written.error());
  }
  return record;
}

Result<std::vector<std::string>> netns_down(const fs::path& state_dir, Clock& clock) {
  Result<std::optional<NetnsRecord>> record = read_netns_record(state_dir);
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record) {
    return std::vector<std::string>{"network namespaces: not set up"};
  }
  if (Result<void> ok = require_root("removing the lab's network namespaces"); !ok) {
    return std::unexpected(ok.error());
  }
  std::vector<std::string> lines = delete_namespaces((*record)->layout, clock);
  if (lines.empty()) {
    lines.push_back(fmt::format("network namespaces {} and {}: already gone", (*record)->layout.client_ns,
                                (*record)->layout.server_ns));
  }
  std::error_code error;
  fs::remove_all(netns_dir(state_dir), error);
  if (error) {
    return fail(ErrorKind::io,
                fmt::format("cannot remove \"{}\": {}", netns_dir(state_dir).string(), error.message()));
  }
  return lines;
}

NetnsStatus netns_status(const fs::path& state_dir, Clock& clock) {
  NetnsStatus status;
  Result<std::optional<NetnsRecord>> record = read_netns_record(state_dir);
  if (!record) {
    status.detail = record.error().message;
    return status;
  }
  if (!*record) {
    status.detail = "not set up";
    return status;
  }
  status.record = **record;
  const NetnsLayout& l = status.record->layout;
  if (!status.record->complete) {
    status.detail = "half made (an earlier `lab up` stopped part-way): run `kubeproof lab down`";
    return status;
  }
  for (const std::string& name : {l.client_ns, l.server_ns}) {
    if (!netns_exists(name)) {
      status.detail = fmt::format("network namespace {} is gone", name);
      return status;
    }
  }
  if (::geteuid() == 0) {
    for (const auto& [ns, dev] : {std::pair{l.client_ns, l.client_if}, std::pair{l.server_ns, l.server_if}}) {
      Result<std::string> link = run_tool({"ip", "-n", ns, "-o", "link", "show", "dev", dev}, clock);
      if (!link || link->find("state UP") == std::string::npos) {
        status.detail = fmt::format("{} in {} is not up", dev, ns);
        return status;
      }
    }
    Result<std::string> table =
        run_tool({"ip", "netns", "exec", l.client_ns, "nft", "list", "table", "ip", "kubeproof"}, clock);
    if (!table) {
      status.detail = fmt::format("the DNAT table in {} is missing", l.client_ns);
      return status;
    }
  }
  status.healthy = true;
  status.detail =
      fmt::format("up: {} {} <-> {} {}, service {} -> {} (nftables DNAT)", l.client_ns, l.client_ip,
                  l.server_ns, l.server_ip, l.service_endpoint(), l.server_endpoint());
  return status;
}

Result<NetnsRecord> netns_for_phase(const fs::path& state_dir) {
  Result<std::optional<NetnsRecord>> record = read_netns_record(state_dir);
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record || !(*record)->complete) {
    return fail(
        ErrorKind::unavailable,
        fmt::format("the lab's network namespaces are not set up in {}: run `kubeproof lab up` as root",
                    state_dir.string()));
  }
  for (const std::string& name : {(*record)->layout.client_ns, (*record)->layout.server_ns}) {
    if (!netns_exists(name)) {
      return fail(
          ErrorKind::unavailable,
          fmt::format("network namespace {} of the lab is gone: run `kubeproof lab down` then `lab up`",
                      name));
    }
  }
  return **record;
}

}  // namespace kp::lab
