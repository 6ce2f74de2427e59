#include "drivers/storage/driver.hpp"

#include <fmt/format.h>

#include "drivers/storage/depth_search.hpp"
#include "drivers/storage/jobs.hpp"
#include "drivers/storage/random_rate.hpp"
#include "drivers/storage/settings.hpp"
#include "drivers/storage/storage_phase.hpp"
#include "load/criteria_view.hpp"

namespace kp::drivers::storage {
namespace {

class StorageDriver final : public engine::Driver {
 public:
  explicit StorageDriver(DriverOptions options) : options_(std::move(options)) {}

  Phase phase() const override { return Phase::storage; }

  Result<void> validate(const engine::PhaseContext& context) override {
    const std::string path =
        (context.phase.path.empty() ? std::string("storage") : context.phase.path) + ".settings";
    const config::YamlField field(context.phase.settings, context.plan.source.string(), path);
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
    settings_ = std::move(*settings);
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    if (context.plan.target == config::Target::cluster) {
      return fail(
          ErrorKind::unavailable,
          "storage on --target cluster needs agent pods on the volume, which this build cannot schedule yet; "
          "run `kubeproof agent storage --dir <mount path>` in a pod that mounts the PersistentVolume");
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
    return phase_->prepare();
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
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
  }

 private:
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
};

}  // namespace

std::filesystem::path lab_volume_dir(const std::filesystem::path& lab_dir) {
  return lab_dir / "volume";
}

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, std::filesystem::path lab_dir) {
  return std::make_unique<StorageDriver>(DriverOptions{.lab_dir = std::move(lab_dir), .compare_to = {}});
}

engine::DriverFactory driver_factory(std::filesystem::path lab_dir) {
  return driver_factory(DriverOptions{.lab_dir = std::move(lab_dir), .compare_to = {}});
}

engine::DriverFactory driver_factory(DriverOptions options) {
  return [options](const config::Plan& /*plan*/) -> std::unique_ptr<engine::Driver> {
    return std::make_unique<StorageDriver>(options);
  };
}

}  // namespace kp::drivers::storage
