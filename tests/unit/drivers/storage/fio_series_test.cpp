// fio's --status-interval dumps: read beside the final document (fio_json.hpp), and turned into the storage
// phase's per-second series (fio_series.hpp).

#include "drivers/storage/fio_series.hpp"

#include <fstream>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

namespace kp::drivers::storage {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(KP_SOURCE_DIR) + "/tests/fixtures/fio/" + name, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << "missing fixture " << name;
  return text.str();
}

FioJob job(std::string name, int numjobs = 1) {
  FioJob out;
  out.name = std::move(name);
  out.numjobs = numjobs;
  return out;
}

// A real run: `fio --output-format=json+ --status-interval=1 kubeproof_status.fio` (tests/fixtures/fio/).
TEST(FioStatus, TheLastDocumentIsTheResultAndTheDumpsBeforeItAreKept) {
  const std::string text = fixture("kubeproof_status.json");
  Result<FioOutput> output = parse_fio_output(text, "f");
  ASSERT_TRUE(output) << output.error().message;
  ASSERT_EQ(output->jobs.size(), 2u);
  ASSERT_GE(output->status.size(), 4u);
  EXPECT_GT(output->timestamp_ms, 0);
  std::int64_t previous = 0;
  for (const FioStatus& status : output->status) {
    EXPECT_GT(status.timestamp_ms, previous);
    EXPECT_EQ(status.jobs.size(), 2u);
    previous = status.timestamp_ms;
  }
  EXPECT_GE(output->timestamp_ms, previous);
  // The result is the final document's: the last dump can only hold as much as it.
  const FioJobResult& last_dump = output->status.back().jobs.at(1);
  EXPECT_LE(last_dump.write.total_ios, output->jobs.at(1).write.total_ios);
  EXPECT_GT(output->jobs.at(0).read.total_ios, 0u);
  EXPECT_FALSE(output->jobs.at(0).read.clat.bins.empty());
}

TEST(FioStatus, ACutShortLastDocumentIsAnErrorNotAnEarlierDump) {
  const std::string text = fixture("kubeproof_status.json");
  const std::string cut = text.substr(0, text.size() - 300);
  Result<FioOutput> output = parse_fio_output(cut, "fio output x.json");
  ASSERT_FALSE(output);
  EXPECT_NE(output.error().message.find("fio output x.json: truncated or not JSON at byte "),
            std::string::npos)
      << output.error().message;
}

TEST(FioSeries, EachJobsSecondsFromTheRealDumps) {
  Result<FioOutput> output = parse_fio_output(fixture("kubeproof_status.json"), "f");
  ASSERT_TRUE(output) << output.error().message;
  JobSet set;
  set.jobs = {job("randread-4k", 2), job("seqwrite-1m")};
  set.jobs[0].rate_iops = 400;  // per clone: the job offered 800/s
  const std::vector<FinishedSeries> series = fio_series(*output, set, "");
  ASSERT_EQ(series.size(), 2u);
  const FinishedSeries& random = series[0];
  const FinishedSeries& sequential = series[1];
  EXPECT_EQ(random.phase, Phase::storage);
  EXPECT_EQ(random.series, "randread-4k");
  EXPECT_EQ(random.offered, 800.0);
  EXPECT_FALSE(sequential.offered.has_value());
  // 2.5 s and 2 s of runtime after their ramps: a second or so each, and every one did I/O.
  EXPECT_GE(random.seconds.size(), 2u);
  EXPECT_GE(sequential.seconds.size(), 2u);
  for (const FinishedSeries* one : {&random, &sequential}) {
    for (const FinishedSecond& second : one->seconds) {
      ASSERT_TRUE(second.completions && second.bits_per_second && second.p50 && second.p99) << one->series;
      EXPECT_GT(*second.completions, 0) << one->series;
      EXPECT_LE(*second.p50, *second.p99) << one->series;
      EXPECT_GT(*second.p50, 0) << one->series;
    }
  }
  // 1 MiB per I/O: the throughput is the I/O rate in bits, give or take the 8 in flight at the dumps (fio
  // counts io_bytes and total_ios at different points of an I/O's life).
  for (const FinishedSecond& second : sequential.seconds) {
    EXPECT_NEAR(*second.bits_per_second, *second.completions * 8 * 1048576, 0.02 * *second.bits_per_second);
  }
  // The random job ran first: it ended about the sequential job's runtime before fio did.
  EXPECT_GT(random.ended_before, std::chrono::seconds(1));
  EXPECT_LT(sequential.ended_before, std::chrono::milliseconds(1500));
  // A suffix names the --compare-to run's series.
  EXPECT_EQ(fio_series(*output, set, " on compare_to").at(0).series, "randread-4k on compare_to");
}

