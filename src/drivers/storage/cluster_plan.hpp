#pragma once

// The storage phase on --target cluster, worked out without a cluster (unit-tested): its own settings, the
// image, the PersistentVolumeClaims and agent pods it creates, the agent's flags for the phase's fio job set,
// and how the agents' JSON lines become the phase's result.
//
//   settings (beside settings.hpp's; --target cluster only):
//     storage_class: fast-ssd  # the claims' class; default: the cluster's default class (the field is left
//     out) volume_size: 4GiB        # each claim; default: room for the test files (1.25 x, rounded up to a
//     GiB) emptydir_baseline: false # also mount an emptyDir (the node's own disk) and run the same jobs
//     there:
//                              # the agent's --compare-to, so the report gives volume/local ratios
//     agents: 1                # agent pods, each with a claim of its own, run together and merged
//     bind_timeout: 2m         # a claim still Pending after this (after its pod was created) fails the phase
//     image: ""                # the storage agent image; default: --storage-agent-image, else --agent-image
//                              # with "-storage" appended to its repository name (kubeproof-agent:1.2 ->
//                              # kubeproof-agent-storage:1.2)
//     pods: {...}              # cluster/agent_pod.hpp read_pod_settings
//
// Each agent pod runs `kubeproof agent storage --dir /volume [--compare-to /baseline] <the job set's flags>`
// and prints one "kubeproof.agent.storage" JSON line (agent.hpp). The pod's security context keeps fsGroup,
// so a dynamically provisioned volume is writable by the non-root agent (fsGroup does not apply to hostPath
// volumes: a root-owned hostPath PV gives "Permission denied").

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/agent_pod.hpp"
#include "config/yaml_fields.hpp"
#include "core/error.hpp"
#include "core/measurement.hpp"
#include "drivers/storage/agent_line.hpp"
#include "drivers/storage/jobs.hpp"
#include "drivers/storage/settings.hpp"

namespace kp::drivers::storage {

inline constexpr std::string_view kVolumeMount = "/volume";
inline constexpr std::string_view kBaselineMount = "/baseline";
inline constexpr int kMaxAgents = 32;

struct ClusterSettings {
  std::string storage_class;                 // "" = the cluster's default class
  std::optional<std::uint64_t> volume_size;  // unset: default_volume_size
  bool emptydir_baseline = false;
  int agents = 1;
  Duration bind_timeout = std::chrono::minutes(2);
  std::string image;  // "" = storage_image_of: --storage-agent-image, else the variant of --agent-image
  YAML::Node pods;    // for cluster::read_pod_settings
};

// Reads the cluster-only keys (settings.hpp is_cluster_only_key) of the settings mapping (others ignored):
// errors name the field.
Result<ClusterSettings> parse_cluster_settings(const config::YamlField& field);

// The image the storage agents run: the plan's `image`, else --storage-agent-image, else the variant of
// --agent-image (cluster::storage_variant: the fio variant beside the small image).
std::string storage_image_of(const cluster::AgentImage& image, const ClusterSettings& cluster);

// Room for the job set's test files: 1.25 x, rounded up to a whole GiB.
std::uint64_t default_volume_size(const JobSet& jobs);

// The flags of `kubeproof agent storage` that make it run `jobs` as the phase would (the runtime and ramp
// each job got from the phase's duration, the resolved random rate), on kVolumeMount and, with a baseline,
// kBaselineMount.
std::vector<std::string> agent_flags(const Settings& settings, const JobSet& jobs, bool baseline);

std::string claim_name(int agent);  // "storage-volume-0"
cluster::AgentPodSpec agent_pod(const Settings& settings, const JobSet& jobs, const ClusterSettings& cluster,
                                int agent);

// Measurements of agents that ran together on volumes of their own, merged exactly: rates and bandwidths add
// up, latency rows are read from the merged histograms (never an average of P99s; a row without a histogram
// takes the worst agent's value, and says so). One agent: its measurements as they are.
std::vector<Measurement> merge_measurements(const std::vector<std::vector<Measurement>>& agents);

// For --dry-run.
std::vector<std::string> describe_cluster(const ClusterSettings& cluster);

}  // namespace kp::drivers::storage
