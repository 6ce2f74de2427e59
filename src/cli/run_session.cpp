#include "cli/run_session.hpp"

#include <fmt/format.h>
#include <charconv>
#include <cstdio>
#include <set>

#include "cli/cluster_config.hpp"
#include "cli/cluster_preflight.hpp"
#include "cli/confirm.hpp"
#include "cli/live_view.hpp"
#include "cli/metrics_server.hpp"
#include "cli/progress.hpp"
#include "core/clock.hpp"
#include "drivers/api/api_phase.hpp"
#include "drivers/api/driver.hpp"
#include "drivers/ingress/driver.hpp"
#include "drivers/net/driver.hpp"
#include "drivers/storage/driver.hpp"
#include "lab/lab.hpp"
#include "report/live_metrics.hpp"

namespace kp::cli {
namespace {

// The agent images: the defaults are the two images scripts/build-agent-image.sh tags; with --agent-image
// alone, the storage agent runs its storage variant (the same name with "-storage", as both are pushed).
Result<cluster::AgentImage> agent_image_of(const RunOptions& options) {
  const std::string reference = options.agent_image.value_or(cluster::default_agent_image());
  if (options.storage_agent_image && options.storage_agent_image->empty()) {
    // parse_agent_image reads "" as "the same image": an explicit empty flag is a mistake to name.
    return std::unexpected(cluster::parse_image_reference("", "--storage-agent-image").error());
  }
  const std::string storage = options.storage_agent_image ? *options.storage_agent_image
                              : options.agent_image       ? cluster::storage_variant(*options.agent_image)
                                                          : cluster::default_storage_agent_image();
  return cluster::parse_agent_image(reference, options.image_pull_policy, storage);
}

Result<RegistryOptions> registry_options(const RunOptions& options) {
  RegistryOptions registry;
  Result<cluster::AgentImage> image = agent_image_of(options);
  if (!image) {
    return std::unexpected(image.error());
  }
  registry.agent_image = std::move(*image);
  registry.agents = options.agents;
  registry.lab_dir =
      options.lab_dir.empty() ? lab::default_state_dir() : std::filesystem::path(options.lab_dir);
  if (!options.kubeconfig.empty()) {
    registry.kubeconfig = options.kubeconfig;
  }
  if (!options.context.empty()) {
    registry.context = options.context;
  }
  if (!options.compare_to.empty()) {
    registry.compare_to = options.compare_to;
  }
  // One id for the whole run, so the namespaces the prompt announces are the ones the run creates.
  registry.run_id = drivers::api::new_run_id();
  return registry;
}

Result<void> check_kubeconfig(const RegistryOptions& registry) {
  Result<kube::RestConfig> config = rest_config_from_flags(
      registry.kubeconfig ? registry.kubeconfig->string() : std::string(), registry.context.value_or(""));
  if (!config && (config.error().kind == ErrorKind::input || config.error().kind == ErrorKind::usage)) {
    return std::unexpected(config.error());
  }
  // No kubeconfig at all (ErrorKind::unavailable) stays the phases' SKIPPED reason, as on the local lab.
  return {};
}

bool selected(const config::PhasePlan& phase, const std::set<Phase>& only) {
  return phase.enabled && (only.empty() || only.contains(phase.phase));
}

// The selected phases' settings, checked as the run checks them first (validate() reads, never creates).
Result<void> validate_selected(const config::Plan& plan, const std::set<Phase>& only,
                               const RegistryOptions& registry) {
  std::map<Phase, engine::DriverFactory> drivers = driver_registry(registry);
  StderrProgress progress;
  engine::CancellationToken cancel;
  for (const config::PhasePlan& phase : plan.phases) {
    auto factory = drivers.find(phase.phase);
    if (!selected(phase, only) || factory == drivers.end() || !factory->second) {
      continue;
    }
    if (std::unique_ptr<engine::Driver> driver = factory->second(plan); driver != nullptr) {
      const engine::PhaseContext context{plan, phase, real_clock(), cancel, progress};
      if (Result<void> valid = driver->validate(context); !valid) {
        return valid;
      }
    }
  }
  return {};
}

// What the run will do, phase by phase, for --dry-run and the confirmation prompt. Reads files only.
Result<std::vector<std::string>> describe_run(const config::Plan& plan, const std::set<Phase>& only,
                                              const RegistryOptions& registry) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("plan \"{}\" ({}), {} test on {}", plan.name, plan.source.string(),
                              config::to_string(plan.type),
                              plan.target == config::Target::cluster ? "the cluster" : "the local lab"));
  if (plan.type == config::TestType::soak) {
    // A soak's phase durations are slices of a round (docs/soak.md), not the length of the run.
    lines.push_back(
        fmt::format("soak of {} in rounds of the phases "
                    "below, each phase for its slice; a checkpoint every {}",
                    format_duration(plan.soak_duration), format_duration(plan.checkpoint)));
    if (plan.load_profile) {
      lines.push_back(
          fmt::format("load profile {}: each round runs every phase at its load below x the "
                      "factor at the round's start",
                      plan.load_profile->text()));
    }
  }
  bool api = false;
  for (const config::PhasePlan& phase : plan.phases) {
    if (!selected(phase, only)) {
      continue;
    }
    api = api || phase.phase == Phase::api;
    // A stress phase does not hold `load`: it ramps to its breaking point (load/schedule.hpp).
    lines.push_back(
        plan.type == config::TestType::stress
            ? fmt::format("{:<8} stress for {}: a ramp to the breaking point (settings.stress; by "
                          "default 100%..200% of capacity)",
                          to_string(phase.phase), format_duration(phase.duration))
            : fmt::format("{:<8} {} for {} at {:g}% of capacity", to_string(phase.phase),
                          config::to_string(plan.type), format_duration(phase.duration), phase.load * 100));
  }
  if (plan.target == config::Target::cluster) {
    // The pod phases: the pods, Services and claims each creates (and deletes with its namespace).
    drivers::storage::DriverOptions storage_options;
    storage_options.image = registry.agent_image;
    for (const config::PhasePlan& phase : plan.phases) {
      if (!selected(phase, only) || (phase.phase != Phase::network && phase.phase != Phase::storage)) {
        continue;
      }
      Result<std::vector<std::string>> pods =
          phase.phase == Phase::network ? drivers::net::describe_cluster_plan(plan, registry.agent_image)
                                        : drivers::storage::describe_cluster_plan(plan, storage_options);
      if (!pods) {
        return std::unexpected(pods.error());
      }
      for (const std::string& line : *pods) {
        lines.push_back(fmt::format("{:<8} {}", to_string(phase.phase), line));
      }
    }
  }
  if (!api) {
    return lines;
  }
  drivers::api::DriverOptions api_options;
  api_options.lab_dir = registry.lab_dir;
  api_options.kubeconfig = registry.kubeconfig;
  api_options.context = registry.context;
  api_options.run_id = registry.run_id;
  Result<std::vector<std::string>> described = drivers::api::describe_plan(plan, api_options);
  if (!described) {
    if (described.error().kind == ErrorKind::usage || described.error().kind == ErrorKind::input) {
      return std::unexpected(described.error());
    }
    lines.push_back(fmt::format("api      would be SKIPPED: {}", described.error().message));
    return lines;
  }
  for (const std::string& line : *described) {
    lines.push_back(fmt::format("api      {}", line));
  }
  return lines;
}

