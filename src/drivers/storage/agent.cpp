#include "drivers/storage/agent.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <optional>

#include "core/live_lines.hpp"
#include "drivers/storage/agent_line.hpp"

namespace kp::drivers::storage {
namespace {

constexpr std::string_view kAgentName = "kubeproof agent storage";

// Each flag that maps onto a setting: the same reader as the plan's, so the same checks and messages.
struct FlagSetting {
  std::string_view flag;
  std::string_view key;
  std::string AgentOptions::*value;
  std::string_view help;
};

constexpr FlagSetting kFlags[] = {
    {"--dir", "volume", &AgentOptions::dir, "directory under test, e.g. the volume's mount path (required)"},
    {"--compare-to", "compare_to", &AgentOptions::compare_to,
     "also run the jobs here (e.g. local disk) and report volume/local ratios"},
    {"--fio", "fio_binary", &AgentOptions::fio, "fio binary (default: fio on PATH)"},
    {"--workloads", "workloads", &AgentOptions::workloads,
     "comma-separated: randread,randwrite,seqwrite,seqread,etcd_fsync (default: all)"},
    {"--ioengine", "ioengine", &AgentOptions::ioengine, "libaio (default), io_uring, psync, sync, ..."},
    {"--size", "size", &AgentOptions::size, "test file size (default 1GiB)"},
    {"--bs", "block_size", &AgentOptions::bs, "random read/write block size (default 4KiB)"},
    {"--iodepth", "iodepth", &AgentOptions::iodepth, "random jobs' queue depth (default 32)"},
    {"--seq-bs", "seq_block_size", &AgentOptions::seq_bs, "sequential block size (default 1MiB)"},
    {"--seq-iodepth", "seq_iodepth", &AgentOptions::seq_iodepth, "sequential jobs' queue depth (default 8)"},
    {"--numjobs", "numjobs", &AgentOptions::numjobs, "fio processes per job, aggregated (default 1)"},
    {"--runtime", "runtime", &AgentOptions::runtime, "measured time per job (default 10s)"},
    {"--ramp-time", "ramp_time", &AgentOptions::ramp_time, "unmeasured warm-up per job (default 2s)"},
    {"--qd-sweep", "qd_sweep", &AgentOptions::qd_sweep, "comma-separated queue depths for the random jobs"},
    {"--etcd-bs", "etcd_block_size", &AgentOptions::etcd_bs, "etcd disk check write size (default 2300)"},
    {"--etcd-size", "etcd_size", &AgentOptions::etcd_size, "etcd disk check amount (default 22MiB)"},
    {"--timeout", "timeout", &AgentOptions::timeout, "bound on each fio run (default: generous)"},
    {"--rate", "rate", &AgentOptions::rate,
     "random 4K jobs' rate: max (default: closed loop at --iodepth) or IOPS per job, e.g. 5000"},
};

config::YamlField flag_field(std::string_view flag, const std::string& value) {
  return config::YamlField(YAML::Node(value), std::string(kAgentName), std::string(flag));
}

Result<void> as_usage(Result<void> result) {
  if (!result) {
    return std::unexpected(Error{ErrorKind::usage, result.error().message});
  }
  return result;
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json job_json(const JobSummary& job, std::string_view target) {
  return nlohmann::json{
      {"target", target},
      {"name", job.job.name},
      {"workload", to_string(job.job.workload)},
      {"rw", job.job.rw},
      {"block_size", job.job.block_size},
      {"iodepth", job.job.iodepth},
      {"numjobs", job.job.numjobs},
      {"rate_iops", job.job.rate_iops ? nlohmann::json(*job.job.rate_iops) : nlohmann::json()},
      {"ioengine", job.job.ioengine},
      {"direct", job.job.direct},
      {"iops", job.iops},
      {"bytes_per_second", job.bytes_per_second},
      {"ios", job.ios},
      {"runtime_s", std::chrono::duration<double>(job.runtime).count()},
      {"p50_s", optional_json(job.p50)},
      {"p99_s", optional_json(job.p99)},
      {"p999_s", optional_json(job.p999)}};
}

// {"type": "tmpfs", "medium": "memory", "disk": false}: a reader can tell a RAM figure from a disk's.
nlohmann::json filesystem_json(const FilesystemFacts& facts) {
  return nlohmann::json{
      {"type", facts.type}, {"medium", to_string(facts.medium)}, {"disk", facts.medium != Medium::memory}};
}

}  // namespace

void attach_agent_options(CLI::App& app, AgentOptions& options) {
  for (const FlagSetting& flag : kFlags) {
    app.add_option(std::string(flag.flag), options.*flag.value, std::string(flag.help));
  }
  app.add_flag("--buffered", options.buffered,
               "buffered I/O instead of direct (the page-cache warning applies)");
  app.add_flag("--live-lines", options.live_lines,
               "print each job's live counts once a second as `kp-live {json}` lines on stderr (for "
               "kubeproof, which follows an agent pod's log)");
}

Result<Settings> to_agent_settings(const AgentOptions& options) {
  if (options.dir.empty()) {
    return fail(
        ErrorKind::usage,
        fmt::format("{}: --dir: required: the directory to test (the volume's mount path)", kAgentName));
  }
  Settings settings;
  settings.runtime = kAgentDefaultRuntime;
  for (const FlagSetting& flag : kFlags) {
    const std::string& value = options.*flag.value;
    if (value.empty()) {
      continue;
    }
    if (Result<void> read = as_usage(read_setting(settings, flag.key, flag_field(flag.flag, value))); !read) {
      return std::unexpected(read.error());
    }
  }
  settings.direct = !options.buffered;
  if (settings.rate.from_capacity_load()) {
    // The same words as every agent's --rate (load::agent_rate_setting); this agent reads its flags through
    // the plan's setting readers, so it checks here.
    return fail(
        ErrorKind::usage,
        fmt::format("{}: --rate: an agent has no plan, so no capacity to scale: give a rate > 0 or max, "
                    "got \"{}\"",
                    kAgentName, options.rate));
  }
  auto field_of = [&](std::string_view key) {
    for (const FlagSetting& flag : kFlags) {
      if (flag.key == key) {
        return flag_field(flag.flag, options.*flag.value);
      }
    }
    return flag_field("--buffered", "true");  // direct is the only setting without its own flag
  };
  if (Result<void> checked = as_usage(check_settings(settings, field_of)); !checked) {
    return std::unexpected(checked.error());
  }
  if (Result<void> found = as_usage(check_directories(settings, field_of)); !found) {
    return std::unexpected(found.error());
  }
  return settings;
}

Result<StorageResult> run_agent(const AgentOptions& options, Clock& clock, engine::CancellationToken& cancel,
                                const ProgressFn& progress) {
  Result<Settings> settings = to_agent_settings(options);
  if (!settings) {
    return std::unexpected(settings.error());
  }
  // The agent runs what its flags say: no test type scales it (load: no sweep unless --qd-sweep).
  JobPlanOptions job_options;
  if (settings->rate.is_fixed()) {
    job_options.random_rate = settings->rate.rate;
  }
  JobSet jobs = plan_jobs(*settings, config::TestType::load, Duration(0), job_options);
  // The lines name their job's series: one agent runs its jobs one after another (and on --compare-to).
  std::optional<LineLiveSink> live;  // outlives the phase that hands over to it
  if (options.live_lines && progress) {
    live.emplace(progress);
  }
  StoragePhase phase(std::move(*settings), std::move(jobs), clock, progress);
  phase.set_live_sink(live ? &*live : nullptr);
  if (Result<void> prepared = phase.prepare(); !prepared) {
    return std::unexpected(prepared.error());
  }
  Result<StorageResult> result = phase.run(cancel);
  phase.teardown();
  if (result) {
    // No run's criteria here: the shipped ones judge it, as in a plan's run with the default tiers.
    apply_validity(result->run, result->jobs, load::CriteriaView({}));
  }
  return result;
}

std::string agent_json_line(const StorageResult& result) {
  nlohmann::json measurements = nlohmann::json::array();
  for (const Measurement& m : result.run.measurements) {
    measurements.push_back(to_json(m));
  }
  nlohmann::json jobs = nlohmann::json::array();
  for (const JobSummary& job : result.jobs) {
    jobs.push_back(job_json(job, "volume"));
  }
  for (const JobSummary& job : result.compare_jobs) {
    jobs.push_back(job_json(job, "compare_to"));
  }
  nlohmann::json comparison = nlohmann::json::array();
  for (const ComparisonRow& row : result.comparison) {
    comparison.push_back(nlohmann::json{{"metric", row.metric},
                                        {"volume", row.volume},
                                        {"local", row.local},
                                        {"ratio", row.ratio},
                                        {"volume_beats_local", row.volume_beats_local}});
  }
  nlohmann::json line{{"kind", "kubeproof.agent.storage"}, {"version", 1},
                      {"fio_version", result.fio_version}, {"measurements", std::move(measurements)},
                      {"jobs", std::move(jobs)},           {"comparison", std::move(comparison)},
                      {"warnings", result.warnings},       {"invalid_reasons", result.run.invalid_reasons},
                      {"notes", result.run.notes},         {"cancelled", result.cancelled}};
  LineSeries series = line_series(result.series);
  if (series.left_out > 0) {
    line["notes"].push_back(
        fmt::format("per-second series: the last {} seconds are left out of this line, past "
                    "its bound of {} seconds",
                    series.left_out, kMaxLineSeriesSeconds));
  }
  line["series"] = std::move(series.json);
  line["volume_filesystem"] = filesystem_json(result.volume_filesystem);
  if (result.compare_filesystem) {
    line["compare_to_filesystem"] = filesystem_json(*result.compare_filesystem);
  }
  return line.dump();
}

}  // namespace kp::drivers::storage
