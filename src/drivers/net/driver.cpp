#include "drivers/net/driver.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "cluster/pod_runner.hpp"
#include "drivers/net/cluster_runner.hpp"
#include "drivers/net/phase_flow.hpp"
#include "drivers/net/phase_plan.hpp"
#include "drivers/net/settings.hpp"
#include "kube/kubeconfig.hpp"
#include "lab/netns.hpp"
#include "load/worker_pool.hpp"

namespace kp::drivers::net {
namespace {

constexpr Duration kServerReady = std::chrono::seconds(10);
constexpr Duration kServerStopGrace = std::chrono::seconds(3);

// On a cluster the phase's duration is shared by every test of every placement (five each, four on the host
// network), so adding placements does not multiply the phase's time; settings.duration overrides it.
Settings cluster_test_settings(Settings settings, const config::PhasePlan& phase, std::size_t tests) {
  if (!settings.duration && tests > 0) {
    settings.duration =
        std::max<Duration>(phase.duration / static_cast<std::int64_t>(tests), kMinStepDuration);
  }
  return settings;
}

class NetDriver final : public engine::Driver {
 public:
  NetDriver(std::filesystem::path lab_dir, AgentCommand agent, ClusterOptions cluster)
      : lab_dir_(std::move(lab_dir)), agent_(std::move(agent)), cluster_options_(std::move(cluster)) {}

  Phase phase() const override { return Phase::network; }

  Result<void> validate(const engine::PhaseContext& context) override {
    const std::string file = context.plan.source.string();
    const std::string path = config::settings_path(context.phase);  // the one way to a phase's settings
    Result<Settings> settings = parse_settings(context.phase.settings, file, path);
    if (!settings) {
      return std::unexpected(settings.error());
    }
    settings_ = *settings;
    Result<NetPhasePlan> plan = plan_phase(settings_, context.plan, context.phase, lab::NetnsLayout{});
    if (!plan) {
      return std::unexpected(plan.error());
    }
    // The specs must pass the agent's own checks, or the error would only surface mid-run.
    std::vector<TestSpec> specs;
    for (const PlannedTest& test : plan->tests) {
      specs.push_back(test.spec);
    }
    if (plan->stress()) {
      specs.push_back(plan->stream);
      specs.push_back(plan->probe);
    }
    for (const TestSpec& spec : specs) {
      if (Result<void> ok = net::validate(spec, FieldStyle::key); !ok) {
        return fail(ErrorKind::input, fmt::format("{}: {}.{}", file, path, ok.error().message));
      }
    }
    if (context.plan.target == config::Target::cluster) {
      Result<cluster::PodSettings> pods =
          cluster::read_pod_settings(config::YamlField(settings_.pods, file, path + ".pods"));
      if (!pods) {
        return std::unexpected(pods.error());
      }
      pod_settings_ = *pods;
      if (settings_.streams < settings_.pairs) {
        return fail(ErrorKind::input,
                    fmt::format("{}: {}.pairs: must be at most streams ({}), got \"{}\": each pair's client "
                                "needs a stream",
                                file, path, settings_.streams, settings_.pairs));
      }
    }
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    if (context.plan.target == config::Target::cluster) {
      // The client pods hand over live counts through their logs (cluster_runner.hpp).
      return prepare_cluster(context);
    }
    if (::geteuid() != 0) {
      return fail(
          ErrorKind::unavailable,
          fmt::format("the network phase needs root to run its agents inside the lab's network namespaces "
                      "(running as uid {}): run as root, after `kubeproof lab up` as root",
                      ::geteuid()));
    }
    Result<lab::NetnsRecord> lab = lab::netns_for_phase(lab_dir_);
    if (!lab) {
      return std::unexpected(lab.error());
    }
    lab_ = *lab;
    Result<LabServer> server = start(context, lab_->layout.server_port, settings_.server_cpu);
    if (!server) {
      return std::unexpected(server.error());
    }
    server_.emplace(std::move(*server));
    if (context.plan.type == config::TestType::stress) {
      // The TCP_RR beside each stream step needs a server of its own: a server serves one test at a time.
      Result<LabServer> probe = start(context, probe_port(), std::nullopt);
      if (!probe) {
        return std::unexpected(probe.error());
      }
      probe_server_.emplace(std::move(*probe));
    }
    return {};
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
    if (cluster_) {
      return run_cluster(context);
    }
    if (!lab_ || !server_) {
      return fail(ErrorKind::internal, "network driver: run() before a successful prepare()");
    }
    Result<NetPhasePlan> plan = plan_phase(settings_, context.plan, context.phase, lab_->layout);
    if (!plan) {
      return std::unexpected(plan.error());
    }
    engine::PhaseRun run;
    run.notes = plan->notes;
    FlowPath path;
    path.server = lab_->layout.server_endpoint();
    path.service = lab_->layout.service_endpoint();
    path.service_path = fmt::format("pod to service: DNAT {} -> {}", lab_->layout.service_endpoint(),
                                    lab_->layout.server_endpoint());
    path.probe = probe_endpoint();
    path.client = "in " + lab_->layout.client_ns;
    path.medium = "lab veth between network namespaces";
    const RunClients clients = [&](const std::vector<ClientJob>& jobs) {
      return run_lab_clients(context, jobs);
    };
    run_path(context, settings_, *plan, path, clients, run);
    return run;
  }

