#include "drivers/storage/agent.hpp"

#include <nlohmann/json.hpp>

#include "drivers/storage/agent_line.hpp"

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

RecordedSeries recorded(std::string name, std::size_t seconds, WallTime at) {
  RecordedSeries out;
  out.series.phase = Phase::storage;
  out.series.series = std::move(name);
  out.series.offered = 800.0;
  out.series.ended_before = std::chrono::milliseconds(1500);
  for (std::size_t i = 0; i < seconds; ++i) {
    FinishedSecond second;
    second.completions = 800.04 + static_cast<double>(i);
    second.bits_per_second = 800.0 * 4096 * 8;
    second.p50 = 412e-6;
    second.p99 = i == 0 ? std::nullopt : std::optional<double>(1.5e-3);
    out.series.seconds.push_back(second);
  }
  out.at = at;
  return out;
}

// fio's per-second series go through the agent's line so a cluster's report charts them too: each second's
// figures, the offered rate, and when the last second ended (the wall clock, as the pod's node read it).
TEST(StorageAgent, JsonLineCarriesTheSeriesAndReadsThemBack) {
  StorageResult result;
  const WallTime at = WallTime(std::chrono::milliseconds(1'796'232'608'270));
  result.series = {recorded("randread-4k", 3, at), recorded("seqread-1m on compare_to", 2, at)};
  const nlohmann::json json = nlohmann::json::parse(agent_json_line(result));
  ASSERT_EQ(json["series"].size(), 2u);
  EXPECT_EQ(json["series"][0]["ended_at_ms"], 1'796'232'606'770);  // 1.5 s before the hand-over
  EXPECT_EQ(json["series"][0]["seconds"][0], nlohmann::json::parse("[800.0, 26214400, 412000, null]"));
  Result<AgentResult> back = parse_agent_line(json);
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->series.size(), 2u);
  const RecordedSeries& first = back->series[0];
  EXPECT_EQ(first.series.series, "randread-4k");
  EXPECT_EQ(first.series.phase, Phase::storage);
  EXPECT_EQ(first.series.offered, 800.0);
  EXPECT_EQ(first.at, at - std::chrono::milliseconds(1500));
  ASSERT_EQ(first.series.seconds.size(), 3u);
  EXPECT_DOUBLE_EQ(*first.series.seconds[2].completions, 802.0);
  EXPECT_DOUBLE_EQ(*first.series.seconds[1].p99, 1.5e-3);
  EXPECT_FALSE(first.series.seconds[0].p99.has_value());
  EXPECT_EQ(back->series[1].series.series, "seqread-1m on compare_to");
}

// The line is bounded: past kMaxLineSeriesSeconds the last seconds are left out, and a note says how many.
TEST(StorageAgent, JsonLineSeriesAreBounded) {
  const WallTime at = WallTime(std::chrono::seconds(1'800'000'000));
  LineSeries cut = line_series({recorded("a", 3, at), recorded("b", 3, at), recorded("c", 2, at)}, 4);
  ASSERT_EQ(cut.json.size(), 2u);  // "c" has no second left
  EXPECT_EQ(cut.json[1]["seconds"].size(), 1u);
  EXPECT_EQ(cut.left_out, 4u);
  StorageResult result;
  for (int i = 0; i < 2; ++i) {
    result.series.push_back(recorded("randread-4k", kMaxLineSeriesSeconds / 2 + 5, at));
  }
  const std::string line = agent_json_line(result);
  EXPECT_LT(line.size(), 400'000u);
  const nlohmann::json json = nlohmann::json::parse(line);
  ASSERT_FALSE(json["notes"].empty());
  EXPECT_EQ(
      json["notes"].back(),
      "per-second series: the last 10 seconds are left out of this line, past its bound of 4000 seconds");
}

// A line from a pod's log is not trusted: a malformed series names where.
TEST(StorageAgent, AMalformedSeriesIsNamed) {
  nlohmann::json line = nlohmann::json::parse(agent_json_line(StorageResult{}));
  line["series"] = nlohmann::json::parse(
      R"([{"series":"randread-4k","offered":null,"ended_at_ms":1,"seconds":[[1,2,3,4],[1,"x",3,4]]}])");
  Result<AgentResult> back = parse_agent_line(line);
  ASSERT_FALSE(back);
  EXPECT_EQ(
      back.error().message,
      "series[0].seconds[1]: must be [I/Os per second, bits per second, P50 ns, P99 ns], got [1,\"x\",3,4]");
  line["series"] = nlohmann::json::parse(R"([{"series":"r","seconds":[]}])");
  back = parse_agent_line(line);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().message, "series[0].ended_at_ms: must be a Unix time in ms, got null");
  line["series"] =
      nlohmann::json::parse(R"([{"series":"r","ended_at_ms":18446744073709551615,"seconds":[]}])");
  back = parse_agent_line(line);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().message,
            "series[0].ended_at_ms: must be a Unix time in ms, got 18446744073709551615");
  // An agent from before the series: none, and no error.
  line.erase("series");
  back = parse_agent_line(line);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back->series.empty());
}

}  // namespace
}  // namespace kp::drivers::storage
