#include "drivers/net/cluster_runner.hpp"

#include <fmt/format.h>

#include "cluster/agent_clock.hpp"
#include "core/json_read.hpp"
#include "core/live_lines.hpp"
#include "drivers/net/agent.hpp"
#include "drivers/net/lab_runner.hpp"
#include "drivers/net/merge.hpp"
#include "load/start_time.hpp"

namespace kp::drivers::net {
namespace {

// Beyond warm-up + duration: connecting, the drain and the report take well under this.
constexpr Duration kClientSlack = std::chrono::seconds(30);
// How often a server's log is read while waiting for its listening line.
constexpr Duration kLogPoll = std::chrono::milliseconds(200);

std::string endpoint(const std::string& ip, int port) {
  // An IPv6 pod IP needs brackets in host:port.
  return ip.find(':') == std::string::npos ? fmt::format("{}:{}", ip, port)
                                           : fmt::format("[{}]:{}", ip, port);
}

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

}  // namespace

struct ClusterNet::Servers {
  std::vector<cluster::PodInfo> pods;          // per pair
  std::vector<cluster::ServiceInfo> services;  // per pair; empty on the host network
  std::optional<cluster::PodInfo> probe;
  std::vector<std::string> names;  // every pod, for deletion
};

ClusterNet::ClusterNet(std::unique_ptr<cluster::PodRunner> runner, Settings settings, Clock& clock,
                       engine::CancellationToken& cancel)
    : runner_(std::move(runner)), settings_(std::move(settings)), clock_(clock), cancel_(cancel) {}

ClusterNet::~ClusterNet() {
  close();
}

const std::string& ClusterNet::ns() const {
  return runner_->ns();
}

void ClusterNet::close() noexcept {
  if (runner_) {
    runner_->close();
  }
}

Result<void> ClusterNet::plan() {
  Result<std::vector<cluster::Node>> nodes = runner_->schedulable_nodes();
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  placements_ = plan_placements(settings_, *nodes);
  return {};
}

void ClusterNet::delete_pods(const std::vector<std::string>& pods) {
  for (const std::string& pod : pods) {
    (void)runner_->delete_pod(pod);  // the namespace's deletion takes what is left
  }
}

Result<ClusterNet::Servers> ClusterNet::start_servers(engine::PhaseContext& context,
                                                      const PlacementPlan& placement, bool probe) {
  Servers servers;
  std::vector<cluster::AgentPodSpec> specs;
  for (int pair = 0; pair < settings_.pairs; ++pair) {
    specs.push_back(server_pod(placement, pair));
  }
  if (probe) {
    specs.push_back(probe_pod(placement));
  }
  for (const cluster::AgentPodSpec& spec : specs) {
    if (Result<void> created = runner_->create_pod(spec); !created) {
      delete_pods(servers.names);
      return std::unexpected(created.error());
    }
    servers.names.push_back(spec.name);
  }
  for (const cluster::AgentPodSpec& spec : specs) {
    Result<cluster::PodInfo> pod = runner_->wait_running(spec.name);
    if (pod && pod->phase != "Running") {
      pod = fail(ErrorKind::unavailable,
                 fmt::format("net-server pod {}/{} ended at once ({}): {}", ns(), spec.name, pod->phase,
                             runner_->logs(spec.name).value_or("no log")));
    }
    if (!pod) {
      delete_pods(servers.names);
      return std::unexpected(pod.error());
    }
    // Running is not listening: the server's first line says where it listens (a client started before it
    // would be refused).
    const TimePoint deadline = clock_.now() + settings_.connect_timeout + std::chrono::seconds(30);
    Result<cluster::json> line = runner_->result_line(spec.name, kServerLineKind);
    while (!line && clock_.now() < deadline && !cancel_.requested()) {
      cancel_.wait_until(clock_, clock_.now() + kLogPoll);
      line = runner_->result_line(spec.name, kServerLineKind);
    }
    if (line && line->contains("error") && (*line)["error"].is_string()) {
      line = fail(ErrorKind::unavailable, (*line)["error"].get<std::string>());  // its failure line
    }
    if (!line) {
      delete_pods(servers.names);
      return fail(ErrorKind::unavailable,
                  fmt::format("net-server pod {}/{} on {} is Running but not listening: {}", ns(), spec.name,
                              pod->node, line.error().message));
    }
    Result<std::string> listening =
        json_string(*line, "listening", fmt::format("net-server pod {}/{}'s line", ns(), spec.name), "?");
    if (!listening) {
      delete_pods(servers.names);
      return std::unexpected(listening.error());
    }
    context.progress.message(Phase::network,
                             fmt::format("{} on {} at {} ({})", spec.name, pod->node, pod->ip, *listening));
    if (spec.name == probe_agent(placement)) {
      servers.probe = *pod;
    } else {
      servers.pods.push_back(*pod);
    }
  }
  if (!placement.host_network) {
    for (int pair = 0; pair < settings_.pairs; ++pair) {
      Result<cluster::ServiceInfo> service = runner_->create_service(
          service_name(placement, pair), server_agent(placement, pair), service_ports());
      if (!service) {
        delete_pods(servers.names);
        return std::unexpected(service.error());
      }
      servers.services.push_back(*service);
    }
  }
  return servers;
}

Result<ClientResult> ClusterNet::finish_client(const std::string& pod, Duration budget, std::string& node,
                                               cluster::ClockWitness& witness,
                                               std::vector<std::string>& skews) {
  // From Running: the pods of one call run together, so the later ones are done when their turn comes.
  Result<cluster::PodInfo> finished = runner_->wait_finished(pod, clock_.now() + budget);
  if (!finished) {
    return std::unexpected(finished.error());
  }
  // Cancelled: the pod's deletion sends SIGTERM and the agent prints what it has.
  const bool running_still = finished->phase != "Succeeded" && finished->phase != "Failed";
  Result<cluster::json> line = running_still ? runner_->stop_for_result(pod, kClientResultKind)
                                             : runner_->result_line(pod, kClientResultKind);
  witness.seen_log = clock_.wall_now();
  if (!line) {
    return std::unexpected(line.error());
  }
  // The pairs of a test started together (--start-at): their windows line up only when the nodes' clocks
  // agree (cluster/agent_clock.hpp).
  witness.started_at = finished->started_at;
  witness.finished_at = finished->finished_at;
  if (Result<load::AgentClock> clock = cluster::agent_clock_from_line(*line); clock) {
    if (std::optional<std::string> skew = cluster::clock_skew_reason(pod, node, *clock, witness)) {
      skews.push_back(*skew);
    }
  }
  // An agent that failed before it measured prints a line with only its error (as in the lab).
  if (!line->contains("test") && line->contains("error") && (*line)["error"].is_string()) {
    return fail(finished->exit_code == 2 ? ErrorKind::usage : ErrorKind::network,
                fmt::format("{} on {}: {}", pod, node, (*line)["error"].get<std::string>()));
  }
  return result_from_json_line(line->dump());
}

std::vector<Result<ClientResult>> ClusterNet::run_clients(const PlacementPlan& placement,
                                                          const Servers& servers,
                                                          const std::vector<ClientJob>& jobs,
                                                          std::vector<std::string>& notes,
                                                          std::set<std::string>& nodes) {
  struct Part {
    std::size_t job;
    std::string pod;
    Duration budget;
    std::optional<Error> error;
    cluster::ClockWitness witness;
    std::string node;
    std::unique_ptr<cluster::PodRunner::LogFollow> live;  // its kp-live lines, while it runs
  };
  // Every client of these jobs starts at one wall-clock time, once all can be Running.
  const Duration lead = runner_->start_lead();
  const WallTime start = clock_.wall_now() + lead;
  std::vector<Part> parts;
  std::vector<std::optional<Error>> job_errors(jobs.size());
  // Every pod of every job is created first, so they run together (the stress probe beside its streams).
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const ClientJob& job = jobs[j];
    const bool probe = job.role == ServerRole::probe;
    Result<std::vector<TestSpec>> specs = probe
                                              ? Result<std::vector<TestSpec>>(std::vector<TestSpec>{job.spec})
                                              : split_spec(job.spec, settings_.pairs);
    if (!specs) {
      job_errors[j] = specs.error();
      continue;
    }
    const Duration budget =
        lead + settings_.connect_timeout + job.spec.warmup + job.spec.duration + kClientSlack;
    for (int pair = 0; pair < static_cast<int>(specs->size()); ++pair) {
      std::string target;
      if (probe) {
        target =
            endpoint(servers.probe ? servers.probe->ip : "", kAgentPort + (placement.host_network ? 100 : 0));
      } else if (job.role == ServerRole::service) {
        target = endpoint(servers.services[static_cast<std::size_t>(pair)].cluster_ip, kAgentPort);
      } else {
        target = endpoint(servers.pods[static_cast<std::size_t>(pair)].ip, server_port(placement, pair));
      }
      cluster::AgentPodSpec spec = client_pod(
          placement, probe ? 0 : pair, sequence_++,
          client_flags((*specs)[static_cast<std::size_t>(pair)], target, settings_.connect_timeout));
      spec.args.insert(spec.args.end(), {"--start-at", std::to_string(load::epoch_ms(start))});
      if (live_ != nullptr) {
        spec.args.emplace_back("--live-lines");
      }
      Part part{j, spec.name, budget, std::nullopt, {}, {}, nullptr};
      part.witness.created = clock_.wall_now();
      if (Result<void> created = runner_->create_pod(spec); !created) {
        part.error = created.error();
      }
      parts.push_back(std::move(part));
    }
  }
  // Every pod Running first, each one's log followed from then on for its live counts, so they flow from
  // all pods while the test runs, not from one at a time as the results are read.
  for (Part& part : parts) {
    if (part.error) {
      continue;
    }
    Result<cluster::PodInfo> running = runner_->wait_running(part.pod);
    if (!running) {
      part.error = running.error();
      continue;
    }
    part.witness.seen_running = clock_.wall_now();
    part.node = running->node;
    if (live_ != nullptr) {
      const ClientJob& job = jobs[part.job];
      part.live =
          runner_->follow_lines(part.pod, part.budget + cluster::PodRunner::kStopSlack,
                                [live = live_, series = fmt::format("{} to {}", to_string(job.spec.scenario),
                                                                    job.target)](std::string_view line) {
                                  if (!line.starts_with(kLiveLinePrefix)) {
                                    return;
                                  }
                                  if (std::optional<LiveDelta> delta = parse_live_line(line)) {
                                    delta->phase = Phase::network;
                                    delta->series = series;
                                    // The result line carries the exact per-second series (phase_flow.cpp
                                    // hands it over).
                                    delta->finished_later = true;
                                    live->add(*delta);
                                  }
                                });
    }
  }
  std::vector<std::vector<ClientResult>> done(jobs.size());
  for (Part& part : parts) {
    if (!part.error) {
      std::string& node = part.node;
      Result<ClientResult> result = finish_client(part.pod, part.budget, node, part.witness, clock_skews_);
      part.live.reset();  // the result is read: no more counts from this pod
      if (result) {
        nodes.insert(node);
        notes.push_back(agent_summary(part.pod, node, *result));
        done[part.job].push_back(std::move(*result));
      } else {
        part.error = result.error();
      }
      (void)runner_->delete_pod(part.pod);  // its log has been read
    }
    if (part.error && !job_errors[part.job]) {
      job_errors[part.job] = *part.error;
    }
  }
  std::vector<Result<ClientResult>> out;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    if (job_errors[j]) {
      out.push_back(std::unexpected(*job_errors[j]));
    } else {
      out.push_back(merge_results(done[j]));
    }
  }
  return out;
}

