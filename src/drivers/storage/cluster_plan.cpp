#include "drivers/storage/cluster_plan.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "config/metric_catalog.hpp"

namespace kp::drivers::storage {
namespace {

std::string ns_text(Duration duration) {
  return fmt::format("{}ns", duration.count());
}

std::string depths_text(const std::vector<int>& depths) {
  std::string out;
  for (int depth : depths) {
    out += (out.empty() ? "" : ",") + std::to_string(depth);
  }
  return out;
}

}  // namespace

Result<ClusterSettings> parse_cluster_settings(const config::YamlField& field) {
  ClusterSettings out;
  if (field.is_null()) {
    return out;
  }
  Result<config::YamlMap> map = config::YamlMap::open_any(field);
  if (!map) {
    return std::unexpected(map.error());
  }
  for (const auto& [key, value] : map->entries()) {
    if (key == "storage_class") {
      if (!value.is_scalar()) {
        return value.fail_got("must be a StorageClass name");
      }
      out.storage_class = value.text();
    } else if (key == "volume_size") {
      Result<ByteSize> size = value.is_scalar() ? parse_byte_size(value.text()) : fail(ErrorKind::input, "");
      if (!size || size->bytes == 0) {
        return value.fail_got("must be a size above 0, e.g. 10GiB");
      }
      out.volume_size = size->bytes;
    } else if (key == "emptydir_baseline") {
      Result<bool> flag = config::read_bool(value);
      if (!flag) {
        return std::unexpected(flag.error());
      }
      out.emptydir_baseline = *flag;
    } else if (key == "agents") {
      const std::string text = value.text();
      int agents = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), agents);
      if (!value.is_scalar() || ec != std::errc{} || end != text.data() + text.size() || agents < 1 ||
          agents > kMaxAgents) {
        return value.fail_got(fmt::format("must be a whole number within 1..{}", kMaxAgents));
      }
      out.agents = agents;
    } else if (key == "bind_timeout") {
      Result<Duration> timeout = config::read_duration(value);
      if (!timeout) {
        return std::unexpected(timeout.error());
      }
      if (*timeout < std::chrono::seconds(1)) {
        return value.fail_got("must be at least 1s");
      }
      out.bind_timeout = *timeout;
    } else if (key == "image") {
      if (!value.is_scalar() || !cluster::parse_image_reference(value.text(), "image")) {
        return value.fail_got("must be an image reference ([registry/]path[:tag][@digest])");
      }
      out.image = value.text();
    } else if (key == "pods") {
      if (!value.is_map() && !value.is_null()) {
        return value.fail_got("must be a mapping (node_selector, tolerations, resources, ...)");
      }
      out.pods = value.node();
    }
  }
  return out;
}

std::string storage_image_of(const cluster::AgentImage& image, const ClusterSettings& cluster) {
  if (!cluster.image.empty()) {
    return cluster.image;
  }
  return image.storage_reference.empty() ? cluster::storage_variant(image.reference)
                                         : image.storage_reference;
}

std::uint64_t default_volume_size(const JobSet& jobs) {
  const double wanted = static_cast<double>(jobs.bytes_needed) * 1.25;
  const auto gib = static_cast<std::uint64_t>(std::ceil(wanted / static_cast<double>(kGiB)));
  return std::max<std::uint64_t>(1, gib) * kGiB;
}

std::vector<std::string> agent_flags(const Settings& s, const JobSet& jobs, bool baseline) {
  std::string workloads;
  for (Workload workload : s.workloads) {
    workloads += (workloads.empty() ? "" : ",") + std::string(to_string(workload));
  }
  std::vector<std::string> flags = {"--dir",         std::string(kVolumeMount),
                                    "--workloads",   workloads,
                                    "--ioengine",    s.ioengine,
                                    "--size",        std::to_string(s.size),
                                    "--bs",          std::to_string(s.block_size),
                                    "--iodepth",     std::to_string(s.iodepth),
                                    "--seq-bs",      std::to_string(s.seq_block_size),
                                    "--seq-iodepth", std::to_string(s.seq_iodepth),
                                    "--numjobs",     std::to_string(s.numjobs),
                                    "--runtime",     ns_text(jobs.runtime),
                                    "--ramp-time",   ns_text(jobs.ramp_time),
                                    "--etcd-bs",     std::to_string(s.etcd_block_size),
                                    "--etcd-size",   std::to_string(s.etcd_size)};
  if (baseline) {
    flags.insert(flags.end(), {"--compare-to", std::string(kBaselineMount)});
  }
  if (!s.direct) {
    flags.push_back("--buffered");
  }
  if (s.qd_sweep && !s.qd_sweep->empty()) {
    flags.insert(flags.end(), {"--qd-sweep", depths_text(*s.qd_sweep)});
  }
  if (s.timeout) {
    flags.insert(flags.end(), {"--timeout", ns_text(*s.timeout)});
  }
  // The rate the phase resolved (capacity x load, or the plan's number) is each random job's total.
  for (const FioJob& job : jobs.jobs) {
    if (job.rate_iops && job.workload == Workload::randread) {
      flags.insert(flags.end(), {"--rate", fmt::format("{:g}", job.offered_iops().value_or(0))});
      break;
    }
  }
  return flags;
}

