#include "drivers/storage/fio_json.hpp"

#include <fstream>
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

std::string parse_error(std::string_view text) {
  Result<FioOutput> output = parse_fio_output(text, "fio output x.json");
  if (output) {
    return "parsed";
  }
  EXPECT_EQ(output.error().kind, ErrorKind::protocol);
  return output.error().message;
}

// Replaces the first occurrence of `from` in `text` (the fixture must contain it).
std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

TEST(FioJson, RandomReadFromTheAnchorRun) {
  Result<FioOutput> output = parse_fio_output(fixture("randread4k_libaio_1.json"), "f");
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(output->fio_version, "fio-3.33");
  EXPECT_TRUE(output->messages.empty());
  ASSERT_EQ(output->jobs.size(), 1u);
  const FioJobResult& job = output->jobs[0];
  EXPECT_EQ(job.name, "randread4k_libaio_1");
  EXPECT_EQ(job.error, 0);
  EXPECT_DOUBLE_EQ(job.read.iops, 81625.337466);
  EXPECT_DOUBLE_EQ(job.read.bw_bytes, 334337382);
  EXPECT_EQ(job.read.io_bytes, 3343708160u);
  EXPECT_EQ(job.read.total_ios, 816335u);
  EXPECT_EQ(job.read.runtime_ms, 10001u);
  EXPECT_EQ(job.read.clat.samples, 816335u);
  EXPECT_DOUBLE_EQ(job.read.clat.mean_ns, 387827.855737);
  EXPECT_EQ(job.read.clat.percentile_ns(99), 577536);
  EXPECT_EQ(job.read.clat.percentile_ns(50), 358400);
  EXPECT_EQ(job.read.clat.percentile_ns(99.9), 4554752);
  EXPECT_EQ(job.read.clat.percentile_ns(99.99), 5537792);
  EXPECT_FALSE(job.read.clat.percentile_ns(98));
  EXPECT_FALSE(job.read.clat.histogram);  // plain json has no bins
  EXPECT_EQ(job.write.io_bytes, 0u);
  EXPECT_TRUE(job.write.clat.percentiles.empty());
  ASSERT_TRUE(job.sync);
  EXPECT_EQ(job.sync->samples, 0u);
}

TEST(FioJson, RandomWriteAndSequentialFromTheAnchorRuns) {
  Result<FioOutput> write = parse_fio_output(fixture("randwrite4k_libaio_1.json"), "f");
  ASSERT_TRUE(write) << write.error().message;
  EXPECT_DOUBLE_EQ(write->jobs[0].write.iops, 114544.645535);
  EXPECT_EQ(write->jobs[0].write.clat.percentile_ns(99), 362496);

  Result<FioOutput> seqwrite = parse_fio_output(fixture("seqwrite1M_libaio_1.json"), "f");
  ASSERT_TRUE(seqwrite) << seqwrite.error().message;
  EXPECT_DOUBLE_EQ(seqwrite->jobs[0].write.iops, 3700.459908);
  EXPECT_DOUBLE_EQ(seqwrite->jobs[0].write.bw_bytes, 3880213448);
  EXPECT_EQ(seqwrite->jobs[0].write.clat.percentile_ns(99), 4554752);

  Result<FioOutput> seqread = parse_fio_output(fixture("seqread1M_libaio_2.json"), "f");
  ASSERT_TRUE(seqread) << seqread.error().message;
  EXPECT_DOUBLE_EQ(seqread->jobs[0].read.iops, 1268.811832);
  EXPECT_DOUBLE_EQ(seqread->jobs[0].read.bw_bytes, 1330445635);
  EXPECT_EQ(seqread->jobs[0].read.clat.percentile_ns(99), 6914048);
}

TEST(FioJson, EtcdDiskCheckHasFdatasyncLatency) {
  Result<FioOutput> output = parse_fio_output(fixture("etcdfsync_1.json"), "f");
  ASSERT_TRUE(output) << output.error().message;
  const FioJobResult& job = output->jobs[0];
  EXPECT_DOUBLE_EQ(job.write.iops, 8055.421687);
  EXPECT_EQ(job.write.total_ios, 10029u);
  ASSERT_TRUE(job.sync);
  EXPECT_EQ(job.sync->samples, 10029u);
  EXPECT_EQ(job.sync->percentile_ns(99), 205824);
  EXPECT_EQ(job.sync->percentile_ns(50), 119296);
}

