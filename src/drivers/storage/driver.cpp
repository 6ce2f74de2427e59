#include "drivers/storage/driver.hpp"

#include <fmt/format.h>

#include "cluster/pod_runner.hpp"
#include "core/live_notice.hpp"
#include "drivers/storage/cluster_volume.hpp"
#include "drivers/storage/depth_search.hpp"
#include "drivers/storage/jobs.hpp"
#include "drivers/storage/random_rate.hpp"
#include "drivers/storage/settings.hpp"
#include "drivers/storage/storage_phase.hpp"
#include "kube/api.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/transport.hpp"
#include "load/criteria_view.hpp"

namespace kp::drivers::storage {
namespace {

class StorageDriver final : public engine::Driver {
 public:
  explicit StorageDriver(DriverOptions options) : options_(std::move(options)) {}

  Phase phase() const override { return Phase::storage; }

  Result<void> validate(const engine::PhaseContext& context) override {
    const std::string path = config::settings_path(context.phase);
    const config::YamlField field = config::settings_field(context.plan, context.phase);
    Result<Settings> settings = parse_settings(field);
    if (!settings) {
      return std::unexpected(settings.error());
    }
    if (options_.compare_to) {
      // The CLI checked that the directory exists; the flag still has to name a path other than the volume.
      if (!settings->volume.empty() &&
          (*options_.compare_to / "").lexically_normal() == (settings->volume / "").lexically_normal()) {
        return fail(ErrorKind::usage,
                    fmt::format("--compare-to: must differ from {}.volume, got \"{}\" for both", path,
                                options_.compare_to->string()));
      }
      settings->compare_to = options_.compare_to;
    }
    if (context.plan.target == config::Target::local) {
      // The paths are on this host: a typo is an input error now, not a phase error after the earlier phases.
      Result<config::YamlMap> map = config::YamlMap::open_any(field);
      auto field_of = [&](std::string_view key) { return map ? map->get(key).value_or(field) : field; };
      if (Result<void> found = check_directories(*settings, field_of); !found) {
        return found;
      }
    }
    Result<void> rate = resolve_rate(context, *settings);
    if (!rate) {
      return rate;
    }
    if (context.plan.target == config::Target::cluster) {
      Result<ClusterSettings> cluster = parse_cluster_settings(field);
      if (!cluster) {
        return std::unexpected(cluster.error());
      }
      Result<cluster::PodSettings> pods =
          cluster::read_pod_settings(config::YamlField(cluster->pods, field.file(), path + ".pods"));
      if (!pods) {
        return std::unexpected(pods.error());
      }
      if (settings->compare_to || !settings->volume.empty()) {
        return fail(
            ErrorKind::input,
            fmt::format("{}: {}: volume and compare_to are paths on this host; on --target cluster the "
                        "volume is a PersistentVolumeClaim (storage_class, volume_size) and the "
                        "comparison an emptyDir (emptydir_baseline: true)",
                        field.file(), path));
      }
      cluster_settings_ = std::move(*cluster);
      pod_settings_ = std::move(*pods);
    }
    settings_ = std::move(*settings);
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    if (context.plan.target == config::Target::cluster) {
      announce_no_live_counts(context.progress.live_sink(), Phase::storage, kAgentPodsReportAtEnd);
      return prepare_cluster(context);
    }
    Settings settings = settings_;
    if (settings.volume.empty()) {
      settings.volume = lab_volume_dir(options_.lab_dir);
      std::error_code code;
      std::filesystem::create_directories(settings.volume, code);
      if (code) {
        return fail(ErrorKind::io, fmt::format("storage: cannot create the lab volume directory {}: {}",
                                               settings.volume.string(), code.message()));
      }
    }
    std::optional<DepthSearchPlan> search;
    JobPlanOptions options{.random_rate = random_rate_, .search_slots = 0};
    if (context.plan.type == config::TestType::stress && !search_workloads(settings).empty()) {
      const load::CriteriaView criteria(context.criteria);
      search = plan_depth_search(settings, criteria.critical(kRandP99));
      options.search_slots = search_slots(settings, *search);
    }
    JobSet jobs = plan_jobs(settings, context.plan.type, context.phase.duration, options);
    engine::ProgressSink& sink = context.progress;
    for (const std::string& note : rate_notes_) {
      sink.message(Phase::storage, note);
    }
    phase_ = std::make_unique<StoragePhase>(
        std::move(settings), std::move(jobs), context.clock,
        [&sink](std::string_view text) { sink.message(Phase::storage, text); });
    if (search) {
      phase_->set_depth_search(std::move(*search));
    }
    phase_->set_live_sink(sink.live_sink());
    return phase_->prepare();
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
    if (cluster_) {
      Result<engine::PhaseRun> run = cluster_->run(context);
      if (run) {
        run->notes.insert(run->notes.begin(), rate_notes_.begin(), rate_notes_.end());
        if (context.plan.type == config::TestType::stress) {
          run->notes.push_back(
              "stress: the iodepth search runs with --target local only; on a cluster the agents run the job "
              "set (qd_sweep gives the random jobs at other depths)");
        }
      }
      return run;
    }
    if (!phase_) {
      return fail(ErrorKind::internal, "storage driver: run() before a successful prepare()");
    }
    Result<StorageResult> result = phase_->run(context.cancel);
    if (!result) {
      return std::unexpected(result.error());
    }
    engine::PhaseRun run = std::move(result->run);
    run.notes.insert(run.notes.begin(), rate_notes_.begin(), rate_notes_.end());
    apply_validity(run, result->jobs, load::CriteriaView(context.criteria));
    return run;
  }