std::string claim_name(int agent) {
  return fmt::format("storage-volume-{}", agent);
}

cluster::AgentPodSpec agent_pod(const Settings& settings, const JobSet& jobs, const ClusterSettings& cluster,
                                int agent) {
  cluster::AgentPodSpec spec;
  spec.name = fmt::format("storage-agent-{}", agent);
  spec.agent = spec.name;
  spec.args = {"storage"};
  const std::vector<std::string> flags = agent_flags(settings, jobs, cluster.emptydir_baseline);
  spec.args.insert(spec.args.end(), flags.begin(), flags.end());
  spec.labels = {{"kubeproof.io/role", "storage"}};
  spec.volumes.push_back(cluster::VolumeMount{.name = "volume",
                                              .mount_path = std::string(kVolumeMount),
                                              .claim_name = claim_name(agent),
                                              .memory = false,
                                              .host_path = "",
                                              .read_only = false});
  if (cluster.emptydir_baseline) {
    spec.volumes.push_back(cluster::VolumeMount{.name = "baseline",
                                                .mount_path = std::string(kBaselineMount),
                                                .claim_name = "",
                                                .memory = false,
                                                .host_path = "",
                                                .read_only = false});
  }
  // No placement rule: a claim may pin its pod to one zone or node, and a rule could leave it unschedulable.
  return spec;
}

std::vector<Measurement> merge_measurements(const std::vector<std::vector<Measurement>>& agents) {
  if (agents.size() == 1) {
    return agents.front();
  }
  std::vector<Measurement> out;
  std::map<std::string, std::size_t> index;
  std::map<std::string, int> count;
  std::map<std::string, bool> without_histogram;
  for (const std::vector<Measurement>& measurements : agents) {
    for (const Measurement& m : measurements) {
      auto found = index.find(m.metric);
      ++count[m.metric];
      if (found == index.end()) {
        index[m.metric] = out.size();
        out.push_back(m);
        without_histogram[m.metric] = !m.histogram;
        continue;
      }
      Measurement& merged = out[found->second];
      const config::MetricInfo* info = config::find_metric(m.metric);
      const Quantity quantity = info == nullptr ? Quantity::count : info->quantity;
      if (quantity == Quantity::rate || quantity == Quantity::bandwidth) {
        merged.value += m.value;
        if (merged.offered || m.offered) {
          merged.offered = merged.offered.value_or(0) + m.offered.value_or(0);
        }
      } else if (quantity == Quantity::duration && merged.histogram && m.histogram) {
        merged.histogram->merge(*m.histogram);
      } else {
        // No histogram to merge (or not a latency): the worst agent's value, stated below.
        without_histogram[m.metric] = true;
        merged.value = std::max(merged.value, m.value);
      }
    }
  }
  for (Measurement& m : out) {
    const config::MetricInfo* info = config::find_metric(m.metric);
    const bool duration = info != nullptr && info->quantity == Quantity::duration;
    if (duration && m.histogram && !without_histogram[m.metric]) {
      m.value = double(m.histogram->value_at_percentile(99)) / 1e9;
    }
    m.note =
        fmt::format("{} agents merged ({}); agent 0: {}", count[m.metric],
                    duration ? (without_histogram[m.metric] ? "the worst agent's value: no histogram to merge"
                                                            : "P99 of the merged histograms")
                             : "sum",
                    m.note);
  }
  return out;
}

std::vector<std::string> describe_cluster(const ClusterSettings& cluster) {
  return {fmt::format(
      "creates {} PersistentVolumeClaim{} of {} ({}) and {} storage agent pod{} mounting {} at {}{}; deleted "
      "with the run's namespace",
      cluster.agents, cluster.agents == 1 ? "" : "s",
      cluster.storage_class.empty() ? "the default StorageClass" : "StorageClass " + cluster.storage_class,
      cluster.volume_size ? format_quantity(Quantity::size, static_cast<double>(*cluster.volume_size))
                          : std::string("sized for the test files"),
      cluster.agents, cluster.agents == 1 ? "" : "s", cluster.agents == 1 ? "it" : "its own", kVolumeMount,
      cluster.emptydir_baseline ? fmt::format(" and an emptyDir baseline at {}", kBaselineMount) : "")};
}

}  // namespace kp::drivers::storage