  void teardown(engine::PhaseContext& context) noexcept override {
    for (std::optional<LabServer>* server : {&server_, &probe_server_}) {
      if (*server) {
        const AgentExit exit = (*server)->process.stop(context.clock, kServerStopGrace);
        if (exit.timed_out) {
          context.progress.message(Phase::network, "net-server did not stop on SIGTERM; killed");
        }
      }
      server->reset();
    }
    if (cluster_) {
      cluster_->close();  // deletes the namespace and everything in it, on every exit path
      cluster_.reset();
    }
  }

 private:
  Result<void> prepare_cluster(engine::PhaseContext& context) {
    kube::LoadOptions load;
    load.kubeconfig = cluster_options_.kubeconfig;
    load.context = cluster_options_.context;
    Result<kube::RestConfig> config = kube::load_rest_config(load);
    if (!config) {
      return std::unexpected(config.error());
    }
    cluster::RunnerOptions options;
    options.run_id = cluster_options_.run_id;
    options.phase = "network";
    options.image = cluster_options_.image;
    options.pods = pod_settings_;
    if (settings_.host_network_baseline) {
      // hostNetwork is privileged to Pod Security admission; without the baseline the namespace keeps the
      // cluster's default level, which the restricted agent pods meet.
      options.namespace_labels = cluster::privileged_pod_security_labels();
    }
    Result<std::unique_ptr<cluster::PodRunner>> runner =
        cluster::PodRunner::open(*config, options, context.clock, context.cancel);
    if (!runner) {
      return std::unexpected(runner.error());
    }
    context.progress.message(Phase::network, fmt::format("namespace {}: agent image {} ({})", (*runner)->ns(),
                                                         options.image.reference, options.image.pull_policy));
    cluster_ = std::make_unique<ClusterNet>(std::move(*runner), settings_, context.clock, context.cancel);
    if (Result<void> planned = cluster_->plan(); !planned) {
      return planned;
    }
    for (const PlacementPlan& placement : cluster_->placements()) {
      context.progress.message(
          Phase::network,
          fmt::format("placement {}: {}", placement.name,
                      placement.skipped
                          ? "SKIPPED: " + *placement.skipped
                          : (placement.judged ? "runs (its rows are the judged ones)" : "runs")));
    }
    return {};
  }

  Result<engine::PhaseRun> run_cluster(engine::PhaseContext& context) {
    std::size_t tests = 0;
    for (const PlacementPlan& placement : cluster_->placements()) {
      tests += placement.skipped ? 0 : (placement.host_network ? 4 : 5);
    }
    const Settings settings = cluster_test_settings(settings_, context.phase, tests);
    Result<NetPhasePlan> plan = plan_phase(settings, context.plan, context.phase, lab::NetnsLayout{});
    if (!plan) {
      return std::unexpected(plan.error());
    }
    engine::PhaseRun run;
    run.notes = plan->notes;
    if (!settings_.duration) {
      run.notes.push_back(
          fmt::format("each test runs {} (the phase's {} shared by {} tests over the placements)",
                      format_duration(*settings.duration), format_duration(context.phase.duration), tests));
    }
    if (Result<void> ran = cluster_->run(context, *plan, run); !ran) {
      return std::unexpected(ran.error());
    }
    return run;
  }

