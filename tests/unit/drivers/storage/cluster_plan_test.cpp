#include "drivers/storage/cluster_plan.hpp"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "drivers/storage/agent.hpp"

namespace kp::drivers::storage {
namespace {

namespace fs = std::filesystem;

config::YamlField field_of(const std::string& yaml) {
  return config::YamlField(YAML::Load(yaml), "plans/x.yaml", "phases[4].settings");
}

// The storage agents' image: the plan's, else --storage-agent-image, else the -storage variant of
// --agent-image.
TEST(StorageCluster, StorageImageComesFromThePlanTheFlagOrTheVariant) {
  ClusterSettings cluster;
  cluster::AgentImage image{"registry.local:5000/team/kubeproof-agent:1.2", "IfNotPresent", ""};
  EXPECT_EQ(storage_image_of(image, cluster), "registry.local:5000/team/kubeproof-agent-storage:1.2");
  image.storage_reference = "r.io/fio-agent:3";
  EXPECT_EQ(storage_image_of(image, cluster), "r.io/fio-agent:3");
  cluster.image = "mine/kubeproof-agent-storage:x";
  EXPECT_EQ(storage_image_of(image, cluster), "mine/kubeproof-agent-storage:x");
}

TEST(StorageCluster, ClusterSettingsAreReadAndCheckedByField) {
  Result<ClusterSettings> settings =
      parse_cluster_settings(field_of("storage_class: fast\nvolume_size: 4GiB\nemptydir_baseline: "
                                      "true\nagents: 2\nbind_timeout: 30s\niodepth: 8"));
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->storage_class, "fast");
  EXPECT_EQ(settings->volume_size, 4 * kGiB);
  EXPECT_TRUE(settings->emptydir_baseline);
  EXPECT_EQ(settings->agents, 2);
  EXPECT_EQ(settings->bind_timeout, std::chrono::seconds(30));

