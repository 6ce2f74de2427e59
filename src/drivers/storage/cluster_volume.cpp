#include "drivers/storage/cluster_volume.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>
#include <set>

#include "config/metric_catalog.hpp"
#include "core/live_lines.hpp"
#include "drivers/storage/fio_series.hpp"

namespace kp::drivers::storage {
namespace {

// Beyond fio's own bound: the pod's start and the agent's report.
constexpr Duration kAgentSlack = std::chrono::minutes(1);

std::string agent_summary(const std::string& pod, const std::string& node, const AgentResult& result) {
  std::string figures;
  for (const Measurement& m : result.measurements) {
    const config::MetricInfo* info = config::find_metric(m.metric);
    figures += fmt::format("{}{} {}", figures.empty() ? "" : ", ", m.metric,
                           info == nullptr ? fmt::format("{:g}", m.value)
                                           : format_quantity(info->quantity, m.value, info->display_unit));
  }
  return fmt::format("agent {} on {} ({}): {}{}", pod, node.empty() ? "?" : node,
                     result.fio_version.empty() ? "fio" : result.fio_version, figures,
                     result.cancelled ? " (cancelled)" : "");
}

// The series an agent's live lines may name: its jobs on the volume and on the emptyDir baseline, as
// StoragePhase names them (fio_series).
std::set<std::string, std::less<>> live_series_names(const JobSet& jobs) {
  std::set<std::string, std::less<>> names;
  for (const FioJob& job : jobs.jobs) {
    names.insert(job.name);
    names.insert(job.name + std::string(kCompareToSeriesSuffix));
  }
  return names;
}

}  // namespace

ClusterVolume::ClusterVolume(std::unique_ptr<cluster::PodRunner> runner, Settings settings, JobSet jobs,
                             ClusterSettings cluster, Clock& clock)
    : runner_(std::move(runner)),
      settings_(std::move(settings)),
      jobs_(std::move(jobs)),
      cluster_(std::move(cluster)),
      clock_(clock) {}

ClusterVolume::~ClusterVolume() {
  close();
}

const std::string& ClusterVolume::ns() const {
  return runner_->ns();
}

std::uint64_t ClusterVolume::volume_size() const {
  return cluster_.volume_size.value_or(default_volume_size(jobs_));
}

void ClusterVolume::close() noexcept {
  if (runner_) {
    runner_->close();
  }
}

Result<void> ClusterVolume::create_claims() {
  for (int agent = 0; agent < cluster_.agents; ++agent) {
    if (Result<void> created =
            runner_->create_volume_claim(claim_name(agent), cluster_.storage_class, volume_size());
        !created) {
      return created;
    }
  }
  return {};
}

Result<engine::PhaseRun> ClusterVolume::run(engine::PhaseContext& context) {
  LiveSink* const live = context.progress.live_sink();
  std::vector<std::string> pods;
  for (int agent = 0; agent < cluster_.agents; ++agent) {
    cluster::AgentPodSpec spec = agent_pod(settings_, jobs_, cluster_, agent);
    spec.image = runner_->options().image.storage();  // the variant with fio
    if (live != nullptr) {
      spec.args.emplace_back("--live-lines");
    }
    if (Result<void> created = runner_->create_pod(spec); !created) {
      return std::unexpected(created.error());
    }
    pods.push_back(spec.name);
  }
  // Bound before Running: a pod whose claim never binds stays Pending, and the claim's event says why.
  for (int agent = 0; agent < cluster_.agents; ++agent) {
    if (Result<void> bound = runner_->wait_bound(claim_name(agent), clock_.now() + cluster_.bind_timeout);
        !bound) {
      return std::unexpected(bound.error());
    }
  }
  // fio's own bound per run, the baseline's run too, and the pod's start and report.
  const Duration budget =
      settings_.timeout.value_or(default_timeout(jobs_)) * (cluster_.emptydir_baseline ? 2 : 1) + kAgentSlack;
  std::vector<std::string> nodes;
  std::vector<std::unique_ptr<cluster::PodRunner::LogFollow>> follows;  // each pod's kp-live lines
  for (const std::string& pod : pods) {
    Result<cluster::PodInfo> running = runner_->wait_running(pod);
    if (!running) {
      return std::unexpected(running.error());
    }
    nodes.push_back(running->node);
    context.progress.message(
        Phase::storage,
        fmt::format("{} on {}: fio on {}{}", pod, running->node, kVolumeMount,
                    cluster_.emptydir_baseline ? fmt::format(" and on the emptyDir {}", kBaselineMount)
                                               : std::string()));
    if (live != nullptr) {
      follows.push_back(
          runner_->follow_lines(pod, budget + cluster::PodRunner::kStopSlack,
                                [live, series = live_series_names(jobs_)](std::string_view text) {
                                  std::optional<LiveLine> line = read_live_line(text);
                                  // Only the jobs this phase asked for: a name is a label of /metrics.
                                  if (!line || !series.contains(line->series)) {
                                    return;
                                  }
                                  line->delta.phase = Phase::storage;
                                  line->delta.series = line->series;
                                  // The agent's result line carries fio's exact per-second series, handed
                                  // over below.
                                  line->delta.finished_later = true;
                                  live->add(line->delta);
                                }));
    }
  }
  std::vector<AgentResult> results;
  engine::PhaseRun run;
  for (std::size_t i = 0; i < pods.size(); ++i) {
    Result<cluster::PodInfo> finished = runner_->wait_finished(pods[i], clock_.now() + budget);
    if (!finished) {
      return std::unexpected(finished.error());
    }
    // Cancelled: the deletion's SIGTERM, and the agent keeps what fio finished.
    const bool running_still = finished->phase != "Succeeded" && finished->phase != "Failed";
    Result<cluster::json> line = running_still ? runner_->stop_for_result(pods[i], kAgentLineKind)
                                               : runner_->result_line(pods[i], kAgentLineKind);
    if (i < follows.size()) {
      follows[i].reset();  // its result is read: no more counts from this pod
    }
    if (!line) {
      if (context.cancel.requested()) {
        run.notes.push_back(fmt::format("{}: cancelled before it reported", pods[i]));
        continue;
      }
      return std::unexpected(line.error());
    }
    Result<AgentResult> result = parse_agent_line(*line);
    if (!result) {
      return fail(
          result.error().kind == ErrorKind::protocol ? ErrorKind::io : result.error().kind,
          fmt::format("storage agent pod {}/{} on {}: {}", ns(), pods[i], nodes[i], result.error().message));
    }
    run.notes.push_back(agent_summary(pods[i], nodes[i], *result));
    for (const std::string& note : result->notes) {
      run.notes.push_back(fmt::format("{}: {}", pods[i], note));
    }
    for (const std::string& warning : result->warnings) {
      run.notes.push_back(fmt::format("{}: WARNING: {}", pods[i], warning));
    }
    for (const std::string& reason : result->invalid_reasons) {
      run.invalid_reasons.push_back(fmt::format("{}: {}", pods[i], reason));
    }
    // fio's per-second series from the agent's line: placed by when their last second ended, by the wall
    // clock (the pod's node and this host agree on it to well under the second a chart shows); the timeline
    // sums the seconds of agents' same-named series.
    for (RecordedSeries& one : result->series) {
      one.series.ended_before =
          std::max(Duration::zero(), std::chrono::duration_cast<Duration>(clock_.wall_now() - one.at));
      hand_over_series(context.progress.live_sink(), one.series);
    }
    results.push_back(std::move(*result));
  }
  std::vector<std::vector<Measurement>> measured;
  for (const AgentResult& result : results) {
    measured.push_back(result.measurements);
  }
  if (!measured.empty()) {
    run.measurements = merge_measurements(measured);
  }
  const std::string where = fmt::format(
      "PersistentVolumeClaim{} of {} ({}) in {}, on {}", cluster_.agents == 1 ? "" : "s",
      cluster_.storage_class.empty() ? "the default StorageClass" : "StorageClass " + cluster_.storage_class,
      format_quantity(Quantity::size, static_cast<double>(volume_size())), ns(), fmt::join(nodes, ", "));
  for (Measurement& m : run.measurements) {
    m.note += (m.note.empty() ? "" : "; ") + where;
    m.source = "kubeproof agent storage pod: " + m.source;
  }
  return run;
}

}  // namespace kp::drivers::storage
