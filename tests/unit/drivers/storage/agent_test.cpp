#include "drivers/storage/agent.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace kp::drivers::storage {
namespace {

std::string settings_error(const AgentOptions& options) {
  Result<Settings> settings = to_agent_settings(options);
  if (settings) {
    return "parsed";
  }
  EXPECT_EQ(settings.error().kind, ErrorKind::usage);
  return settings.error().message;
}

TEST(StorageAgent, FlagsBecomeSettings) {
  AgentOptions options;
  options.dir = "/tmp";
  options.workloads = "seqread, randread";
  options.iodepth = "16";
  options.size = "64MiB";
  options.qd_sweep = "1,4";
  options.buffered = true;
  options.bs = "1000";  // buffered: no alignment rule
  Result<Settings> settings = to_agent_settings(options);
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->volume, "/tmp");
  EXPECT_EQ(settings->workloads, (std::vector<Workload>{Workload::randread, Workload::seqread}));
  EXPECT_EQ(settings->iodepth, 16);
  EXPECT_EQ(settings->size, 64 * kMiB);
  EXPECT_EQ(settings->qd_sweep, (std::vector<int>{1, 4}));
  EXPECT_FALSE(settings->direct);
  EXPECT_EQ(settings->runtime, kAgentDefaultRuntime);
}

TEST(StorageAgent, BadFlagsAreNamedAndEchoed) {
  AgentOptions options;
  EXPECT_EQ(settings_error(options),
            "kubeproof agent storage: --dir: required: the directory to test (the volume's mount path)");
  options.dir = "/tmp";
  options.iodepth = "0";
  EXPECT_EQ(settings_error(options),
            "kubeproof agent storage: --iodepth: must be a whole number within 1..4096, got \"0\"");
  options.iodepth.clear();
  options.bs = "1000";
  EXPECT_EQ(settings_error(options),
            "kubeproof agent storage: --bs: must be a multiple of 512 bytes for direct I/O, got 1000");
  options.bs.clear();
  options.runtime = "forever";
  EXPECT_TRUE(settings_error(options).starts_with(
      "kubeproof agent storage: --runtime: not a duration, got \"forever\""));
  options.runtime.clear();
  // The agent reads --rate with the plan's reader; capacity x load is resolved by a plan, never by an agent.
  options.rate = "fast";
  EXPECT_EQ(settings_error(options),
            "kubeproof agent storage: --rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");
  options.rate = "capacity";
  EXPECT_EQ(settings_error(options),
            "kubeproof agent storage: --rate: an agent has no plan, so no capacity to scale: give a rate > 0 "
            "or max, got \"capacity\"");
  options.rate = "5k";
  {
    Result<Settings> settings = to_agent_settings(options);
    ASSERT_TRUE(settings) << settings.error().message;
    EXPECT_EQ(settings->rate, load::RateSetting::fixed_at(Rate{5e3}));
  }
  options.rate.clear();
  options.dir = "/nonexistent/kubeproof-volume";
  EXPECT_EQ(settings_error(options),
            "kubeproof agent storage: --dir: must be an existing directory (No such file or directory), got "
            "\"/nonexistent/kubeproof-volume\"");
  options.dir = std::string(KP_SOURCE_DIR) + "/CMakeLists.txt";
  EXPECT_EQ(settings_error(options),
            "kubeproof agent storage: --dir: must be a directory, not a file, got \"" + options.dir + "\"");
}

TEST(StorageAgent, JsonLineCarriesMeasurementsJobsAndRatios) {
  StorageResult result;
  result.fio_version = "fio-3.33";
  Histogram histogram;
  histogram.record(577536, 10);
  result.run.measurements.push_back(Measurement{.metric = "storage.rand_4k.p99",
                                                .value = 577536e-9,
                                                .offered = std::nullopt,
                                                .histogram = histogram,
                                                .source = "fio-3.33",
                                                .note = "n"});
  JobSummary job;
  job.job.name = "randread-4k";
  job.job.workload = Workload::randread;
  job.job.rw = "randread";
  job.job.block_size = 4096;
  job.job.iodepth = 32;
  job.iops = 81625.3;
  job.bytes_per_second = 81625.3 * 4096;
  job.ios = 816335;
  job.runtime = std::chrono::milliseconds(10001);
  job.p99 = 577536e-9;
  result.jobs.push_back(job);
  result.compare_jobs.push_back(job);
  result.comparison.push_back(ComparisonRow{
      .metric = "storage.randread_4k.iops", .volume = 2, .local = 1, .ratio = 2, .volume_beats_local = true});
  result.warnings.push_back("reads look served from a cache");

  const std::string line = agent_json_line(result);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const nlohmann::json json = nlohmann::json::parse(line);
  EXPECT_EQ(json["kind"], "kubeproof.agent.storage");
  EXPECT_EQ(json["version"], 1);
  EXPECT_EQ(json["fio_version"], "fio-3.33");
  ASSERT_EQ(json["measurements"].size(), 1u);
  EXPECT_EQ(json["measurements"][0]["metric"], "storage.rand_4k.p99");
  Result<Histogram> back = Histogram::from_json(json["measurements"][0]["histogram"]);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, histogram);
  ASSERT_EQ(json["jobs"].size(), 2u);
  EXPECT_EQ(json["jobs"][0]["target"], "volume");
  EXPECT_EQ(json["jobs"][1]["target"], "compare_to");
  EXPECT_EQ(json["jobs"][0]["iodepth"], 32);
  EXPECT_EQ(json["jobs"][0]["p50_s"], nullptr);
  EXPECT_DOUBLE_EQ(json["jobs"][0]["runtime_s"].get<double>(), 10.001);
  EXPECT_EQ(json["comparison"][0]["volume_beats_local"], true);
  EXPECT_EQ(json["warnings"][0], "reads look served from a cache");
  EXPECT_EQ(json["cancelled"], false);
}

}  // namespace
}  // namespace kp::drivers::storage