  Result<ClusterSettings> bad = parse_cluster_settings(field_of("agents: 0"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "plans/x.yaml:1: phases[4].settings.agents: must be a whole number within 1..32, got \"0\"");
  Result<ClusterSettings> size = parse_cluster_settings(field_of("volume_size: lots"));
  ASSERT_FALSE(size);
  EXPECT_NE(size.error().message.find("phases[4].settings.volume_size"), std::string::npos);

  // The plan's settings reader accepts the cluster keys (and still refuses unknown ones).
  EXPECT_TRUE(parse_settings(field_of("storage_class: fast\nemptydir_baseline: true")));
  EXPECT_FALSE(parse_settings(field_of("storage_klass: fast")));
}

TEST(StorageCluster, DefaultVolumeHoldsTheTestFiles) {
  JobSet jobs;
  jobs.bytes_needed = kGiB + 22 * kMiB;
  EXPECT_EQ(default_volume_size(jobs), 2 * kGiB);
  jobs.bytes_needed = 100 * kMiB;
  EXPECT_EQ(default_volume_size(jobs), kGiB);
}

// The pod's flags, read by the agent's own flag parser, give the job file the phase planned: the agent in the
// pod runs exactly what the lab would.
TEST(StorageCluster, AgentFlagsReproduceThePhasesJobSet) {
  Result<Settings> settings =
      parse_settings(field_of("size: 64MiB\niodepth: 16\nqd_sweep: [1, 4]\nrate: 500"));
  ASSERT_TRUE(settings) << settings.error().message;
  const JobSet jobs = plan_jobs(*settings, config::TestType::smoke, std::chrono::seconds(60),
                                JobPlanOptions{.random_rate = Rate{500}, .search_slots = 0});
  std::vector<std::string> flags = agent_flags(*settings, jobs, true);
  ASSERT_GE(flags.size(), 2u);
  EXPECT_EQ(flags[0], "--dir");
  EXPECT_EQ(flags[1], "/volume");
  // The mount paths exist in the pod; here a temporary directory stands in for both.
  const fs::path dir = fs::temp_directory_path() / fmt::format("kp-storage-cluster-unit-{}", ::getpid());
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  for (std::size_t i = 0; i + 1 < flags.size(); ++i) {
    if (flags[i] == "--dir") {
      flags[i + 1] = (dir / "a").string();
    } else if (flags[i] == "--compare-to") {
      flags[i + 1] = (dir / "b").string();
    }
  }
  AgentOptions options;
  CLI::App app;
  attach_agent_options(app, options);
  std::vector<std::string> args(flags.rbegin(), flags.rend());
  app.parse(args);
  Result<Settings> agent = to_agent_settings(options);
  fs::remove_all(dir);
  ASSERT_TRUE(agent) << agent.error().message;
  ASSERT_TRUE(agent->compare_to);
  ASSERT_TRUE(agent->rate.is_fixed());
  const JobSet again = plan_jobs(*agent, config::TestType::load, Duration(0),
                                 JobPlanOptions{.random_rate = agent->rate.rate, .search_slots = 0});
  EXPECT_EQ(render_job_file(again), render_job_file(jobs));
}

TEST(StorageCluster, AgentPodMountsItsClaimAndTheBaseline) {
  ClusterSettings cluster;
  cluster.emptydir_baseline = true;
  const JobSet jobs = plan_jobs(Settings{}, config::TestType::smoke, std::chrono::seconds(60));
  const cluster::AgentPodSpec pod = agent_pod(Settings{}, jobs, cluster, 1);
  EXPECT_EQ(pod.name, "storage-agent-1");
  EXPECT_EQ(pod.args.front(), "storage");
  ASSERT_EQ(pod.volumes.size(), 2u);
  EXPECT_EQ(pod.volumes[0].claim_name, "storage-volume-1");
  EXPECT_EQ(pod.volumes[0].mount_path, "/volume");
  EXPECT_EQ(pod.volumes[1].claim_name, "");  // emptyDir: the node's own disk
  EXPECT_FALSE(pod.volumes[1].memory);
  EXPECT_EQ(pod.volumes[1].mount_path, "/baseline");
  EXPECT_EQ(pod.fs_group, 65534);
}

// The agent's line reads back into measurements with their histograms.
TEST(StorageCluster, AgentLineReadsBack) {
  StorageResult result;
  result.fio_version = "fio-3.33";
  Measurement iops{.metric = "storage.randread_4k.iops",
                   .value = 12000,
                   .offered = {},
                   .histogram = {},
                   .source = "fio",
                   .note = "randread-4k"};
  Measurement p99{.metric = "storage.rand_4k.p99",
                  .value = 0.002,
                  .offered = {},
                  .histogram = Histogram{},
                  .source = "fio",
                  .note = ""};
  p99.histogram->record(2'000'000);
  result.run.measurements = {iops, p99};
  result.warnings = {"reads look cached"};
  result.run.invalid_reasons = {"randread-4k: late"};
  const nlohmann::json line = nlohmann::json::parse(agent_json_line(result));
  Result<AgentResult> parsed = parse_agent_line(line);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->fio_version, "fio-3.33");
  ASSERT_EQ(parsed->measurements.size(), 2u);
  EXPECT_EQ(parsed->measurements[0].metric, "storage.randread_4k.iops");
  EXPECT_DOUBLE_EQ(parsed->measurements[0].value, 12000);
  ASSERT_TRUE(parsed->measurements[1].histogram);
  EXPECT_EQ(parsed->measurements[1].histogram->count(), 1u);
  EXPECT_EQ(parsed->warnings, std::vector<std::string>{"reads look cached"});
  EXPECT_EQ(parsed->invalid_reasons, std::vector<std::string>{"randread-4k: late"});

  EXPECT_FALSE(parse_agent_line(nlohmann::json{{"kind", "kubeproof.agent.net-client"}}));
  Result<AgentResult> early =
      parse_agent_line(nlohmann::json{{"kind", "kubeproof.agent.storage"}, {"error", "--dir: required"}});
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().message, "--dir: required");
}