TEST(FioJson, JsonPlusBinsBecomeAHistogramOfEveryCompletion) {
  Result<FioOutput> output = parse_fio_output(fixture("kubeproof_jsonplus.json"), "f");
  ASSERT_TRUE(output) << output.error().message;
  ASSERT_EQ(output->jobs.size(), 5u);
  const FioJobResult* read = output->find("randread-4k");
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->index, 0u);
  EXPECT_DOUBLE_EQ(read->read.iops, 40928.071928);
  ASSERT_TRUE(read->read.clat.histogram);
  const Histogram& histogram = *read->read.clat.histogram;
  EXPECT_EQ(histogram.count(), read->read.clat.samples);
  EXPECT_EQ(histogram.count(), 41000u);
  // fio's buckets are ~1.6 % wide and it reports a bucket's value; ours agrees within a bucket.
  const double fio_p99 = *read->read.clat.percentile_ns(99);
  EXPECT_NEAR(static_cast<double>(histogram.value_at_percentile(99)), fio_p99, fio_p99 * 0.02);

  const FioJobResult* etcd = output->find("etcd-fsync");
  ASSERT_NE(etcd, nullptr);
  ASSERT_TRUE(etcd->sync && etcd->sync->histogram);
  EXPECT_EQ(etcd->sync->histogram->count(), 911u);
  EXPECT_EQ(etcd->sync->percentile_ns(99), 9633792);
  EXPECT_EQ(output->find("nope"), nullptr);
}

// Bins whose counts add past 2^64 wrapped the histogram's count and overflowed its exact sum (undefined).
TEST(FioJson, BinCountsPastTwoToTheSixtyFourAreAnError) {
  const std::string text = replaced(
      fixture("kubeproof_jsonplus.json"), "\"152576\" : 2,",
      "\"9223372036854775807\" : 18446744073709551615, \"9223372036854775806\" : 18446744073709551615,");
  EXPECT_EQ(parse_error(text),
            "fio output x.json: jobs[0] \"randread-4k\": read.clat_ns.bins: the counts add up "
            "to more than 2^64");
}

TEST(FioJson, ErrorLinesBeforeTheJsonAreKeptAndJobErrorsRead) {
  Result<FioOutput> output = parse_fio_output(fixture("fio_enospc.json"), "f");
  ASSERT_TRUE(output) << output.error().message;
  ASSERT_EQ(output->messages.size(), 2u);
  EXPECT_EQ(output->messages[0], "fio: ENOSPC on laying out file, stopping");
  EXPECT_EQ(output->messages[1],
            "fio: pid=0, err=28/file:filesetup.c:240, func=write, error=No space left on device");
  ASSERT_EQ(output->jobs.size(), 3u);
  EXPECT_EQ(output->jobs[0].error, 28);

  Result<FioOutput> read_only = parse_fio_output(fixture("fio_erofs.json"), "f");
  ASSERT_TRUE(read_only) << read_only.error().message;
  EXPECT_EQ(read_only->jobs[0].error, 30);
}

TEST(FioJson, InterruptedRunHasTheFirstJobOnly) {
  Result<FioOutput> output = parse_fio_output(fixture("fio_interrupted.json"), "f");
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(output->messages, std::vector<std::string>{"fio: terminating on signal 2"});
  ASSERT_EQ(output->jobs.size(), 3u);
  EXPECT_GT(output->jobs[0].read.io_bytes, 0u);
  EXPECT_EQ(output->jobs[1].write.io_bytes, 0u);
}

TEST(FioJson, TruncatedOutputNamesTheJobAndTheField) {
  const std::string text = fixture("randwrite4k_libaio_1.json");
  const std::size_t cut = text.find("\"99.500000\"", text.find("\"write\""));
  ASSERT_NE(cut, std::string::npos);
  EXPECT_EQ(
      parse_error(text.substr(0, cut)),
      "fio output x.json: truncated or not JSON at byte " + std::to_string(cut) +
          ", inside jobs[0] \"randwrite4k_libaio_1\" at write.clat_ns.percentile: syntax error while parsing "
          "object key - unexpected end of input; expected string literal");
}

TEST(FioJson, TruncatedBeforeAnyJobSaysWhere) {
  const std::string text = fixture("randread4k_libaio_1.json");
  const std::size_t cut = text.find("\"jobs\"") + 9;
  const std::string message = parse_error(text.substr(0, cut));
  EXPECT_NE(message.find("truncated or not JSON at byte " + std::to_string(cut) + ", at jobs"),
            std::string::npos)
      << message;
}

TEST(FioJson, GarbageAfterTheDocumentIsNotJson) {
  const std::string message = parse_error(fixture("etcdfsync_1.json") + "\nfio: something else");
  EXPECT_NE(message.find("truncated or not JSON at byte"), std::string::npos) << message;
}