Result<void> ClusterNet::run(engine::PhaseContext& context, const NetPhasePlan& plan, engine::PhaseRun& run) {
  live_ = context.progress.live_sink();
  for (const PlacementPlan& placement : placements_) {
    if (placement.skipped) {
      const std::string text =
          fmt::format("{}: SKIPPED, not measured: {}", placement.name, *placement.skipped);
      run.notes.push_back(text);
      context.progress.message(Phase::network, text);
      continue;
    }
    if (context.cancel.requested()) {
      break;
    }
    const bool stress = plan.stress() && placement.judged;
    Result<Servers> servers = start_servers(context, placement, stress);
    if (!servers) {
      return std::unexpected(servers.error());
    }
    FlowPath path;
    const cluster::PodInfo& server = servers->pods.front();
    path.server = endpoint(server.ip, server_port(placement, 0));
    if (!servers->services.empty()) {
      path.service = endpoint(servers->services.front().cluster_ip, kAgentPort);
      path.service_path = fmt::format("pod to service: ClusterIP {} -> {}", path.service, path.server);
    }
    if (servers->probe) {
      path.probe = endpoint(servers->probe->ip, kAgentPort + (placement.host_network ? 100 : 0));
    }
    path.client = fmt::format("pod ({})", placement.name);
    path.qualifier = placement.qualifier;
    path.judged = placement.judged;
    path.stress = stress;
    std::set<std::string> server_nodes;
    for (const cluster::PodInfo& pod : servers->pods) {
      server_nodes.insert(pod.node);
    }
    path.medium = fmt::format("{}: server pod{} on {}{}", placement.name,
                              servers->pods.size() == 1 ? "" : "s", joined(server_nodes),
                              settings_.pairs > 1 ? fmt::format(", {} pairs merged", settings_.pairs) : "");
    std::vector<std::string> notes;
    std::set<std::string> client_nodes;
    const RunClients clients = [&](const std::vector<ClientJob>& jobs) {
      return run_clients(placement, *servers, jobs, notes, client_nodes);
    };
    const std::size_t first = run.measurements.size();
    run_path(context, settings_, plan, path, clients, run);
    // The client pods' nodes are known once they ran: every row of the placement names both ends.
    for (std::size_t i = first; i < run.measurements.size(); ++i) {
      run.measurements[i].note +=
          fmt::format("; client pod{} on {}", client_nodes.size() == 1 ? "" : "s", joined(client_nodes));
    }
    for (std::string& note : notes) {
      run.notes.push_back(fmt::format("agent {}", note));
    }
    for (std::string& skew : clock_skews_) {
      run.invalid_reasons.push_back(std::move(skew));
    }
    clock_skews_.clear();
    delete_pods(servers->names);
  }
  return {};
}

}  // namespace kp::drivers::net