std::optional<double> parse_scale(std::string_view text) {
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value > 0 && value <= 1)) {
    return std::nullopt;
  }
  return value;
}

CLI::Validator scale_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (parse_scale(value)) {
          return {};
        }
        return fmt::format("must be a number > 0 and <= 1, got \"{}\"", value);
      },
      "X");
}

CLI::Validator phase_validator() {
  std::vector<std::string> names;
  for (Phase phase : kFlowOrder) {
    names.emplace_back(to_string(phase));
  }
  return one_of(names);
}

// --criteria wins over the plan's own criteria file, which wins over the shipped one.
std::filesystem::path criteria_file_for(const RunOptions& options, const config::Plan& plan) {
  if (!options.criteria_file.empty()) {
    return options.criteria_file;
  }
  if (plan.criteria_file) {
    return *plan.criteria_file;
  }
  return config::default_criteria_path();
}

config::TestType test_type_of(std::string_view name) {
  if (name == "load") {
    return config::TestType::load;
  }
  if (name == "stress") {
    return config::TestType::stress;
  }
  return config::TestType::smoke;
}

}  // namespace

void add_run_flags(CLI::App& app, RunOptions& options) {
  app.add_option("--target", options.target, "Where the system under test is (default: the plan's)")
      ->check(one_of({"local", "cluster"}));
  app.add_option("--only", options.only, "Run only these phases (comma-separated)")
      ->delimiter(',')
      ->check(phase_validator());
  app.add_option("--checkpoint", options.checkpoint,
                 "Rewrite the report files with what was measured so far this often (default: the plan's "
                 "`checkpoint`, else 1m), so a run that is killed keeps its data up to the last one");
  app.add_flag("--continue-on-fail", options.continue_on_fail,
               "Run the phases above a failed phase anyway (the report says so)");
  app.add_option("--duration-scale", options.duration_scale,
                 "Shorten every duration by this factor for a quick run (the report says so loudly)")
      ->check(scale_validator());
  app.add_option("--criteria", options.criteria_file,
                 "Criteria file (default: the plan's, else the shipped criteria/default.yaml)");
  app.add_option("--kubeconfig", options.kubeconfig,
                 "kubeconfig file for the cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
      ->check(existing_file());
  app.add_option("--context", options.context, "kubeconfig context (default: its current-context)");
  app.add_option("--lab-dir", options.lab_dir,
                 "State dir of the lab for --target local (default $KUBEPROOF_LAB_DIR or ./.kubeproof/lab)")
      ->check(existing_directory());
  app.add_option("--compare-to", options.compare_to,
                 "Storage: run the same fio jobs in this directory too and report the ratios")
      ->check(existing_directory());
  app.add_flag("--yes,-y", options.yes,
               "Do not ask before a load or stress test on a cluster (needed without a terminal)");
  app.add_flag("--dry-run", options.dry_run,
               "Print what each phase would do (for api: context, server, objects, QPS) and stop");
  app.add_flag("--no-live-view{false}", options.live_view,
               "Plain progress lines only, also on a terminal (default there: a status block per "
               "running phase, redrawn in place)");
  app.add_option(
      "--metrics-listen", options.metrics_listen,
      "Serve live metrics for Prometheus at HOST:PORT/metrics while the run goes on "
      "(PORT or :PORT binds 127.0.0.1; another host's address, e.g. 0.0.0.0:9464, is warned about; "
      "see deploy/grafana)");
  app.add_option("--metrics-linger", options.metrics_linger,
                 "With --metrics-listen: after the reports, serve until one more scrape, at most this long "
                 "(default 10s; 0 ends at once)");
  // Not checked by CLI11: an empty or malformed value gets the one-line message of
  // cluster::parse_agent_image.
  app.add_option("--agent-image", options.agent_image,
                 fmt::format("Agent image for the network (and storage) pods on --target cluster "
                             "(default: {})",
                             cluster::default_agent_image()));
  app.add_option("--storage-agent-image", options.storage_agent_image,
                 fmt::format("Agent image with fio for the storage pods (default: the -storage variant of "
                             "--agent-image when given, else {})",
                             cluster::default_storage_agent_image()));
  app.add_option("--image-pull-policy", options.image_pull_policy,
                 "imagePullPolicy of the agent pods: IfNotPresent (default), Always or Never");
  app.add_option("--agents", options.agents,
                 "Agent pods the dns phase spreads its rate over on --target cluster (overrides "
                 "dns.settings.agents, default 1)")
      ->check(CLI::Range(1, 1000));
  options.tiers.add_to(app);
  add_output_options(app, options.output);
}

std::filesystem::path shipped_plan(std::string_view type) {
  return config::default_plan_path(test_type_of(type));
}

Result<Duration> checkpoint_interval(const RunOptions& options, const config::Plan& plan) {
  if (options.checkpoint.empty()) {
    return plan.checkpoint;
  }
  Result<Duration> parsed = parse_duration(options.checkpoint);
  if (!parsed || *parsed < std::chrono::seconds(1)) {
    return fail(ErrorKind::usage, fmt::format("--checkpoint: must be a duration of at least 1s, got \"{}\"",
                                              options.checkpoint));
  }
  return *parsed;
}

Result<std::optional<RunSetup>> set_up_run(const RunOptions& options,
                                           const std::filesystem::path& plan_file) {
  RunSetup setup;
  // The flags first: a bad --agent-image is the command line's fault whatever the plan says.
  Result<RegistryOptions> registry_or = registry_options(options);
  if (!registry_or) {
    return std::unexpected(registry_or.error());
  }
  setup.registry = std::move(*registry_or);
  const RegistryOptions& registry = setup.registry;
  Result<config::Plan> loaded = config::load_plan(plan_file);
  if (!loaded) {
    return std::unexpected(loaded.error());
  }
  setup.plan = std::move(*loaded);
  config::Plan& plan = setup.plan;
  if (!options.target.empty()) {
    plan.target = options.target == "cluster" ? config::Target::cluster : config::Target::local;
  }
  if (plan.target == config::Target::cluster) {
    // A kubeconfig that cannot be loaded (empty, garbage, an unknown context or user) is the user's input:
    // one line and exit 2 before anything runs, never a results folder with every phase in error.
    if (Result<void> loadable = check_kubeconfig(registry); !loadable) {
      return std::unexpected(loadable.error());
    }
  }
  plan.tiers = options.tiers.apply(plan.tiers);
  if (!options.duration_scale.empty()) {
    if (Result<void> scaled = config::apply_duration_scale(plan, *parse_scale(options.duration_scale));
        !scaled) {
      return std::unexpected(scaled.error());
    }
  }
  Result<Duration> checkpoint = checkpoint_interval(options, plan);
  if (!checkpoint) {
    return std::unexpected(checkpoint.error());
  }
  plan.checkpoint = *checkpoint;
  setup.orchestrator.checkpoint_interval = *checkpoint;
  if (!options.soak_duration.empty()) {
    Result<Duration> soak = parse_duration(options.soak_duration);
    if (!soak || *soak <= Duration::zero()) {
      return fail(ErrorKind::usage, fmt::format("--duration: must be a duration such as 24h, got \"{}\"",
                                                options.soak_duration));
    }
    if (*soak < plan.checkpoint) {
      return fail(ErrorKind::usage,
                  fmt::format("--duration: must be at least the checkpoint interval ({}), got \"{}\"",
                              format_duration(plan.checkpoint), options.soak_duration));
    }
    plan.soak_duration = *soak;
  }

  setup.criteria_file = criteria_file_for(options, plan);
  Result<config::Criteria> criteria = config::load_criteria(setup.criteria_file);
  if (!criteria) {
    return std::unexpected(criteria.error());
  }
  Result<std::vector<config::CriteriaRow>> rows = criteria->active_rows(plan.tiers);
  if (!rows) {
    return std::unexpected(rows.error());
  }
  setup.rows = std::move(*rows);

  engine::OrchestratorOptions& orchestrator_options = setup.orchestrator;
  orchestrator_options.continue_on_fail = options.continue_on_fail;
  for (const std::string& name : options.only) {
    orchestrator_options.only.insert(*parse_phase(name));
  }
  if (!options.metrics_listen.empty()) {
    // Before the dry run and the confirmation prompt: a run that would refuse to start must say so first.
    if (Result<void> listen = MetricsServer::check_listen(options.metrics_listen); !listen) {
      return std::unexpected(listen.error());
    }
    Result<Duration> parsed = parse_duration(options.metrics_linger);
    if (!parsed || parsed->count() < 0) {
      return fail(ErrorKind::usage,
                  fmt::format("--metrics-linger: not a duration >= 0, got \"{}\"", options.metrics_linger));
    }
    setup.linger = *parsed;
  }
  if (options.dry_run) {
    if (Result<void> valid = validate_selected(plan, orchestrator_options.only, registry); !valid) {
      return std::unexpected(valid.error());
    }
    Result<std::vector<std::string>> lines = describe_run(plan, orchestrator_options.only, registry);
    if (!lines) {
      return std::unexpected(lines.error());
    }
    for (const std::string& line : *lines) {
      fmt::print("{}\n", line);
    }
    fmt::print("dry run: nothing was started\n");
    return std::nullopt;
  }
  // A smoke test only checks the configuration and the lab is ours: only load and stress on a cluster ask.
  if (plan.target == config::Target::cluster && plan.type != config::TestType::smoke && !options.yes) {
    // Bad settings are reported before anyone is asked to confirm a run that would not start.
    if (Result<void> valid = validate_selected(plan, orchestrator_options.only, registry); !valid) {
      return std::unexpected(valid.error());
    }
    Result<std::vector<std::string>> lines = describe_run(plan, orchestrator_options.only, registry);
    if (!lines) {
      return std::unexpected(lines.error());
    }
    if (Result<void> confirmed =
            confirm(fmt::format("run: a {} test on the cluster", config::to_string(plan.type)), *lines);
        !confirmed) {
      return std::unexpected(confirmed.error());
    }
  }
  // The pod phases' permissions, before the first phase creates anything (the api phase checks its own).
  if (Result<void> allowed = check_pod_phase_permissions(plan, orchestrator_options.only, registry);
      !allowed) {
    return std::unexpected(allowed.error());
  }
  if (orchestrator_options.only.empty() || orchestrator_options.only.contains(Phase::storage)) {
    // A StorageClass the cluster does not have is the plan's mistake: said before anything is created.
    drivers::storage::DriverOptions storage_options;
    storage_options.kubeconfig = registry.kubeconfig;
    storage_options.context = registry.context;
    if (Result<void> inputs = drivers::storage::check_cluster_inputs(plan, storage_options); !inputs) {
      return std::unexpected(inputs.error());
    }
  }
  if (orchestrator_options.only.empty() || orchestrator_options.only.contains(Phase::ingress)) {
    // So is an Ingress the cluster does not have (`ingress:`): read before the first phase runs.
    drivers::ingress::DriverOptions ingress_options;
    ingress_options.kubeconfig = registry.kubeconfig;
    ingress_options.context = registry.context;
    if (Result<void> inputs = drivers::ingress::check_cluster_inputs(plan, ingress_options); !inputs) {
      return std::unexpected(inputs.error());
    }
  }
  return std::optional<RunSetup>(std::move(setup));
}

struct RunHarness::State {
  explicit State(report::LiveRunInfo info) : live(std::move(info)) {}
  report::LiveMetrics live;
  std::unique_ptr<MetricsServer> metrics_server;
  std::unique_ptr<engine::ProgressSink> people;
  std::unique_ptr<report::LiveProgress> live_progress;
  std::unique_ptr<InterruptWatcher> interrupts;
  std::uint64_t scrapes_before_end = 0;
  Duration linger{0};
};

Result<std::unique_ptr<RunHarness>> RunHarness::start(const RunOptions& options, const RunSetup& setup) {
  const config::Plan& plan = setup.plan;
  std::unique_ptr<RunHarness> harness(new RunHarness());
  harness->state_ = std::make_unique<State>(report::LiveRunInfo{
      setup.registry.run_id.value_or(""), plan.name, std::string(config::to_string(plan.type)),
      plan.target == config::Target::cluster ? "cluster" : "local"});
  State& state = *harness->state_;
  state.linger = setup.linger;
  if (!options.metrics_listen.empty()) {
    Result<std::unique_ptr<MetricsServer>> started_server = MetricsServer::start(
        options.metrics_listen, [&state] { return state.live.render(); }, real_clock());
    if (!started_server) {
      return std::unexpected(started_server.error());
    }
    state.metrics_server = std::move(*started_server);
    fmt::print(stderr, "[kubeproof] live metrics at {}\n", state.metrics_server->url());
    if (!state.metrics_server->loopback_only()) {
      fmt::print(
          stderr,
          "[kubeproof] WARNING: --metrics-listen {}: /metrics is served to every host that can reach this "
          "one, unauthenticated (a port alone, \":{}\", serves loopback only)\n",
          options.metrics_listen, state.metrics_server->port());
    }
  }
  // From here until the reports are delivered, stderr is the progress sink's: on a terminal, the live view's
  // status block sits below the progress lines.
  std::map<Phase, Duration> planned;
  for (const config::PhasePlan& phase : plan.phases) {
    planned[phase.phase] = phase.duration;
  }
  state.people = options.live_view ? make_progress(real_clock(), std::move(planned))
                                   : std::make_unique<StderrProgress>();
  state.live_progress = std::make_unique<report::LiveProgress>(*state.people, state.live);
  // Ctrl-C cancels from here until the reports are written (they are atomic, but a half-finished set of files
  // would still confuse whoever reads the folder).
  state.interrupts = std::make_unique<InterruptWatcher>(harness->cancel_);
  return harness;
}

RunHarness::~RunHarness() = default;

engine::ProgressSink& RunHarness::progress() {
  return state_->metrics_server ? static_cast<engine::ProgressSink&>(*state_->live_progress)
                                : *state_->people;
}

void RunHarness::stop_view() {
  if (auto* view = dynamic_cast<LiveView*>(state_->people.get()); view != nullptr) {
    view->stop();  // stderr is plain again for what follows
  }
}

void RunHarness::run_finished(eval::Verdict overall) {
  state_->scrapes_before_end = state_->metrics_server ? state_->metrics_server->scrapes() : 0;
  state_->live.run_finished(overall);
}

void RunHarness::linger() {
  if (state_->metrics_server && state_->linger > Duration::zero() && !cancel_.requested()) {
    // The verdict reached the endpoint a moment ago: give Prometheus one more scrape before it goes.
    fmt::print(stderr,
               "[kubeproof] serving the final metrics until the next scrape (at most {}; --metrics-linger)\n",
               format_duration(state_->linger));
    state_->metrics_server->wait_for_scrape(state_->scrapes_before_end, state_->linger, cancel_);
  }
}

engine::RunResult failed_run(const RunSetup& setup, const Error& error, WallTime started, WallTime finished,
                             bool aborted) {
  const std::set<Phase>& only = setup.orchestrator.only;
  engine::RunResult result;
  result.started = started;
  result.finished = finished;
  for (Phase phase : kFlowOrder) {
    eval::PhaseInput input;
    input.phase = phase;
    input.status = eval::PhaseStatus::skipped;
    input.reason = "not run: the run failed before this phase";
    for (const config::PhasePlan& planned : setup.plan.phases) {
      if (planned.phase == phase && planned.enabled && (only.empty() || only.contains(phase))) {
        input.status = eval::PhaseStatus::error;
        input.reason = error.message;
        input.invalid_reasons.push_back(error.message);
      }
    }
    result.inputs.push_back(std::move(input));
  }
  eval::EvaluationOptions evaluation_options;
  evaluation_options.tiers = setup.plan.tiers;
  evaluation_options.test_type = setup.plan.type;
  evaluation_options.aborted = aborted;
  result.evaluation = eval::evaluate(result.inputs, setup.rows, evaluation_options);
  return result;
}

std::vector<std::string> in_progress_notes(const report::Timeline& timeline, Phase phase) {
  std::vector<std::string> notes;
  for (const report::SeriesTotal& total : timeline.totals(phase)) {
    std::string line = fmt::format("so far (live counts, not judged): {} {} ok, {} errors", total.series,
                                   total.ok, total.errors);
    if (std::optional<double> p50 = report::live_percentile(total.buckets, 50.0)) {
      line += fmt::format(
          ", P50 ~{}",
          format_duration(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*p50))));
    }
    if (std::optional<double> p99 = report::live_percentile(total.buckets, 99.0)) {
      line += fmt::format(
          ", P99 ~{}",
          format_duration(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*p99))));
    }
    notes.push_back(std::move(line));
  }
  return notes;
}

