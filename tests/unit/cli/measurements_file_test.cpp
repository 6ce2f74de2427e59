// The measurements file parser, in process: values, units, the long form, and messages word for word.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/measurements_file.hpp"

namespace kp::cli {
namespace {

const Measurement* find(const ImportedMeasurements& imported, std::string_view metric) {
  for (const eval::PhaseInput& input : imported.inputs) {
    for (const Measurement& measurement : input.measurements) {
      if (measurement.metric == metric) {
        return &measurement;
      }
    }
  }
  return nullptr;
}

std::string error_of(std::string_view text) {
  Result<ImportedMeasurements> parsed = parse_measurements(text, "m.json");
  EXPECT_FALSE(parsed.has_value());
  return parsed ? std::string() : parsed.error().message;
}

TEST(MeasurementsFile, StringsWithUnitsAndNumbersInBaseUnits) {
  Result<ImportedMeasurements> parsed = parse_measurements(
      R"({"measurements": {"etcd.write.p99": "30ms", "dns.qps": 12000, "dns.cache_hit_ratio": "96%",
                           "net.pod_to_pod.throughput": "5Gbps", "storage.seqread.bandwidth": "200MB/s"}})",
      "m.json");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_DOUBLE_EQ(find(*parsed, "etcd.write.p99")->value, 0.030);
  EXPECT_DOUBLE_EQ(find(*parsed, "dns.qps")->value, 12000);
  EXPECT_DOUBLE_EQ(find(*parsed, "dns.cache_hit_ratio")->value, 0.96);
  EXPECT_DOUBLE_EQ(find(*parsed, "net.pod_to_pod.throughput")->value, 5e9);
  EXPECT_DOUBLE_EQ(find(*parsed, "storage.seqread.bandwidth")->value, 1.6e9);
  EXPECT_EQ(find(*parsed, "dns.qps")->source, "imported");
}

TEST(MeasurementsFile, EveryPhaseInFlowOrderAbsentOnesSkipped) {
  Result<ImportedMeasurements> parsed =
      parse_measurements(R"({"measurements": {"dns.p99": "3ms"}})", "m.json");
  ASSERT_TRUE(parsed.has_value());
  ASSERT_EQ(parsed->inputs.size(), 6U);
  for (std::size_t i = 0; i < kFlowOrder.size(); ++i) {
    EXPECT_EQ(parsed->inputs[i].phase, kFlowOrder[i]);
  }
  EXPECT_EQ(parsed->inputs[3].status, eval::PhaseStatus::completed);
  EXPECT_EQ(parsed->inputs[0].status, eval::PhaseStatus::skipped);
  EXPECT_EQ(parsed->inputs[0].reason, "no measurements for this phase in m.json");
}

TEST(MeasurementsFile, LongFormWithSourceNoteAndHistogram) {
  Histogram histogram;
  histogram.record(1'000'000);
  histogram.record(2'000'000);
  std::string text = R"({"measurements": {"etcd.write.p99": {"value": "2ms", "source": "etcd benchmark",
      "note": "3 members", "histogram": )" +
                     histogram.to_json().dump() + "}}, \"soak_duration\": \"24h\", \"description\": \"lab\"}";
  Result<ImportedMeasurements> parsed = parse_measurements(text, "m.json");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  const Measurement* write = find(*parsed, "etcd.write.p99");
  ASSERT_NE(write, nullptr);
  EXPECT_DOUBLE_EQ(write->value, 0.002);
  EXPECT_EQ(write->source, "etcd benchmark");
  EXPECT_EQ(write->note, "3 members");
  ASSERT_TRUE(write->histogram.has_value());
  EXPECT_TRUE(*write->histogram == histogram);
  EXPECT_EQ(parsed->soak_duration, std::chrono::hours(24));
  EXPECT_EQ(parsed->description, "lab");
}

TEST(MeasurementsFile, OfferedRateOfAnOpenLoopRun) {
  Result<ImportedMeasurements> parsed =
      parse_measurements(R"({"measurements": {"dns.qps": {"value": "1k", "offered": 1000}}})", "m.json");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  ASSERT_TRUE(find(*parsed, "dns.qps")->offered.has_value());
  EXPECT_DOUBLE_EQ(*find(*parsed, "dns.qps")->offered, 1000);
}

