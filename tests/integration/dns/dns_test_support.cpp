#include "dns_test_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "drivers/dns/wire.hpp"
#include "lab/ports.hpp"
#include "lab/process.hpp"
#include "lab/services.hpp"
#include "lab/unbound_service.hpp"

namespace kp::drivers::dns::testing {
namespace {

namespace fs = std::filesystem;

constexpr Duration kHealthDeadline = std::chrono::seconds(20);
constexpr Duration kProbeInterval = std::chrono::milliseconds(20);

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

std::uint16_t bound_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

// lab::up's steps for one spec, for when service_specs() does not list it yet.
Result<lab::ServiceRecord> start_spec(const lab::ServiceSpec& spec, const fs::path& state_dir) {
  std::string name(spec.name());
  std::optional<fs::path> binary = lab::find_executable(spec.binary_name());
  if (!binary) {
    return fail(ErrorKind::unavailable, fmt::format("{} not found", spec.binary_name()));
  }
  Result<std::vector<std::uint16_t>> free = lab::choose_free_ports(spec.port_roles().size());
  if (!free) {
    return std::unexpected(free.error());
  }
  std::map<std::string, std::uint16_t> ports;
  for (std::size_t i = 0; i < spec.port_roles().size(); ++i) {
    ports[spec.port_roles()[i]] = (*free)[i];
  }
  fs::path dir = fs::absolute(state_dir / name);
  fs::create_directories(dir);
  Result<std::vector<std::string>> command = spec.command(*binary, dir, ports);
  if (!command) {
    return std::unexpected(command.error());
  }
  Result<pid_t> pid = lab::spawn_detached(*command, dir / "stdout.log");
  if (!pid) {
    return std::unexpected(pid.error());
  }
  lab::ServiceRecord record{.name = name,
                            .pid = *pid,
                            .binary = *binary,
                            .ports = ports,
                            .endpoints = spec.endpoints(ports),
                            .log_file = spec.log_file(dir),
                            .command = *command};
  nlohmann::json json{{"name", record.name},
                      {"pid", record.pid},
                      {"binary", record.binary.string()},
                      {"ports", record.ports},
                      {"endpoints", record.endpoints},
                      {"log_file", record.log_file.string()},
                      {"command", record.command}};
  std::ofstream(dir / "service.json") << json.dump(2) << "\n";
  std::ofstream(dir / (name + ".pid")) << record.pid << "\n";
  Clock& clock = real_clock();
  const TimePoint deadline = clock.now() + kHealthDeadline;
  while (true) {
    if (!lab::process_alive(record.pid)) {
      return fail(ErrorKind::unavailable, fmt::format("{} exited: {}", name,
                                                      lab::tail_of_file(dir / "stdout.log", 3) +
                                                          lab::tail_of_file(record.log_file, 3)));
    }
    Result<void> health = spec.check_health(record.endpoints, std::chrono::seconds(1));
    if (health) {
      return record;
    }
    if (clock.now() >= deadline) {
      (void)lab::terminate_process(record.pid, clock, std::chrono::seconds(5));
      return fail(ErrorKind::timeout, fmt::format("{} not healthy: {}", name, health.error().message));
    }
    clock.sleep_until(clock.now() + kProbeInterval);  // poll the condition; the deadline bounds it
  }
}

}  // namespace

bool unbound_installed() {
  return lab::find_executable("unbound").has_value();
}

bool registered_in_lab() {
  return lab::find_service_spec(lab::kUnboundService) != nullptr &&
         lab::find_service_spec(lab::kUnboundZoneService) != nullptr;
}

Result<std::vector<lab::ServiceRecord>> start_dns_lab(const fs::path& state_dir) {
  if (registered_in_lab()) {
    lab::LabOptions options;
    options.state_dir = state_dir;
    options.services = {std::string(lab::kUnboundZoneService), std::string(lab::kUnboundService)};
    return lab::up(options, real_clock());
  }
  std::vector<lab::ServiceRecord> records;
  for (const auto& spec : {lab::make_unbound_zone_service(), lab::make_unbound_service()}) {
    Result<lab::ServiceRecord> record = start_spec(*spec, state_dir);
    if (!record) {
      stop_dns_lab(state_dir);
      return std::unexpected(record.error());
    }
    records.push_back(*record);
  }
  return records;
}

void stop_dns_lab(const fs::path& state_dir) {
  if (registered_in_lab()) {
    (void)lab::down(state_dir, real_clock());
    return;
  }
  for (std::string_view name : {lab::kUnboundService, lab::kUnboundZoneService}) {
    Result<std::optional<lab::ServiceRecord>> record = lab::read_record(state_dir, name);
    if (record && *record && lab::is_same_service(**record, (*record)->pid)) {
      (void)lab::terminate_process((*record)->pid, real_clock(), std::chrono::seconds(10));
    }
    fs::remove_all(state_dir / std::string(name));
  }
}

DnsLab::DnsLab(std::string name) {
  dir_ = fs::temp_directory_path() / fmt::format("kp-dns-it-{}-{}", getpid(), name);
  fs::remove_all(dir_);
  Result<std::vector<lab::ServiceRecord>> started = start_dns_lab(dir_);
  if (started) {
    records_ = *started;
  } else {
    error_ = started.error().message;
  }
}

DnsLab::~DnsLab() {
  stop_dns_lab(dir_);
  fs::remove_all(dir_);
}

std::string DnsLab::dns() const {
  return records_.at(1).endpoints.at("dns");
}
std::string DnsLab::control() const {
  return records_.at(1).endpoints.at("control");
}
std::string DnsLab::zone_dns() const {
  return records_.at(0).endpoints.at("dns");
}
fs::path DnsLab::cache_config() const {
  const std::vector<std::string>& command = records_.at(1).command;
  return command.back();  // "... -c <dir>/unbound.conf"
}

FakeServer::FakeServer(Responder respond, TcpResponder tcp_respond)
    : respond_(std::move(respond)), tcp_respond_(std::move(tcp_respond)) {
  udp_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = loopback(0);
  ::bind(udp_, reinterpret_cast<sockaddr*>(&address), sizeof address);
  port_ = bound_port(udp_);
  if (tcp_respond_) {
    tcp_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(tcp_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in same = loopback(port_);
    if (::bind(tcp_, reinterpret_cast<sockaddr*>(&same), sizeof same) == 0) {
      ::listen(tcp_, 16);
    }
  }
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    stop_pipe_[0] = stop_pipe_[1] = -1;
  }
  thread_ = std::thread([this] { loop(); });
}

FakeServer::~FakeServer() {
  char byte = 0;
  (void)!::write(stop_pipe_[1], &byte, 1);
  thread_.join();
  for (int fd : {udp_, tcp_, stop_pipe_[0], stop_pipe_[1]}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

std::string FakeServer::address() const {
  return fmt::format("127.0.0.1:{}", port_);
}

void FakeServer::loop() {
  std::vector<int> connections;
  std::map<int, std::vector<std::uint8_t>> buffers;
  std::array<std::uint8_t, 65536> buffer{};
  while (true) {
    std::vector<pollfd> fds = {{stop_pipe_[0], POLLIN, 0}, {udp_, POLLIN, 0}};
    if (tcp_ >= 0) {
      fds.push_back({tcp_, POLLIN, 0});
    }
    for (int connection : connections) {
      fds.push_back({connection, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      continue;
    }
    if (fds[0].revents != 0) {
      break;
    }
    if (fds[1].revents != 0) {
      sockaddr_in from{};
      socklen_t length = sizeof from;
      ssize_t got =
          ::recvfrom(udp_, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &length);
      if (got > 0) {
        std::vector<std::uint8_t> query(buffer.begin(), buffer.begin() + got);
        const std::uint64_t index = datagrams_.fetch_add(1);
        for (const std::vector<std::uint8_t>& reply : respond_(query, index)) {
          ::sendto(udp_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), length);
        }
      }
    }
    std::size_t first_connection = 2;
    if (tcp_ >= 0) {
      first_connection = 3;
      if (fds[2].revents != 0) {
        int connection = ::accept4(tcp_, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection >= 0) {
          connections.push_back(connection);
        }
      }
    }
    for (std::size_t k = first_connection; k < fds.size(); ++k) {
      if (fds[k].revents == 0) {
        continue;
      }
      const int connection = fds[k].fd;
      ssize_t got = ::recv(connection, buffer.data(), buffer.size(), 0);
      if (got <= 0) {
        ::close(connection);
        std::erase(connections, connection);
        buffers.erase(connection);
        continue;
      }
      std::vector<std::uint8_t>& in = buffers[connection];
      in.insert(in.end(), buffer.begin(), buffer.begin() + got);
      while (in.size() >= 2 && in.size() - 2 >= read_u16(in.data())) {
        const std::size_t length = read_u16(in.data());
        std::vector<std::uint8_t> query(in.begin() + 2, in.begin() + 2 + static_cast<std::ptrdiff_t>(length));
        in.erase(in.begin(), in.begin() + 2 + static_cast<std::ptrdiff_t>(length));
        tcp_queries_.fetch_add(1);
        std::vector<std::uint8_t> reply = tcp_respond_(query);
        std::vector<std::uint8_t> framed = {static_cast<std::uint8_t>(reply.size() >> 8),
                                            static_cast<std::uint8_t>(reply.size() & 0xff)};
        framed.insert(framed.end(), reply.begin(), reply.end());
        (void)!::send(connection, framed.data(), framed.size(), MSG_NOSIGNAL);
      }
    }
  }
  for (int connection : connections) {
    ::close(connection);
  }
}

std::vector<std::uint8_t> answer_to(const std::vector<std::uint8_t>& query, int answers, int rcode,
                                    bool truncated) {
  // Header and question only: a query may carry an OPT record after its question, which the answer drops.
  std::optional<Header> header = read_header(query);
  std::size_t end = kHeaderSize;
  if (header && header->qdcount == 1) {
    Result<NameRead> name = read_name(query, kHeaderSize);
    end = name ? name->next + 4 : query.size();
  }
  std::vector<std::uint8_t> reply(query.begin(),
                                  query.begin() + static_cast<std::ptrdiff_t>(std::min(end, query.size())));
  reply[2] = static_cast<std::uint8_t>(0x80 | (reply[2] & 0x01) | (truncated ? 0x02 : 0));
  reply[3] = static_cast<std::uint8_t>(0x80 | rcode);
  write_u16(reply.data() + 6, static_cast<std::uint16_t>(answers));
  write_u16(reply.data() + 8, 0);
  write_u16(reply.data() + 10, 0);
  for (int i = 0; i < answers; ++i) {
    for (int byte : {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1 + i}) {
      reply.push_back(static_cast<std::uint8_t>(byte));
    }
  }
  return reply;
}

std::uint16_t closed_udp_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = loopback(0);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  std::uint16_t port = bound_port(fd);
  ::close(fd);
  return port;
}

Result<std::string> run_capture(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return fail(ErrorKind::io, "pipe failed");
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (const std::string& arg : argv) {
      args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string out;
  std::array<char, 4096> chunk{};
  ssize_t got = 0;
  while ((got = ::read(pipe_fds[0], chunk.data(), chunk.size())) > 0) {
    out.append(chunk.data(), static_cast<std::size_t>(got));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(ErrorKind::io, fmt::format("{} exited with status {}: {}", argv.front(), status, out));
  }
  return out;
}

}  // namespace kp::drivers::dns::testing