report::RunReport report_of(const engine::RunResult& result, const RunSetup& setup, const RunOptions& options,
                            const report::Timeline& timeline, std::string_view command) {
  const config::Plan& plan = setup.plan;
  report::RunReport report;
  report.meta.tool_version = KP_VERSION;
  report.meta.command = std::string(command);
  report.meta.profile = std::string(config::to_string(plan.type));
  report.meta.plan_name = plan.name;
  report.meta.target = plan.target == config::Target::cluster ? "cluster" : "local";
  report.meta.criteria_file = setup.criteria_file;
  report.meta.tiers = plan.tiers;
  report.meta.duration_scale = plan.duration_scale;
  report.meta.continue_on_fail = options.continue_on_fail;
  report.meta.started = result.started;
  report.meta.finished = result.finished;
  report.inputs = result.inputs;
  report.timings = result.timings;
  report.evaluation = result.evaluation;
  for (std::size_t i = 0; i < report.inputs.size(); ++i) {
    eval::PhaseInput& input = report.inputs[i];
    if (input.status != eval::PhaseStatus::in_progress) {
      continue;
    }
    for (std::string& note : in_progress_notes(timeline, input.phase)) {
      input.notes.push_back(note);
      for (eval::PhaseEvaluation& phase : report.evaluation.phases) {
        if (phase.phase == input.phase) {
          phase.notes.push_back(note);
        }
      }
    }
  }
  report.timelines = timeline.series();
  report.offered_timelines = timeline.offered_series();
  report.throughput_timelines = timeline.throughput_series();
  return report;
}

}  // namespace kp::cli