TEST(MeasurementsFile, MessagesNameFileKeyAndValue) {
  EXPECT_EQ(error_of(R"({"measurements": {"etcd.wrte.p99": "30ms"}})"),
            "m.json: measurements.\"etcd.wrte.p99\": unknown metric id (did you mean \"etcd.write.p99\"?)");
  EXPECT_EQ(
      error_of(R"({"measurements": {"frobnication.level": 3}})"),
      "m.json: measurements.\"frobnication.level\": unknown metric id (`kubeproof criteria` lists the ids)");
  EXPECT_EQ(error_of(R"({"measurements": {"dns.qps": -5}})"),
            "m.json: measurements.\"dns.qps\": must be a finite number >= 0, got -5");
  EXPECT_EQ(
      error_of(R"({"measurements": {"dns.qps": true}})"),
      "m.json: measurements.\"dns.qps\": must be a number in base units (rate) or a string with units, got "
      "true");
  EXPECT_EQ(
      error_of(R"({"measurements": {"dns.cache_hit_ratio": 96}})"),
      "m.json: measurements.\"dns.cache_hit_ratio\": a ratio is a fraction from 0 to 1 (or a string such as "
      "\"96%\"), got 96");
  EXPECT_EQ(error_of(R"({"measurements": {"dns.qps": {"valu": 3}}})"),
            "m.json: measurements.\"dns.qps\".valu: unknown key (expected value, offered, source, note, "
            "histogram)");
  EXPECT_EQ(
      error_of(R"({"measurements": {"dns.p99": {"value": "3ms", "offered": "3ms"}}})"),
      "m.json: measurements.\"dns.p99\".offered: only a rate has an offered rate; dns.p99 is a duration");
  EXPECT_EQ(error_of(R"({"measurements": {"dns.qps": {"source": "x"}}})"),
            "m.json: measurements.\"dns.qps\": missing \"value\"");
  EXPECT_EQ(error_of(R"({"measurments": {}})"),
            "m.json: measurments: unknown key (expected measurements, soak_duration, description)");
  EXPECT_EQ(error_of(R"({"measurements": []})"),
            "m.json: measurements: must be an object of metric id -> value, got array");
  EXPECT_EQ(error_of(R"({"measurements": {}, "soak_duration": true})"),
            "m.json: soak_duration: must be a duration such as \"24h\", got true");
  // Beyond Duration's range the conversion was undefined (found reviewing fuzz_measurements_json's reach).
  EXPECT_EQ(error_of(R"({"measurements": {}, "soak_duration": 1e300})"),
            "m.json: soak_duration: must be a duration from 0 to 365d, got 1e+300");
  EXPECT_EQ(error_of(R"({"measurements": {}, "soak_duration": "9223372036.854775807s"})"),
            "m.json: soak_duration: must be a duration from 0 to 365d, got \"9223372036.854775807s\"");
  std::string bad_unit = error_of(R"({"measurements": {"etcd.write.p99": "fast"}})");
  EXPECT_TRUE(bad_unit.starts_with("m.json: measurements.\"etcd.write.p99\": ")) << bad_unit;
  EXPECT_NE(bad_unit.find("\"fast\""), std::string::npos) << bad_unit;
  EXPECT_EQ(error_of(R"({"measurements": {"dns.qps": 5, "etcd.write.p99": 1e309}})"),
            "m.json: measurements.\"etcd.write.p99\": must be a finite number, got 1e309 (beyond a double's "
            "range)");
  EXPECT_EQ(error_of(R"({"measurements": {"dns.qps": {"value": -1e400}}})"),
            "m.json: measurements.\"dns.qps\".value: must be a finite number, got -1e400 (beyond a double's "
            "range)");
  std::string malformed = error_of("{\"measurements\": ");
  EXPECT_TRUE(malformed.starts_with("m.json: not valid JSON: parse error at line 1")) << malformed;
  EXPECT_EQ(malformed.find("json.exception"), std::string::npos) << malformed;
}

TEST(MeasurementsFile, MissingFileIsAnInputError) {
  Result<ImportedMeasurements> loaded = load_measurements("/nonexistent/m.json");
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().kind, ErrorKind::input);
  EXPECT_EQ(loaded.error().message, "/nonexistent/m.json: cannot open: No such file or directory");
}

}  // namespace
}  // namespace kp::cli