  std::vector<Result<ClientResult>> run_lab_clients(engine::PhaseContext& context,
                                                    const std::vector<ClientJob>& jobs) {
    auto one = [&](const ClientJob& job) {
      return run_lab_client(agent_, lab_->layout.client_ns, job.target, job.spec, settings_.connect_timeout,
                            job.cpu, context.clock, context.cancel, context.progress.live_sink(),
                            fmt::format("{} to {}", to_string(job.spec.scenario), job.target));
    };
    std::vector<Result<ClientResult>> out;
    if (jobs.size() == 1) {
      out.push_back(one(jobs.front()));
      return out;
    }
    // Together: one worker thread per client (each child dies with the thread that started it).
    const std::function<Result<ClientResult>(load::WorkerContext&)> body =
        [&](load::WorkerContext& worker) -> Result<ClientResult> {
      return one(jobs[static_cast<std::size_t>(worker.index())]);
    };
    load::PoolOptions pool;
    pool.count = static_cast<int>(jobs.size());
    Result<std::pair<std::vector<Result<ClientResult>>, TimePoint>> ran =
        load::run_workers<Result<ClientResult>>(pool, context.clock, body);
    if (!ran) {
      for (std::size_t i = 0; i < jobs.size(); ++i) {
        out.push_back(std::unexpected(ran.error()));
      }
      return out;
    }
    return std::move(ran->first);
  }

  std::uint16_t probe_port() const { return static_cast<std::uint16_t>(lab_->layout.server_port + 1); }
  std::string probe_endpoint() const { return fmt::format("{}:{}", lab_->layout.server_ip, probe_port()); }

  Result<LabServer> start(engine::PhaseContext& context, std::uint16_t port, std::optional<int> cpu) {
    const std::string listen = fmt::format("0.0.0.0:{}", port);
    Result<LabServer> server = start_lab_server(agent_, lab_->layout.server_ns, listen, Duration::zero(), cpu,
                                                context.clock, kServerReady);
    if (server) {
      context.progress.message(Phase::network,
                               fmt::format("net-server in {} listening on {}:{} ({})", lab_->layout.server_ns,
                                           lab_->layout.server_ip, port, server->listening));
    }
    return server;
  }

  std::filesystem::path lab_dir_;
  AgentCommand agent_;
  ClusterOptions cluster_options_;
  Settings settings_;
  cluster::PodSettings pod_settings_;
  std::optional<lab::NetnsRecord> lab_;
  std::optional<LabServer> server_;
  std::optional<LabServer> probe_server_;
  std::unique_ptr<ClusterNet> cluster_;
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, std::filesystem::path lab_dir,
                                            AgentCommand agent, ClusterOptions cluster) {
  return std::make_unique<NetDriver>(std::move(lab_dir), std::move(agent), std::move(cluster));
}

engine::DriverFactory driver_factory(std::filesystem::path lab_dir, AgentCommand agent,
                                     ClusterOptions cluster) {
  return [lab_dir, agent, cluster](const config::Plan& plan) {
    return make_driver(plan, lab_dir, agent, cluster);
  };
}

Result<std::vector<std::string>> describe_cluster_plan(const config::Plan& plan,
                                                       const cluster::AgentImage& image) {
  for (const config::PhasePlan& phase : plan.phases) {
    if (phase.phase != Phase::network || !phase.enabled) {
      continue;
    }
    Result<Settings> settings =
        parse_settings(phase.settings, plan.source.string(), config::settings_path(phase));
    if (!settings) {
      return std::unexpected(settings.error());
    }
    std::vector<std::string> lines = describe_cluster(*settings, plan.type == config::TestType::stress);
    lines.push_back(fmt::format("image {} ({})", image.reference, image.pull_policy));
    return lines;
  }
  return std::vector<std::string>{};
}

}  // namespace kp::drivers::net