// Issue 18 (fuzz target agent_log): a line of the agent's kind whose fields have another type threw
// nlohmann's type_error out of the phase (a pod's log is outside input). Each is a protocol error naming the
// field.
TEST(StorageCluster, AgentLineFieldsOfTheWrongTypeAreErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"kind":"kubeproof.agent.storage","fio_version":5,"measurements":[]})",
       "fio_version: must be a string, got 5"},
      {R"({"kind":"kubeproof.agent.storage","error":{"x":1}})", "error: must be a string, got {\"x\":1}"},
      {R"({"kind":"kubeproof.agent.storage","measurements":[],"cancelled":"yes"})",
       "cancelled: must be a boolean, got \"yes\""},
      {R"({"kind":"kubeproof.agent.storage","measurements":[{"metric":"m","value":1,"source":[]}]})",
       "measurement m: source: must be a string, got []"},
      {R"({"kind":"kubeproof.agent.storage","measurements":[{"metric":"m","value":1,"note":false}]})",
       "measurement m: note: must be a string, got false"},
      {R"({"kind":7,"measurements":[]})", "not a kubeproof.agent.storage line"},
  };
  for (const auto& [text, message] : cases) {
    Result<AgentResult> parsed = parse_agent_line(nlohmann::json::parse(text));
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().kind, ErrorKind::protocol) << text;
    EXPECT_EQ(parsed.error().message, message) << text;
  }
  Result<AgentResult> nulls = parse_agent_line(nlohmann::json::parse(
      R"({"kind":"kubeproof.agent.storage","fio_version":null,"measurements":[],"cancelled":null})"));
  ASSERT_TRUE(nulls) << nulls.error().message;
  EXPECT_FALSE(nulls->cancelled);
}

// Two agents on volumes of their own: IOPS add up, the P99 comes from the merged histograms.
TEST(StorageCluster, AgentsMergeExactly) {
  auto agent = [](double iops, std::int64_t first_ns, int count) {
    Measurement rate{.metric = "storage.randread_4k.iops",
                     .value = iops,
                     .offered = {},
                     .histogram = {},
                     .source = "fio",
                     .note = ""};
    Histogram histogram;
    for (int i = 0; i < count; ++i) {
      histogram.record(first_ns + i * 1000);
    }
    Measurement p99{.metric = "storage.rand_4k.p99",
                    .value = double(histogram.value_at_percentile(99)) / 1e9,
                    .offered = {},
                    .histogram = histogram,
                    .source = "fio",
                    .note = ""};
    return std::vector<Measurement>{rate, p99};
  };
  const std::vector<Measurement> a = agent(10000, 100'000, 1000);
  const std::vector<Measurement> b = agent(5000, 9'000'000, 100);
  const std::vector<Measurement> merged = merge_measurements({a, b});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_DOUBLE_EQ(merged[0].value, 15000);
  Histogram together = *a[1].histogram;
  together.merge(*b[1].histogram);
  EXPECT_DOUBLE_EQ(merged[1].value, double(together.value_at_percentile(99)) / 1e9);
  EXPECT_NE(merged[1].value, (a[1].value + b[1].value) / 2);
  EXPECT_NE(merged[1].note.find("2 agents merged (P99 of the merged histograms)"), std::string::npos)
      << merged[1].note;
  EXPECT_EQ(merge_measurements({a}).front().note, "");
}

TEST(StorageCluster, DryRunSaysWhatIsCreated) {
  ClusterSettings cluster;
  cluster.storage_class = "fast";
  cluster.volume_size = 4 * kGiB;
  const std::vector<std::string> lines = describe_cluster(cluster);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("1 PersistentVolumeClaim of StorageClass fast"), std::string::npos) << lines[0];
}

}  // namespace
}  // namespace kp::drivers::storage