FioJobResult cumulative(std::uint64_t ios, std::uint64_t runtime_ms,
                        std::vector<std::pair<std::int64_t, std::uint64_t>> bins) {
  FioJobResult out;
  out.name = "randread-4k";
  out.read.total_ios = ios;
  out.read.io_bytes = ios * 4096;
  out.read.runtime_ms = runtime_ms;
  for (const auto& [ns, count] : bins) {
    out.read.clat.samples += count;
  }
  out.read.clat.bins = std::move(bins);
  return out;
}

// Between two dumps: the difference; a ramp (I/Os counted, no latency recorded), its end (fio starts counting
// again), a tail too short to be a second of its own, and a job that did not run.
TEST(FioSeries, DifferencesBetweenDumpsAcrossTheRamp) {
  FioOutput output;
  output.status = {FioStatus{1000, {cumulative(300, 600, {})}},             // in its ramp
                   FioStatus{2000, {cumulative(200, 400, {{2000, 200}})}},  // the ramp ended 0.4 s ago
                   FioStatus{3000, {cumulative(1200, 1400, {{2000, 200}, {4000, 1000}})}},
                   FioStatus{4000, {cumulative(2200, 2400, {{2000, 200}, {4000, 1000}, {8000, 1000}})}}};
  output.timestamp_ms = 4100;  // the final document: 100 ms and 100 I/Os more
  output.jobs = {cumulative(2300, 2500, {{2000, 200}, {4000, 1000}, {8000, 1100}})};
  JobSet set;
  set.jobs = {job("randread-4k"), job("never-ran")};
  const std::vector<FinishedSeries> series = fio_series(output, set, "");
  ASSERT_EQ(series.size(), 1u);  // no document has "never-ran"
  ASSERT_EQ(series[0].seconds.size(), 3u);
  EXPECT_DOUBLE_EQ(*series[0].seconds[0].completions, 500);  // 200 in the 0.4 s since the ramp's end
  EXPECT_DOUBLE_EQ(*series[0].seconds[1].completions, 1000);
  EXPECT_DOUBLE_EQ(*series[0].seconds[1].bits_per_second, 1000.0 * 4096 * 8);
  EXPECT_DOUBLE_EQ(*series[0].seconds[2].completions, 1100 / 1.1);  // with the final 0.1 s
  EXPECT_DOUBLE_EQ(*series[0].seconds[0].p99, 2e-6);
  EXPECT_DOUBLE_EQ(*series[0].seconds[1].p50, 4e-6);  // only what that second added
  EXPECT_DOUBLE_EQ(*series[0].seconds[2].p50, 8e-6);
  EXPECT_EQ(series[0].ended_before, std::chrono::milliseconds(0));
}

TEST(FioSeries, AGarbledFinalTimestampEndsTheSeriesADayEarlyAtMost) {
  // The difference of fio's timestamps overflowed an int64 and its nanoseconds (undefined behaviour).
  FioOutput output;
  output.status = {
      FioStatus{std::numeric_limits<std::int64_t>::min(), {cumulative(200, 1000, {{2000, 200}})}}};
  output.timestamp_ms = std::numeric_limits<std::int64_t>::max();
  output.jobs = {cumulative(200, 1000, {{2000, 200}})};
  JobSet set;
  set.jobs = {job("randread-4k")};
  std::vector<FinishedSeries> series = fio_series(output, set, "");
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].ended_before, std::chrono::hours(24));
  output.status[0].timestamp_ms = 1'000;
  output.timestamp_ms = 2'500;
  series = fio_series(output, set, "");
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].ended_before, std::chrono::milliseconds(1'500));
}

}  // namespace
}  // namespace kp::drivers::storage
