#include "drivers/ingress/pod_load.hpp"

#include <set>

#include <fmt/format.h>

#include "cluster/agent_clock.hpp"
#include "drivers/ingress/agent_result.hpp"
#include "load/start_time.hpp"
#include "load/worker_pool.hpp"

namespace kp::drivers::ingress {
namespace {

// Beyond the lead, the duration and the drain: connecting and printing take well under this.
constexpr Duration kAgentSlack = std::chrono::seconds(30);

std::string ms_text(Duration duration) {
  return fmt::format("{}ms", std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

std::string ns_ms(std::int64_t ns) {
  return fmt::format("{:.2f} ms", static_cast<double>(ns) / 1e6);
}

struct Agent {
  std::string pod;
  std::string node;
  cluster::ClockWitness witness;
  Rate offered{};
  nlohmann::json line;
};

}  // namespace

std::vector<std::string> agent_args(const LoadSpec& spec, int threads, int index, int agents,
                                    WallTime start) {
  std::vector<std::string> args{"http", spec.url.to_string()};
  args.insert(args.end(), {"--connections",
                           std::to_string(std::max(1, load::share_of(spec.connections, index, agents)))});
  if (threads > 0) {
    args.insert(args.end(), {"--threads", std::to_string(threads)});
  }
  args.insert(args.end(), {"--duration", ms_text(spec.duration)});
  if (spec.rate) {
    args.insert(args.end(), {"--rate", fmt::format("{:.9g}", load::share_of(*spec.rate, agents).per_second)});
  }
  args.insert(args.end(), {"--arrival", spec.arrival == Arrival::poisson ? "poisson" : "constant"});
  args.insert(args.end(), {"--timeout", ms_text(spec.timeout)});
  args.insert(args.end(), {"--method", spec.request.method});
  for (const auto& [name, value] : spec.request.headers) {
    args.insert(args.end(), {"--header", fmt::format("{}: {}", name, value)});
  }
  if (!spec.request.body.empty()) {
    args.insert(args.end(), {"--body", spec.request.body});
  }
  if (!spec.request.host.empty()) {
    args.insert(args.end(), {"--host", spec.request.host});
  }
  for (const std::string& path : spec.request.paths) {
    args.insert(args.end(), {"--path", path});
  }
  if (spec.tls.insecure) {
    args.push_back("--insecure");
  }
  if (!spec.tls.server_name.empty()) {
    args.insert(args.end(), {"--server-name", spec.tls.server_name});
  }
  if (spec.connection_per_request) {
    args.push_back("--connection-per-request");
  }
  if (spec.io != IoBackend::automatic) {
    args.insert(args.end(), {"--io", std::string(io_backend_name(spec.io))});
  }
  args.insert(args.end(), {"--start-at", std::to_string(load::epoch_ms(start))});
  return args;
}

PodLoad::PodLoad(std::unique_ptr<cluster::PodRunner> runner, int agents, int threads, Clock& clock,
                 engine::CancellationToken& cancel)
    : runner_(std::move(runner)), agents_(agents), threads_(threads), clock_(clock), cancel_(cancel) {}

PodLoad::~PodLoad() {
  close();
}

const std::string& PodLoad::ns() const {
  return runner_->ns();
}

kube::Api& PodLoad::api() {
  return runner_->api();
}

void PodLoad::close() noexcept {
  if (runner_) {
    runner_->close();
  }
}

Result<PodLoadResult> PodLoad::run(const LoadSpec& spec, const std::string& label) {
  const int round = sequence_++;
  const std::string group = fmt::format("ingress-http-{}", round);
  const WallTime start = clock_.wall_now() + runner_->start_lead();
  std::vector<Agent> agents(static_cast<std::size_t>(agents_));
  const auto delete_all = [&] {
    for (const Agent& agent : agents) {
      if (!agent.pod.empty()) {
        (void)runner_->delete_pod(agent.pod);  // the namespace's deletion takes what is left
      }
    }
  };
  for (int i = 0; i < agents_; ++i) {
    Agent& agent = agents[static_cast<std::size_t>(i)];
    cluster::AgentPodSpec pod;
    pod.name = fmt::format("http-{}-{}", round, i);
    pod.args = agent_args(spec, threads_, i, agents_, start);
    cluster::spread_over_nodes(pod, group);
    agent.witness.created = clock_.wall_now();
    if (spec.rate) {
      agent.offered = load::share_of(*spec.rate, agents_);
    }
    if (Result<void> created = runner_->create_pod(pod); !created) {
      delete_all();
      return std::unexpected(created.error());
    }
    agent.pod = pod.name;
  }
  for (Agent& agent : agents) {
    Result<cluster::PodInfo> running = runner_->wait_running(agent.pod);
    if (!running) {
      delete_all();
      return std::unexpected(running.error());
    }
    agent.witness.seen_running = clock_.wall_now();
    agent.node = running->node;
  }
  const TimePoint deadline = clock_.now() + std::chrono::duration_cast<Duration>(start - clock_.wall_now()) +
                             spec.duration + spec.timeout + kAgentSlack;
  for (Agent& agent : agents) {
    Result<cluster::PodInfo> finished = runner_->wait_finished(agent.pod, deadline);
    if (!finished) {
      delete_all();
      return std::unexpected(finished.error());
    }
    // Cancelled: the pod's deletion sends SIGTERM and the agent prints what it has.
    const bool running_still = finished->phase != "Succeeded" && finished->phase != "Failed";
    Result<nlohmann::json> line = running_still ? runner_->stop_for_result(agent.pod, kHttpAgentKind)
                                                : runner_->result_line(agent.pod, kHttpAgentKind);
    agent.witness.seen_log = clock_.wall_now();
    if (!line) {
      delete_all();
      return std::unexpected(line.error());
    }
    agent.line = std::move(*line);
    agent.witness.started_at = finished->started_at;
    agent.witness.finished_at = finished->finished_at;
  }
  delete_all();

  PodLoadResult out;
  std::vector<LoadResult> results;
  for (const Agent& agent : agents) {
    Result<LoadResult> result = load_result_from_line(agent.line);
    if (!result) {
      return fail(result.error().kind == ErrorKind::network ? ErrorKind::network : result.error().kind,
                  fmt::format("ingress agent pod {}/{} on {}: {}", ns(), agent.pod, agent.node,
                              result.error().message));
    }
    std::string started = "no start reported";
    Result<load::AgentClock> clock = cluster::agent_clock_from_line(agent.line);
    if (clock) {
      started =
          fmt::format("started {} (asked {})", load::format_wall_ms(load::from_epoch_ms(clock->started_ms)),
                      load::format_wall_ms(start));
      if (std::optional<std::string> skew =
              cluster::clock_skew_reason(agent.pod, agent.node, *clock, agent.witness)) {
        out.invalid_reasons.push_back(*skew);
      }
    } else {
      out.invalid_reasons.push_back(fmt::format("agent {} on {}: {}; its start cannot be checked", agent.pod,
                                                agent.node, clock.error().message));
    }
    const std::string offered =
        result->open_loop ? fmt::format("{:.6g}/s offered", agent.offered.per_second) : "closed loop";
    out.notes.push_back(fmt::format(
        "agent {} on {} ({}): {}, {:.6g} responses/s ({} in {:.2f} s), P99 {}, {} 5xx, {} failed; {}",
        agent.pod, agent.node, label, offered, result->rps(), result->responses,
        std::chrono::duration<double>(result->elapsed).count(),
        result->latency.count() > 0 ? ns_ms(result->latency.value_at_percentile(99)) : std::string("none"),
        result->status_classes[5], result->failures(), started));
    results.push_back(std::move(*result));
  }
  for (const LoadResult& result : results) {
    out.merged.merge(result);
  }
  std::set<std::string> nodes;
  for (const Agent& agent : agents) {
    nodes.insert(agent.node);
  }
  out.notes.push_back(fmt::format(
      "{}: {} agent pod{} on {} node{}, their sum: {}, {:.6g} responses/s; histograms merged exactly", label,
      agents_, agents_ == 1 ? "" : "s", nodes.size(), nodes.size() == 1 ? "" : "s",
      out.merged.open_loop ? fmt::format("{:.6g}/s offered", out.merged.intended_rate) : "closed loop",
      out.merged.rps()));
  return out;
}

}  // namespace kp::drivers::ingress