  void teardown(engine::PhaseContext& /*context*/) noexcept override {
    if (phase_) {
      phase_->teardown();
    }
    phase_.reset();
    if (cluster_) {
      cluster_->close();  // the namespace, and with it the claims and pods, on every exit path
      cluster_.reset();
    }
  }

 private:
  Result<void> prepare_cluster(engine::PhaseContext& context) {
    kube::LoadOptions load;
    load.kubeconfig = options_.kubeconfig;
    load.context = options_.context;
    Result<kube::RestConfig> config = kube::load_rest_config(load);
    if (!config) {
      return std::unexpected(config.error());
    }
    cluster::RunnerOptions runner_options;
    runner_options.run_id = options_.run_id;
    runner_options.phase = "storage";
    runner_options.image = options_.image;
    runner_options.image.storage_reference = storage_image_of(options_.image, cluster_settings_);
    runner_options.pods = pod_settings_;
    JobSet jobs = plan_jobs(settings_, context.plan.type, context.phase.duration,
                            JobPlanOptions{.random_rate = random_rate_, .search_slots = 0});
    if (cluster_settings_.emptydir_baseline && !settings_.runtime) {
      // The baseline runs every job a second time: the phase's time is shared by both runs.
      Settings shared = settings_;
      shared.compare_to = std::filesystem::path(kBaselineMount);
      jobs = plan_jobs(shared, context.plan.type, context.phase.duration,
                       JobPlanOptions{.random_rate = random_rate_, .search_slots = 0});
    }
    Result<std::unique_ptr<cluster::PodRunner>> runner =
        cluster::PodRunner::open(*config, runner_options, context.clock, context.cancel);
    if (!runner) {
      return std::unexpected(runner.error());
    }
    for (const std::string& note : rate_notes_) {
      context.progress.message(Phase::storage, note);
    }
    cluster_ = std::make_unique<ClusterVolume>(std::move(*runner), settings_, std::move(jobs),
                                               cluster_settings_, context.clock);
    context.progress.message(
        Phase::storage,
        fmt::format("namespace {}: image {} ({}); {} claim{} of {} each", cluster_->ns(),
                    runner_options.image.storage(), runner_options.image.pull_policy,
                    cluster_settings_.agents, cluster_settings_.agents == 1 ? "" : "s",
                    format_quantity(Quantity::size, static_cast<double>(cluster_->volume_size()))));
    return cluster_->create_claims();
  }