TEST(FioJson, EmptyOrMessagesOnly) {
  EXPECT_EQ(parse_error(""), "fio output x.json: empty (fio wrote no JSON)");
  EXPECT_EQ(parse_error("\n  \n"), "fio output x.json: empty (fio wrote no JSON)");
  EXPECT_EQ(
      parse_error("fio: engine libaio not loadable\nfio: failed to load engine\n"),
      "fio output x.json: fio wrote no JSON; it said: fio: engine libaio not loadable | fio: failed to load "
      "engine");
}

TEST(FioJson, MissingAndMistypedFieldsNameTheJobAndField) {
  const std::string text = fixture("randread4k_libaio_1.json");
  EXPECT_EQ(parse_error(replaced(text, "\"iops\" : 0.000000", "\"iops_gone\" : 0")),
            "fio output x.json: jobs[0] \"randread4k_libaio_1\": write.iops: missing");
  EXPECT_EQ(
      parse_error(
          replaced(text, "\"N\" : 816335,\n          \"percentile\"", "\"N\" : \"many\",\n \"percentile\"")),
      "fio output x.json: jobs[0] \"randread4k_libaio_1\": read.clat_ns.N: must be a number, got \"many\"");
  EXPECT_EQ(parse_error(replaced(text, "\"io_bytes\" : 3343708160", "\"io_bytes\" : -1")),
            "fio output x.json: jobs[0] \"randread4k_libaio_1\": read.io_bytes: must be a whole number >= 0, "
            "got -1");
  EXPECT_EQ(
      parse_error(replaced(text, "\"99.000000\" : 577536", "\"99.000000\" : null")),
      "fio output x.json: jobs[0] \"randread4k_libaio_1\": read.clat_ns.percentile[\"99.000000\"]: must be a "
      "number >= 0, got null");
  EXPECT_EQ(parse_error(replaced(text, "\"99.000000\" : 577536", "\"p99\" : 577536")),
            "fio output x.json: jobs[0] \"randread4k_libaio_1\": read.clat_ns.percentile: key must be a "
            "percentage, "
            "got \"p99\"");
  EXPECT_EQ(parse_error(replaced(text, "\"error\" : 0", "\"error\" : \"none\"")),
            "fio output x.json: jobs[0] \"randread4k_libaio_1\": error: must be a number, got \"none\"");
  // Found by fuzz_fio_json: numbers beyond the target type's range were cast unchecked (undefined behaviour).
  EXPECT_EQ(parse_error(replaced(text, "\"error\" : 0", "\"error\" : 9223372036854775807")),
            "fio output x.json: jobs[0] \"randread4k_libaio_1\": error: must be an error number, got "
            "9223372036854775807");
  EXPECT_EQ(parse_error(replaced(text, "\"error\" : 0", "\"error\" : 2.5")),
            "fio output x.json: jobs[0] \"randread4k_libaio_1\": error: must be an error number, got 2.5");
  EXPECT_EQ(parse_error(replaced(text, "\"io_bytes\" : 3343708160", "\"io_bytes\" : 1e20")),
            "fio output x.json: jobs[0] \"randread4k_libaio_1\": read.io_bytes: must be a whole number >= 0, "
            "got 1e+20");
  EXPECT_EQ(parse_error(replaced(text, "\"jobname\" : \"randread4k_libaio_1\",", "")),
            "fio output x.json: jobs[0]: jobname: missing");
  EXPECT_EQ(parse_error(replaced(text, "\"read\" : {", "\"reads\" : {")),
            "fio output x.json: jobs[0] \"randread4k_libaio_1\": read: missing");
}

TEST(FioJson, WrongShapesAtTheTop) {
  // fio's output is an object; anything before the first line that opens one is fio talking.
  EXPECT_EQ(parse_error("[1, 2]"), "fio output x.json: fio wrote no JSON; it said: [1, 2]");
  EXPECT_EQ(parse_error("{\"fio version\": \"fio-3.33\"}"), "fio output x.json: jobs: missing");
  EXPECT_EQ(parse_error("{\"jobs\": {}}"), "fio output x.json: jobs: must be a list, got {}");
  EXPECT_EQ(parse_error("{\"jobs\": [7]}"), "fio output x.json: jobs[0]: must be an object, got 7");
}

TEST(FioJson, Fio2OutputIsRecognised) {
  const std::string text = replaced(fixture("randread4k_libaio_1.json"), "\"clat_ns\"", "\"clat\"");
  EXPECT_EQ(
      parse_error(text),
      "fio output x.json: jobs[0] \"randread4k_libaio_1\": read.clat_ns: missing (this looks like fio 2.x "
      "output; kubeproof needs fio 3 or newer)");
}

}  // namespace
}  // namespace kp::drivers::storage
