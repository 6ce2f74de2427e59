#include "report/report_reader.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "report/report_file.hpp"
#include "report/run_report.hpp"
#include "report_fixture.hpp"

namespace kp::report {
namespace {

using Json = nlohmann::ordered_json;
using testing::fixture_report;

RunReport read_back(const std::string& text) {
  Result<RunReport> read = read_report(Json::parse(text), "report.json");
  EXPECT_TRUE(read.has_value()) << read.error().message;
  return read ? std::move(*read) : RunReport{};
}

// The real run's report.json in tests/fixtures/report/ (stress in four phases: steps, series, histograms).
std::string real_run_json(std::string_view fixture = "stress-local.report.json.gz") {
  const auto gz = std::filesystem::path(KP_SOURCE_DIR) / "tests/fixtures/report" / fixture;
  testing::CommandOutput unzipped = testing::run_command("gzip -dc '" + gz.string() + "'");
  EXPECT_EQ(unzipped.status, 0) << unzipped.output;
  return unzipped.output;
}

TEST(ReportReader, WriteReadWriteGivesTheSameJson) {
  const std::string first = render_json(fixture_report());
  EXPECT_EQ(render_json(read_back(first)), first);
}

TEST(ReportReader, SubSecondTimesComeBackWithTheSameSecondsAndDurations) {
  RunReport report = fixture_report(0.25);
  // A real run starts and ends mid-second: report.json keeps whole seconds and the exact difference.
  report.meta.started += std::chrono::nanoseconds(987'654'321);
  report.meta.finished += std::chrono::nanoseconds(123'456'789);
  report.timings[Phase::etcd].started += std::chrono::nanoseconds(999'999'999);
  report.timings[Phase::etcd].finished += std::chrono::nanoseconds(1);
  report.timings[Phase::dns] = {report.meta.started + std::chrono::milliseconds(40'500),
                                report.meta.started + std::chrono::milliseconds(41'499)};
  const std::string first = render_json(report);
  const Json parsed = Json::parse(first);
  ASSERT_NE(parsed.at("meta").at("duration_seconds").get<double>(), 90.0);  // really fractional
  EXPECT_EQ(render_json(read_back(first)), first);
}

TEST(ReportReader, ARealRunsReportRoundTripsExactly) {
  const std::string stored = real_run_json();
  ASSERT_FALSE(stored.empty());
  const std::string first = render_json(read_back(stored));
  // The fixture is stored without indentation: the same document, as this build writes it.
  const std::string expected = Json::parse(stored).dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  // EXPECT_TRUE, not EXPECT_EQ: gtest's line diff of two multi-megabyte documents runs for minutes.
  EXPECT_TRUE(first == expected)
      << "the report read back renders differently (first difference at byte "
      << std::distance(first.begin(),
                       std::mismatch(first.begin(), first.end(), expected.begin(), expected.end()).first)
      << ")";
  if (first != expected) {
    std::ofstream("/tmp/kp-rr-first.json") << first;
    std::ofstream("/tmp/kp-rr-expected.json") << expected;
  }
  EXPECT_EQ(render_json(read_back(first)), first);
}

// A real soak's, with a load profile (tests/fixtures/report/README.md): its soak block, the hours' load
// factors and the profile's changes read back exactly, as `--resume` needs them.
TEST(ReportReader, ARealSoaksReportRoundTripsExactly) {
  const std::string stored = real_run_json("soak-local.report.json.gz");
  ASSERT_FALSE(stored.empty());
  const RunReport read = read_back(stored);
  ASSERT_TRUE(read.soak.has_value());
  EXPECT_FALSE(read.soak->load_profile.empty());
  EXPECT_GE(read.soak->factors.size(), 2U);
  const std::string expected = Json::parse(stored).dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  EXPECT_TRUE(render_json(read) == expected) << "the soak's report read back renders differently";
}

TEST(ReportReader, MarkdownAndJUnitFromTheFileEqualThoseOfTheRun) {
  const RunReport report = fixture_report();
  const RunReport read = read_back(render_json(report));
  EXPECT_EQ(render_markdown(read), render_markdown(report));
  EXPECT_EQ(render_junit(read), render_junit(report));
}

TEST(ReportReader, KeepsHistogramsExactly) {
  const RunReport read = read_back(render_json(fixture_report()));
  const Measurement* write = nullptr;
  for (const eval::PhaseInput& input : read.inputs) {
    for (const Measurement& measurement : input.measurements) {
      if (measurement.metric == "etcd.write.p99") {
        write = &measurement;
      }
    }
  }
  ASSERT_NE(write, nullptr);
  ASSERT_TRUE(write->histogram.has_value());
  EXPECT_TRUE(*write->histogram == testing::fixture_histogram());
  EXPECT_DOUBLE_EQ(write->value, 0.012);
}

TEST(ReportReader, AFieldOfTheWrongKindIsOneLineNamingFileAndField) {
  Json document = Json::parse(render_json(fixture_report()));
  document["phases"][0]["rows"][1]["verdict"] = "GOOD";
  Result<RunReport> read = read_report(document, "results/x/report.json");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().kind, ErrorKind::input);
  EXPECT_EQ(read.error().message,
            "results/x/report.json: phases[0].rows[1].verdict: unknown verdict \"GOOD\"");

  document = Json::parse(render_json(fixture_report()));
  document["meta"].erase("target");
  read = read_report(document, "r.json");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().message, "r.json: meta.target: missing");

  document = Json::parse(render_json(fixture_report()));
  document["phases"][0]["started"] = "yesterday";
  read = read_report(document, "r.json");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().message,
            "r.json: phases[0].started: not a UTC time like 2026-11-27T23:05:12Z, got \"yesterday\"");

  document = Json::parse(render_json(fixture_report()));
  document["phases"][0]["histograms"]["etcd.write.p99"]["data"]["buckets"] = "none";
  read = read_report(document, "r.json");
  ASSERT_FALSE(read.has_value());
  EXPECT_TRUE(read.error().message.starts_with("r.json: phases[0].histograms.etcd.write.p99.data: "))
      << read.error().message;
}

// Times and durations beyond WallTime's nanoseconds were converted unchecked (undefined behaviour).
TEST(ReportReader, TimesAndDurationsAWallTimeCannotHoldAreOneLineNamingTheField) {
  const auto error_of = [](const Json& document) {
    Result<RunReport> read = read_report(document, "r.json");
    return read ? std::string("read") : read.error().message;
  };
  Json document = Json::parse(render_json(fixture_report()));
  document["phases"][0]["started"] = "2263-01-01T00:00:00Z";
  EXPECT_EQ(error_of(document),
            "r.json: phases[0].started: must be between 1677-09-22T00:00:00Z and 2262-04-11T00:00:00Z, got "
            "\"2263-01-01T00:00:00Z\"");
  document = Json::parse(render_json(fixture_report()));
  document["meta"]["finished"] = "-999-01-01T00:00:00Z";
  EXPECT_EQ(error_of(document),
            "r.json: meta.finished: must be between 1677-09-22T00:00:00Z and 2262-04-11T00:00:00Z, got "
            "\"-999-01-01T00:00:00Z\"");
  // The latest time it holds still reads.
  document = Json::parse(render_json(fixture_report()));
  document["meta"]["started"] = "2262-04-10T23:58:30Z";
  document["meta"]["finished"] = "2262-04-11T00:00:00Z";
  EXPECT_EQ(error_of(document), "read");

  document = Json::parse(render_json(fixture_report()));
  document["phases"][0]["duration_seconds"] = 1e300;
  EXPECT_EQ(error_of(document),
            "r.json: phases[0].duration_seconds: must be between -9.2e9 and 9.2e9 seconds, "
            "got 1e+300");
  document["phases"][0]["duration_seconds"] = 5e9;  // started + 5e9 s is past 2262
  EXPECT_EQ(error_of(document),
            "r.json: phases[0].duration_seconds: must be the time from started to finished (30 s), got "
            "5000000000.0");
  document["phases"][0]["duration_seconds"] = 29.5;
  EXPECT_EQ(error_of(document), "read");

  RunReport report = fixture_report();
  load::StepRecord step;
  step.duration = std::chrono::seconds(10);
  load::StressResult search;
  search.series = "queries";
  search.steps = {step};
  report.inputs.front().stress = {search};
  report.evaluation = eval::evaluate(report.inputs, testing::fixture_rows(), {});
  document = Json::parse(render_json(report));
  const auto with_stress =
      std::ranges::find_if(document["phases"], [](const Json& phase) { return !phase["stress"].empty(); });
  ASSERT_NE(with_stress, document["phases"].end());
  const std::string at_step = fmt::format("r.json: phases[{}].stress[0].steps[0].duration",
                                          std::distance(document["phases"].begin(), with_stress));
  Json& duration = (*with_stress)["stress"][0]["steps"][0]["duration"];
  ASSERT_EQ(duration, 10.0);
  duration = 1e20;
  EXPECT_EQ(error_of(document), at_step + ": must be between 0 and 9.2e9 seconds, got 1e+20");
  duration = -1.5;
  EXPECT_EQ(error_of(document), at_step + ": must be between 0 and 9.2e9 seconds, got -1.5");
}

TEST(ReportReader, LoadsAFolderOrAFileAndRefusesAnotherVersion) {
  testing::TempDir dir;
  const std::string text = render_json(fixture_report());
  testing::write_file(dir.path() / "report.json", text);
  Result<RunReport> from_folder = load_report(dir.path());
  ASSERT_TRUE(from_folder.has_value()) << from_folder.error().message;
  EXPECT_EQ(render_json(*from_folder), text);
  EXPECT_TRUE(load_report(dir.path() / "report.json").has_value());

  Json old = Json::parse(text);
  old["schema_version"] = 2;
  testing::write_file(dir.path() / "report.json", old.dump());
  Result<RunReport> refused = load_report(dir.path());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::input);
  EXPECT_NE(refused.error().message.find("schema_version: this kubeproof reads version 4, got 2"),
            std::string::npos);
}

}  // namespace
}  // namespace kp::report