  Result<void> resolve_rate(const engine::PhaseContext& context, const Settings& settings) {
    Result<RandomRate> rate = resolve_random_rate(context.plan, context.phase, settings);
    if (!rate) {
      return std::unexpected(rate.error());
    }
    random_rate_ = rate->rate;
    rate_notes_ = std::move(rate->notes);
    return {};
  }

  DriverOptions options_;
  Settings settings_;
  std::optional<Rate> random_rate_;
  std::vector<std::string> rate_notes_;
  std::unique_ptr<StoragePhase> phase_;
  ClusterSettings cluster_settings_;
  cluster::PodSettings pod_settings_;
  std::unique_ptr<ClusterVolume> cluster_;
};

}  // namespace

Result<void> check_cluster_inputs(const config::Plan& plan, const DriverOptions& options) {
  if (plan.target != config::Target::cluster) {
    return {};
  }
  for (const config::PhasePlan& phase : plan.phases) {
    if (phase.phase != Phase::storage || !phase.enabled) {
      continue;
    }
    const config::YamlField field = config::settings_field(plan, phase);
    Result<ClusterSettings> cluster = parse_cluster_settings(field);
    if (!cluster || cluster->storage_class.empty()) {
      return {};  // bad settings are validate()'s to report; the default class is the runner's to find
    }
    kube::LoadOptions load;
    load.kubeconfig = options.kubeconfig;
    load.context = options.context;
    Result<kube::RestConfig> config = kube::load_rest_config(load);
    if (!config) {
      return {};
    }
    const std::string who = fmt::format("context \"{}\" ({})", config->context, config->server);
    Result<std::unique_ptr<kube::Transport>> transport =
        kube::Transport::create(*config, kube::ClientOptions{}, real_clock());
    if (!transport) {
      return {};
    }
    kube::Api api(**transport);
    const kube::Resource classes{.group = "storage.k8s.io",
                                 .version = "v1",
                                 .name = "storageclasses",
                                 .kind = "StorageClass",
                                 .namespaced = false};
    kube::ApiResult<nlohmann::json> found = api.get(classes, "", cluster->storage_class);
    if (!found && found.error().code == 404) {
      Result<config::YamlMap> map = config::YamlMap::open_any(field);
      const config::YamlField at = map ? map->get("storage_class").value_or(field) : field;
      return at.fail_got(fmt::format("no such StorageClass on {}", who));
    }
    return {};
  }
  return {};
}

Result<std::vector<std::string>> describe_cluster_plan(const config::Plan& plan,
                                                       const DriverOptions& options) {
  for (const config::PhasePlan& phase : plan.phases) {
    if (phase.phase != Phase::storage || !phase.enabled) {
      continue;
    }
    Result<ClusterSettings> cluster = parse_cluster_settings(config::settings_field(plan, phase));
    if (!cluster) {
      return std::unexpected(cluster.error());
    }
    std::vector<std::string> lines = describe_cluster(*cluster);
    lines.push_back(
        fmt::format("image {} ({})", storage_image_of(options.image, *cluster), options.image.pull_policy));
    return lines;
  }
  return std::vector<std::string>{};
}

std::filesystem::path lab_volume_dir(const std::filesystem::path& lab_dir) {
  return lab_dir / "volume";
}

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, std::filesystem::path lab_dir) {
  DriverOptions options;
  options.lab_dir = std::move(lab_dir);
  return std::make_unique<StorageDriver>(std::move(options));
}

engine::DriverFactory driver_factory(std::filesystem::path lab_dir) {
  DriverOptions options;
  options.lab_dir = std::move(lab_dir);
  return driver_factory(std::move(options));
}

engine::DriverFactory driver_factory(DriverOptions options) {
  return [options](const config::Plan& /*plan*/) -> std::unique_ptr<engine::Driver> {
    return std::make_unique<StorageDriver>(options);
  };
}

}  // namespace kp::drivers::storage
