#include "lab/lab.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/private_file.hpp"
#include "lab/ports.hpp"
#include "lab/process.hpp"
#include "lab/services.hpp"

namespace kp::lab {
namespace {

namespace fs = std::filesystem;

// Between two health probes; a service usually becomes healthy within a second, so this bounds the added
// wait.
constexpr Duration kHealthPollInterval = std::chrono::milliseconds(50);
constexpr Duration kProbeTimeout = std::chrono::seconds(1);
constexpr Duration kStopGrace = std::chrono::seconds(10);

fs::path service_dir(const fs::path& state_dir, std::string_view name) {
  return state_dir / std::string(name);
}
fs::path record_file(const fs::path& state_dir, std::string_view name) {
  return service_dir(state_dir, name) / "service.json";
}
fs::path pid_file(const fs::path& state_dir, std::string_view name) {
  return service_dir(state_dir, name) / fmt::format("{}.pid", name);
}

nlohmann::json to_json(const ServiceRecord& record) {
  return nlohmann::json{{"name", record.name},
                        {"pid", record.pid},
                        {"binary", record.binary.string()},
                        {"ports", record.ports},
                        {"endpoints", record.endpoints},
                        {"log_file", record.log_file.string()},
                        {"command", record.command}};
}

Result<void> write_text(const fs::path& file, const std::string& text) {
  fs::path temp = file;
  temp += ".tmp";
  // 0600: the lab's state (pids, ports, commands) is its owner's; the temporary file is never wider.
  if (Result<void> written = write_private_file(temp, text); !written) {
    return written;
  }
  std::error_code error;
  fs::rename(temp, file, error);
  if (error) {
    return fail(ErrorKind::io, fmt::format("cannot rename \"{}\": {}", temp.string(), error.message()));
  }
  return {};
}

Result<void> write_record(const fs::path& state_dir, const ServiceRecord& record) {
  if (auto written = write_text(pid_file(state_dir, record.name), fmt::format("{}\n", record.pid));
      !written) {
    return written;
  }
  return write_text(record_file(state_dir, record.name), to_json(record).dump(2) + "\n");
}

void remove_state(const fs::path& state_dir, std::string_view name) {
  std::error_code ignored;
  fs::remove_all(service_dir(state_dir, name), ignored);
  // Leave the state dir itself only when something else is still in it.
  if (fs::is_directory(state_dir, ignored) && fs::is_empty(state_dir, ignored)) {
    fs::remove(state_dir, ignored);
  }
}

struct Started {
  ServiceRecord record;
  const ServiceSpec* spec = nullptr;
};

void stop_started(const fs::path& state_dir, std::vector<Started>& started, Clock& clock) {
  for (auto it = started.rbegin(); it != started.rend(); ++it) {
    (void)terminate_process(it->record.pid, clock, kStopGrace);
    remove_state(state_dir, it->record.name);
  }
  started.clear();
}

// Polls the health check until it passes, the process exits, or the deadline passes.
Result<void> wait_healthy(const ServiceSpec& spec, const ServiceRecord& record, const fs::path& dir,
                          Duration timeout, Clock& clock) {
  TimePoint deadline = clock.now() + timeout;
  Error last{ErrorKind::timeout, "no health probe finished"};
  while (true) {
    if (!process_alive(record.pid)) {
      std::string tail = tail_of_file(dir / "stdout.log", 3);
      if (tail.empty()) {
        tail = tail_of_file(spec.log_file(dir), 3);
      }
      return fail(ErrorKind::unavailable,
                  fmt::format("lab: {} (pid {}) exited during start-up; log {}: {}", spec.name(), record.pid,
                              spec.log_file(dir).string(), tail));
    }
    TimePoint now = clock.now();
    Duration remaining = deadline - now;
    Result<void> health = spec.check_health(record.endpoints, std::min(remaining, kProbeTimeout));
    if (health) {
      return {};
    }
    last = health.error();
    if (clock.now() >= deadline) {
      return fail(ErrorKind::timeout,
                  fmt::format("lab: {} (pid {}) not healthy after {}: {}; log {}", spec.name(), record.pid,
                              format_duration(timeout), last.message, spec.log_file(dir).string()));
    }
    clock.sleep_until(std::min(deadline, clock.now() + kHealthPollInterval));
  }
}

Result<std::vector<const ServiceSpec*>> selected_specs(const LabOptions& options) {
  if (options.etcd_members != 1 && options.etcd_members != 3 && options.etcd_members != 5) {
    return fail(ErrorKind::usage,
                fmt::format("lab: --etcd-members: must be 1, 3 or 5, got {}", options.etcd_members));
  }
  std::vector<const ServiceSpec*> specs;
  auto add = [&](const ServiceSpec* spec) {
    specs.push_back(spec);
    if (spec->name() == "etcd") {
      // The extra members right after the first: they start (and `down` stops them) as one group.
      std::vector<std::string> members = etcd_member_names(options.etcd_members);
      for (std::size_t i = 1; i < members.size(); ++i) {
        specs.push_back(find_service_spec(members[i]));
      }
    }
  };
  if (options.services.empty()) {
    for (const auto& spec : service_specs()) {
      if (spec->listed()) {
        add(spec.get());
      }
    }
    return specs;
  }
  for (const std::string& name : options.services) {
    const ServiceSpec* spec = find_service_spec(name);
    if (spec == nullptr || !spec->listed()) {
      std::string known;
      for (const auto& each : service_specs()) {
        if (each->listed()) {
          known += (known.empty() ? "" : ", ") + std::string(each->name());
        }
      }
      return fail(ErrorKind::usage, fmt::format("lab: unknown service \"{}\" (known: {})", name, known));
    }
    add(spec);
  }
  if (options.etcd_members != 1 &&
      std::find(options.services.begin(), options.services.end(), "etcd") == options.services.end()) {
    return fail(ErrorKind::usage,
                fmt::format("lab: --etcd-members {} needs the etcd service; add --service etcd",
                            options.etcd_members));
  }
  return specs;
}

std::map<std::string, std::string> merged_endpoints(const ServiceSpec& spec, const fs::path& dir,
                                                    const std::map<std::string, std::uint16_t>& ports) {
  std::map<std::string, std::string> endpoints = spec.endpoints(ports);
  endpoints.merge(spec.file_endpoints(dir));
  return endpoints;
}

// The first required service that is neither already chosen to start in this call nor running here; "" when
// all are there.
std::string missing_requirement(const ServiceSpec& spec, const fs::path& state_dir,
                                const std::map<std::string, fs::path>& chosen) {
  for (const std::string& required : spec.required_services()) {
    if (chosen.contains(required)) {
      continue;
    }
    Result<std::optional<ServiceRecord>> record = read_record(state_dir, required);
    if (!record || !*record || !is_same_service(**record, (*record)->pid)) {
      return required;
    }
  }
  return {};
}

}  // namespace

std::optional<fs::path> locate_binary(const ServiceSpec& spec, const LabOptions& options) {
  if (auto given = options.binaries.find(std::string(spec.name())); given != options.binaries.end()) {
    return find_executable(given->second.string());
  }
  for (const fs::path& dir : spec.search_dirs()) {
    // A path with a slash is checked as is, never searched on PATH.
    if (std::optional<fs::path> found = find_executable((dir / std::string(spec.binary_name())).string())) {
      return found;
    }
  }
  return find_executable(spec.binary_name());
}

fs::path default_state_dir() {
  if (const char* env = std::getenv("KUBEPROOF_LAB_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return fs::path(".kubeproof") / "lab";
}

Result<std::optional<ServiceRecord>> read_record(const fs::path& state_dir, std::string_view service) {
  fs::path file = record_file(state_dir, service);
  std::ifstream in(file);
  if (!in) {
    return std::optional<ServiceRecord>{};
  }
  try {
    nlohmann::json json = nlohmann::json::parse(in);
    ServiceRecord record;
    record.name = json.at("name").get<std::string>();
    record.pid = json.at("pid").get<pid_t>();
    record.binary = json.at("binary").get<std::string>();
    record.ports = json.at("ports").get<std::map<std::string, std::uint16_t>>();
    record.endpoints = json.at("endpoints").get<std::map<std::string, std::string>>();
    record.log_file = json.at("log_file").get<std::string>();
    record.command = json.at("command").get<std::vector<std::string>>();
    return std::optional<ServiceRecord>(std::move(record));
  } catch (const nlohmann::json::exception& error) {
    return fail(ErrorKind::input, fmt::format("{}: {}", file.string(), error.what()));
  }
}

bool is_same_service(const ServiceRecord& record, pid_t pid) {
  if (!process_alive(pid)) {
    return false;
  }
  std::optional<std::vector<std::string>> argv = process_cmdline(pid);
  if (!argv || argv->empty()) {
    return false;
  }
  // The same binary and the very command line we started: a recycled pid cannot match both.
  if (fs::path((*argv)[0]).filename() == record.binary.filename() && *argv == record.command) {
    return true;
  }
  // A script started through its #! line shows as "<interpreter> <script> <args>" (the test double of
  // kube-apiserver): the rest is still exactly the command we started.
  if (argv->size() == record.command.size() + 1 &&
      std::equal(record.command.begin(), record.command.end(), argv->begin() + 1)) {
    return true;
  }
  // Some servers (nginx) rewrite their process title into one field, "nginx: master process <command>". The
  // command holds this lab's own config path, so a recycled pid still cannot match.
  std::string joined = fmt::format("{}", fmt::join(record.command, " "));
  return argv->size() == 1 && !joined.empty() && (*argv)[0].ends_with(joined);
}

Result<std::vector<ServiceRecord>> up(const LabOptions& options, Clock& clock) {
  std::vector<std::string> left_out;
  return up(options, clock, left_out);
}

Result<std::vector<ServiceRecord>> up(const LabOptions& options, Clock& clock,
                                      std::vector<std::string>& left_out) {
  Result<std::vector<const ServiceSpec*>> all = selected_specs(options);
  if (!all) {
    return std::unexpected(all.error());
  }
  // Everything that can be refused is checked before anything starts.
  std::map<std::string, fs::path> binaries;
  std::vector<const ServiceSpec*> chosen;  // without the optional services left out
  const std::vector<const ServiceSpec*>* specs = &chosen;
  std::size_t free_needed = 0;
  for (const ServiceSpec* spec : *all) {
    std::string name(spec->name());
    Result<std::optional<ServiceRecord>> existing = read_record(options.state_dir, name);
    if (existing && *existing && is_same_service(**existing, (*existing)->pid)) {
      return fail(
          ErrorKind::usage,
          fmt::format("lab: {} is already running (pid {}, state dir \"{}\"); run `kubeproof lab down` first",
                      name, (*existing)->pid, options.state_dir.string()));
    }
    auto override_it = options.binaries.find(name);
    std::string wanted = override_it != options.binaries.end() ? override_it->second.string()
                                                               : std::string(spec->binary_name());
    std::optional<fs::path> binary = locate_binary(*spec, options);
    if (!binary && spec->optional() && options.services.empty()) {
      left_out.push_back(fmt::format("{}: {}", name, spec->missing_hint()));
      continue;
    }
    if (!binary) {
      std::string hint = spec->optional()
                             ? spec->missing_hint()
                             : fmt::format("not found (Debian package {})", spec->debian_package());
      return fail(ErrorKind::unavailable, fmt::format("lab: {}: executable \"{}\" {}", name, wanted, hint));
    }
    if (std::string missing = missing_requirement(*spec, options.state_dir, binaries); !missing.empty()) {
      if (spec->optional() && options.services.empty()) {
        left_out.push_back(fmt::format("{}: not started ({} is not in the lab)", name, missing));
        continue;
      }
      return fail(ErrorKind::usage,
                  fmt::format("lab: {} needs {} in the same lab; start both (`kubeproof lab up --service {} "
                              "--service {}`)",
                              name, missing, missing, name));
    }
    binaries[name] = *binary;
    chosen.push_back(spec);
    for (const std::string& role : spec->port_roles()) {
      std::string key = fmt::format("{}.{}", name, role);
      auto given = options.ports.find(key);
      if (given == options.ports.end() || given->second == 0) {
        ++free_needed;
      } else if (!port_is_free(given->second)) {
        return fail(ErrorKind::usage,
                    fmt::format("lab: {} port {} ({}) is taken on 127.0.0.1; free it or give "
                                "another port",
                                name, given->second, key));
      }
    }
  }
  for (const auto& [key, port] : options.ports) {
    std::string service = key.substr(0, key.find('.'));
    const ServiceSpec* spec = find_service_spec(service);
    std::string role = key.find('.') == std::string::npos ? "" : key.substr(key.find('.') + 1);
    std::vector<std::string> roles = spec != nullptr ? spec->port_roles() : std::vector<std::string>{};
    if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
      return fail(ErrorKind::usage, fmt::format("lab: unknown port \"{}\" (expected <service>.<role>, e.g. "
                                                "etcd.client)",
                                                key));
    }
  }
  Result<std::vector<std::uint16_t>> free_ports = choose_free_ports(free_needed);
  if (!free_ports) {
    return std::unexpected(free_ports.error());
  }
  // Every port is known before anything starts: an etcd member's command names every member's peer URL.
  LabPorts lab_ports;
  std::size_t next_free = 0;
  for (const ServiceSpec* spec : *specs) {
    std::string name(spec->name());
    std::map<std::string, std::uint16_t>& ports = lab_ports[name];
    for (const std::string& role : spec->port_roles()) {
      auto given = options.ports.find(fmt::format("{}.{}", name, role));
      ports[role] =
          given != options.ports.end() && given->second != 0 ? given->second : (*free_ports)[next_free++];
    }
  }

  std::vector<Started> started;
  std::size_t group_begin = 0;  // the first of `started` not yet waited for
  for (std::size_t index = 0; index < specs->size(); ++index) {
    const ServiceSpec* spec = (*specs)[index];
    std::string name(spec->name());
    const std::map<std::string, std::uint16_t>& ports = lab_ports.at(name);
    fs::path dir = service_dir(options.state_dir, name);
    std::error_code error;
    fs::remove_all(dir, error);  // a fresh data dir each time, so runs are comparable
    fs::create_directories(dir, error);
    if (error) {
      stop_started(options.state_dir, started, clock);
      return fail(ErrorKind::io, fmt::format("lab: cannot create \"{}\": {}", dir.string(), error.message()));
    }
    // Absolute paths: the service's command line is how `down` recognises it, whatever the working directory.
    fs::path absolute_dir = fs::absolute(dir);
    Result<std::vector<std::string>> command =
        spec->command_in_lab(binaries[name], absolute_dir, ports, lab_ports);
    if (!command) {
      stop_started(options.state_dir, started, clock);
      return std::unexpected(command.error());
    }
    Result<pid_t> pid = spawn_detached(*command, absolute_dir / "stdout.log");
    if (!pid) {
      stop_started(options.state_dir, started, clock);
      remove_state(options.state_dir, name);
      return fail(pid.error().kind, fmt::format("lab: {}: {}", name, pid.error().message));
    }
    std::map<std::string, std::string> endpoints = merged_endpoints(*spec, absolute_dir, ports);
    endpoints.merge(spec->lab_endpoints(lab_ports));
    ServiceRecord record{.name = name,
                         .pid = *pid,
                         .binary = binaries[name],
                         .ports = ports,
                         .endpoints = std::move(endpoints),
                         .log_file = spec->log_file(absolute_dir),
                         .command = *command};
    started.push_back(Started{.record = record, .spec = spec});
    if (Result<void> written = write_record(options.state_dir, record); !written) {
      stop_started(options.state_dir, started, clock);
      return std::unexpected(written.error());
    }
    const bool group_ends =
        index + 1 == specs->size() || (*specs)[index + 1]->start_group() != spec->start_group();
    if (!group_ends) {
      continue;
    }
    for (; group_begin < started.size(); ++group_begin) {
      const Started& each = started[group_begin];
      const fs::path each_dir = fs::absolute(service_dir(options.state_dir, each.record.name));
      if (Result<void> healthy =
              wait_healthy(*each.spec, each.record, each_dir, options.health_timeout, clock);
          !healthy) {
        // The message carries the tail of the failing service's log; then everything started is cleaned up.
        stop_started(options.state_dir, started, clock);
        return std::unexpected(healthy.error());
      }
    }
  }
  std::vector<ServiceRecord> records;
  for (Started& each : started) {
    records.push_back(std::move(each.record));
  }
  return records;
}

Result<std::vector<std::string>> down(const fs::path& state_dir, Clock& clock) {
  std::vector<std::string> lines;
  std::optional<Error> first_error;
  for (auto it = service_specs().rbegin(); it != service_specs().rend(); ++it) {
    std::string name((*it)->name());
    Result<std::optional<ServiceRecord>> record = read_record(state_dir, name);
    if (!record) {
      lines.push_back(fmt::format("{}: unreadable state ({}); removed", name, record.error().message));
      remove_state(state_dir, name);
      continue;
    }
    if (!*record) {
      continue;
    }
    const ServiceRecord& service = **record;
    if (!process_alive(service.pid)) {
      lines.push_back(fmt::format("{}: pid {} had already exited; state removed", name, service.pid));
    } else if (!is_same_service(service, service.pid)) {
      lines.push_back(fmt::format("{}: pid {} is no longer {} of this lab; left it running, state removed",
                                  name, service.pid, name));
    } else if (Result<void> stopped = terminate_process(service.pid, clock, kStopGrace); !stopped) {
      lines.push_back(fmt::format("{}: {}", name, stopped.error().message));
      if (!first_error) {
        first_error = stopped.error();
      }
      continue;  // keep the state: the process is still there
    } else {
      lines.push_back(fmt::format("{}: stopped pid {}", name, service.pid));
    }
    remove_state(state_dir, name);
  }
  if (first_error) {
    return std::unexpected(*first_error);
  }
  if (lines.empty()) {
    lines.push_back(fmt::format("nothing to stop in \"{}\"", state_dir.string()));
  }
  return lines;
}

std::vector<ServiceStatus> status(const fs::path& state_dir, Duration health_timeout) {
  std::vector<ServiceStatus> statuses;
  for (const auto& spec : service_specs()) {
    if (!spec->listed() && !fs::exists(record_file(state_dir, spec->name()))) {
      continue;  // an extra etcd member of a lab that has none
    }
    ServiceStatus status{
        .name = std::string(spec->name()), .record = {}, .running = false, .healthy = false, .detail = {}};
    Result<std::optional<ServiceRecord>> record = read_record(state_dir, spec->name());
    if (!record) {
      status.detail = record.error().message;
    } else if (!*record) {
      status.detail = "not started";
      LabOptions defaults;
      if (spec->optional() && !locate_binary(*spec, defaults)) {
        status.detail = spec->missing_hint();
      }
    } else {
      status.record = **record;
      status.running = is_same_service(**record, (*record)->pid);
      if (!status.running) {
        status.detail = fmt::format("pid {} is not running", (*record)->pid);
      } else if (Result<void> health = spec->check_health((*record)->endpoints, health_timeout); !health) {
        status.detail = health.error().message;
      } else {
        status.healthy = true;
        status.detail = "healthy";
      }
    }
    statuses.push_back(std::move(status));
  }
  return statuses;
}

Result<std::map<std::string, std::string>> endpoints(const fs::path& state_dir, std::string_view service) {
  Result<std::optional<ServiceRecord>> record = read_record(state_dir, service);
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record) {
    return fail(ErrorKind::unavailable,
                fmt::format("the local lab has no {} (state dir \"{}\"); start it with "
                            "`kubeproof lab up`",
                            service, state_dir.string()));
  }
  if (!is_same_service(**record, (*record)->pid)) {
    return fail(ErrorKind::unavailable,
                fmt::format("the local lab's {} (pid {}) is not running; restart it with "
                            "`kubeproof lab down && kubeproof lab up`",
                            service, (*record)->pid));
  }
  return (*record)->endpoints;
}

Result<std::string> endpoint(const fs::path& state_dir, std::string_view service, std::string_view key) {
  Result<std::map<std::string, std::string>> all = endpoints(state_dir, service);
  if (!all) {
    return std::unexpected(all.error());
  }
  const auto found = all->find(std::string(key));
  if (found == all->end() || found->second.empty()) {
    return fail(
        ErrorKind::unavailable,
        fmt::format("the local lab's {} records no \"{}\" endpoint (state dir \"{}\"); restart it with "
                    "`kubeproof lab down && kubeproof lab up`",
                    service, key, state_dir.string()));
  }
  return found->second;
}

}  // namespace kp::lab
