// Issue 17: the per-second series in report.json, report.html from it, and `kubeproof report`'s reading of a
// results folder.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "report/report_file.hpp"
#include "report/report_reader.hpp"
#include "report/run_report.hpp"
#include "report/timeline.hpp"
#include "report_fixture.hpp"

namespace kp::report {
namespace {

using nlohmann::json;
using testing::fixture_report;
using ::testing::HasSubstr;
using ::testing::Not;

LiveDelta delta(Phase phase, std::string_view series, std::uint64_t ok, std::uint64_t errors,
                std::size_t bucket) {
  LiveDelta d;
  d.phase = phase;
  d.series = series;
  d.ok = ok;
  d.errors = errors;
  d.buckets[bucket] = ok;
  return d;
}

TEST(LivePercentile, InterpolatesWithinTheBucketHoldingTheRank) {
  std::array<std::uint64_t, kLiveBuckets> buckets{};
  EXPECT_FALSE(live_percentile(buckets, 50).has_value());
  buckets[3] = 100;  // (0.5 ms, 1 ms]
  EXPECT_NEAR(*live_percentile(buckets, 50), 0.00075, 1e-12);
  EXPECT_NEAR(*live_percentile(buckets, 99), 0.000995, 1e-12);
  buckets[kLiveBuckets - 1] = 100;  // +Inf: its lower bound, 60 s
  EXPECT_DOUBLE_EQ(*live_percentile(buckets, 99), 60.0);
}

TEST(Timeline, CountsEachHandOverInTheSecondOfThePhaseItArrives) {
  FakeClock clock;
  Timeline timeline(clock);
  timeline.phase_started(Phase::dns);
  timeline.add(delta(Phase::dns, "query", 900, 2, 3));
  clock.advance(std::chrono::milliseconds(2500));
  timeline.add(delta(Phase::dns, "query", 1000, 0, 4));
  const auto series = timeline.series();
  ASSERT_EQ(series.count(Phase::dns), 1u);
  const SeriesTimeline& query = series.at(Phase::dns).at(0);
  EXPECT_EQ(query.series, "query");
  ASSERT_EQ(query.points.size(), 3u);  // seconds 0, 1 (nothing) and 2
  EXPECT_DOUBLE_EQ(query.points[0].achieved, 900);
  EXPECT_EQ(query.points[0].errors, 2u);
  EXPECT_DOUBLE_EQ(query.points[1].achieved, 0);
  EXPECT_FALSE(query.points[1].p99.has_value());
  EXPECT_DOUBLE_EQ(query.points[2].achieved, 1000);
  EXPECT_GT(*query.points[2].p50, 0.001);  // bucket (1 ms, 2.5 ms]
}

TEST(Timeline, ProgressForwardsToPeopleAndRecords) {
  struct Quiet final : engine::ProgressSink {
    int messages = 0;
    void message(Phase, std::string_view) override { ++messages; }
  } quiet;
  FakeClock clock;
  Timeline timeline(clock);
  TimelineProgress progress(quiet, timeline);
  progress.message(Phase::etcd, "hello");
  ASSERT_NE(progress.live_sink(), nullptr);  // live counts are recorded even without --metrics-listen
  progress.live_sink()->add(delta(Phase::etcd, "put", 5, 0, 2));
  EXPECT_EQ(quiet.messages, 1);
  EXPECT_EQ(timeline.series().at(Phase::etcd).at(0).points.at(0).achieved, 5);
  // A finished series (network, storage) reaches the timeline through the same sink.
  FinishedSeries fio;
  fio.phase = Phase::storage;
  fio.series = "randread-4k";
  fio.seconds.push_back(
      FinishedSecond{.completions = 1200.0, .errors = 0, .p50 = {}, .p99 = {}, .bits_per_second = {}});
  hand_over_series(progress.live_sink(), fio);
  EXPECT_EQ(timeline.series().at(Phase::storage).at(0).points.at(0).achieved, 1200);
}

// A generator that reports at its end (a network agent, fio): its seconds are placed back from the hand-over.
TEST(Timeline, PlacesAFinishedSeriesSoItsLastSecondEndsAtTheHandOver) {
  FakeClock clock;
  Timeline timeline(clock);
  timeline.phase_started(Phase::network);
  clock.advance(std::chrono::seconds(10));
  FinishedSeries rr;
  rr.phase = Phase::network;
  rr.series = "TCP_RR net.pod_to_pod.latency.p99";
  rr.offered = 500.0;
  for (int i = 0; i < 3; ++i) {
    FinishedSecond second;
    second.completions = 490.0 + i;
    second.p50 = 0.0001;
    second.p99 = 0.0004 + i * 0.0001;
    rr.seconds.push_back(second);
  }
  hand_over_series(&timeline, rr);
  FinishedSeries stream;
  stream.phase = Phase::network;
  stream.series = "TCP_STREAM net.pod_to_pod.throughput";
  stream.ended_before = std::chrono::seconds(4);  // e.g. fio's job that finished before fio did
  stream.seconds = {
      FinishedSecond{.completions = {}, .errors = 0, .p50 = {}, .p99 = {}, .bits_per_second = 9e9},
      FinishedSecond{.completions = {}, .errors = 0, .p50 = {}, .p99 = {}, .bits_per_second = 8e9}};
  hand_over_series(&timeline, stream);

  const auto series = timeline.series();
  ASSERT_EQ(series.at(Phase::network).size(), 1u);  // the stream counts no completions
  const SeriesTimeline& got = series.at(Phase::network).at(0);
  EXPECT_EQ(got.series, rr.series);
  ASSERT_EQ(got.points.size(), 10u);  // seconds 0..6 are empty, 7..9 the test's
  EXPECT_DOUBLE_EQ(got.points[6].achieved, 0);
  EXPECT_FALSE(got.points[6].p99.has_value());
  EXPECT_DOUBLE_EQ(got.points[7].achieved, 490);
  EXPECT_DOUBLE_EQ(*got.points[9].p99, 0.0006);

  const auto throughput = timeline.throughput_series();
  ASSERT_EQ(throughput.at(Phase::network).size(), 1u);
  const ThroughputTimeline& bits = throughput.at(Phase::network).at(0);
  ASSERT_EQ(bits.points.size(), 6u);  // ended 4 s before the hand-over at 10 s: seconds 4 and 5
  EXPECT_DOUBLE_EQ(bits.points[4].bits_per_second, 9e9);
  EXPECT_DOUBLE_EQ(bits.points[5].bits_per_second, 8e9);
  EXPECT_DOUBLE_EQ(bits.points[3].bits_per_second, 0);

  // The open-loop test's rate over its seconds, nothing offered around them.
  const std::vector<OfferedPoint> offered = timeline.offered_series().at(Phase::network);
  ASSERT_EQ(offered.size(), 11u);
  EXPECT_FALSE(offered[6].offered.has_value());
  EXPECT_DOUBLE_EQ(*offered[7].offered, 500);
  EXPECT_DOUBLE_EQ(*offered[9].offered, 500);
  EXPECT_FALSE(offered[10].offered.has_value());

  // A second series of the same name in the same seconds: counts add, percentiles cannot be merged.
  hand_over_series(&timeline, rr);
  const SeriesTimeline twice = timeline.series().at(Phase::network).at(0);
  EXPECT_DOUBLE_EQ(twice.points[7].achieved, 980);
  EXPECT_FALSE(twice.points[7].p99.has_value());
}

TEST(JsonReport, CarriesTheTimeSeriesPerPhaseAndSeries) {
  RunReport report = fixture_report();
  SeriesTimeline query{"query", {TimelinePoint{0, 950, 1, 0.002, 0.004}, TimelinePoint{1, 1000, 0, {}, {}}}};
  report.timelines[Phase::dns] = {query};
  const json parsed = json::parse(render_json(report));
  for (const json& phase : parsed.at("phases")) {
    ASSERT_TRUE(phase.contains("timeseries")) << phase.at("phase");
    if (phase.at("phase") != "dns") {
      EXPECT_TRUE(phase.at("timeseries").at("series").empty());
      continue;
    }
    const json& series = phase.at("timeseries").at("series");
    ASSERT_EQ(series.size(), 1u);
    EXPECT_EQ(series[0].at("series"), "query");
    EXPECT_EQ(series[0].at("points")[0],
              json::parse(R"({"second":0,"achieved":950.0,"errors":1,"p50":0.002,"p99":0.004})"));
    EXPECT_TRUE(series[0].at("points")[1].at("p99").is_null());
  }
}

TEST(JsonReport, CarriesThroughputOnlyWhereThereIsSome) {
  RunReport report = fixture_report();
  report.throughput_timelines[Phase::network] = {ThroughputTimeline{
      "TCP_STREAM net.pod_to_pod.throughput", {ThroughputPoint{0, 0}, ThroughputPoint{1, 9.4e9}}}};
  const std::string text = render_json(report);
  const json parsed = json::parse(text);
  for (const json& phase : parsed.at("phases")) {
    if (phase.at("phase") != "network") {
      EXPECT_FALSE(phase.at("timeseries").contains("throughput")) << phase.at("phase");
      continue;
    }
    EXPECT_EQ(phase.at("timeseries").at("throughput"),
              json::parse(R"([{"series":"TCP_STREAM net.pod_to_pod.throughput",
                               "points":[{"second":0,"bits_per_second":0.0},{"second":1,"bits_per_second":9.4e9}]}])"));
  }
  Result<RunReport> read = read_report(nlohmann::ordered_json::parse(text), "report.json");
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(render_json(*read), text);
}

TEST(HtmlReport, EscapesHostileStringsAndInlinesChartJs) {
  RunReport report = fixture_report();
  const std::string hostile = "</script><img src=x onerror=alert(1)>";
  report.meta.plan_name = hostile;
  report.evaluation.overall_reason = hostile;
  const std::string html = render_html(report);
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, HasSubstr("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));  // title and header
  EXPECT_THAT(html, HasSubstr("\\u003c/script\\u003e\\u003cimg"));                    // the data model
  EXPECT_THAT(html, HasSubstr("Chart.js v3"));                                        // inlined, no URL
  EXPECT_THAT(html, Not(HasSubstr("src=\"http")));
  // Exactly our three scripts end: the data, Chart.js and the page's.
  std::size_t ends = 0;
  for (std::size_t at = html.find("</script>"); at != std::string::npos;
       at = html.find("</script>", at + 1)) {
    ++ends;
  }
  EXPECT_EQ(ends, 3u);
}

TEST(HtmlReport, CopiesAHandEditedSecondOrErrorCountThroughWithoutConvertingIt) {
  // `kubeproof report --format html` renders report.json as found: a float where the writer puts an integer
  // was converted with get<int>(), undefined behaviour for 1e300.
  const auto report = nlohmann::ordered_json::parse(R"({"phases":[{"timeseries":{
      "series":[{"series":"query","points":[{"second":1e300,"achieved":1,"errors":-1.5}]}],
      "offered_points":[{"second":-1e300,"offered":5}],
      "throughput":[{"series":"t","points":[{"second":2.5,"bits_per_second":1e6}]}]}}]})");
  const std::string html = render_html(report);
  EXPECT_THAT(html, HasSubstr(R"({"x":1e+300,"y":-1.5})"));
  EXPECT_THAT(html, HasSubstr(R"({"x":-1e+300,"y":5})"));
  EXPECT_THAT(html, HasSubstr(R"({"x":2.5,"y":1.0})"));
  EXPECT_THAT(html, Not(HasSubstr("-2147483648")));
}

TEST(HtmlReport, EscapesMalformedUtf8AndControlBytesAsJUnitDoes) {
  // One escaper serves HTML and XML: a service's stray bytes become U+FFFD or vanish in both.
  EXPECT_EQ(html_escape("a\xff'b\x01\n"), "a\xef\xbf\xbd&#39;b&#10;");
}

class ReportFile : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("kp-report-file-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(folder_);
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }
  std::filesystem::path folder_;
};

TEST_F(ReportFile, ReadsTheReportOfItsOwnSchemaVersion) {
  testing::write_file(folder_ / "report.json", render_json(fixture_report()));
  Result<nlohmann::ordered_json> read = load_report_json(folder_);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->at("schema_version"), kReportSchemaVersion);
  EXPECT_TRUE(load_report_json(folder_ / "report.json"));
}

TEST_F(ReportFile, AFolderWithoutReportJsonIsAnInputError) {
  Result<nlohmann::ordered_json> read = load_report_json(folder_);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind, ErrorKind::input);
  EXPECT_EQ(read.error().message, folder_.string() + ": no report.json in this folder");
}

TEST_F(ReportFile, AnotherSchemaVersionIsNamedWithItsValue) {
  json old = json::parse(render_json(fixture_report()));
  old["schema_version"] = 2;
  testing::write_file(folder_ / "report.json", old.dump());
  Result<nlohmann::ordered_json> read = load_report_json(folder_);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind, ErrorKind::input);
  EXPECT_EQ(read.error().message,
            (folder_ / "report.json").string() + ": schema_version: this kubeproof reads version 4, got 2");
}

TEST_F(ReportFile, MalformedOrForeignJsonIsAnInputError) {
  testing::write_file(folder_ / "report.json", "{\"schema\": ");
  EXPECT_EQ(load_report_json(folder_).error().message,
            (folder_ / "report.json").string() + ": not valid JSON");
  testing::write_file(folder_ / "report.json", R"({"schema": "other"})");
  EXPECT_EQ(load_report_json(folder_).error().message,
            (folder_ / "report.json").string() + ": schema: must be \"kubeproof.report\", got \"other\"");
}

}  // namespace
}  // namespace kp::report

namespace kp::report {
namespace {

// Issue 17 item 6: a smoke run's capacity row reads "not judged in a smoke test" in report.json, with what
// was offered and achieved, and the verdict line says capacity was not judged.
TEST(JsonReport, ASmokeRunsCapacityRowIsNotJudged) {
  RunReport report = testing::fixture_report();
  for (eval::PhaseEvaluation& phase : report.evaluation.phases) {
    for (eval::RowResult& row : phase.rows) {
      if (row.row.metric == "dns.qps") {
        row.verdict = eval::Verdict::not_judged;
        row.reason = std::string(eval::kNotJudgedInSmoke);
        row.measured = 998;
        row.offered = 1000;
      }
    }
  }
  report.evaluation.not_judged = {"dns.qps"};
  report.evaluation.overall = eval::Verdict::pass;
  const nlohmann::json parsed = nlohmann::json::parse(render_json(report));
  EXPECT_EQ(parsed.at("overall").at("verdict_text"), "PASS (smoke: capacity not judged)");
  EXPECT_EQ(parsed.at("overall").at("not_judged"), nlohmann::json::array({"dns.qps"}));
  bool found = false;
  for (const nlohmann::json& phase : parsed.at("phases")) {
    for (const nlohmann::json& row : phase.at("rows")) {
      if (row.at("metric") == "dns.qps") {
        found = true;
        EXPECT_EQ(row.at("verdict"), "NOT JUDGED");
        EXPECT_EQ(row.at("reason"), "not judged in a smoke test");
        EXPECT_EQ(row.at("measured"), 998.0);
        EXPECT_EQ(row.at("offered"), 1000.0);
      }
    }
  }
  EXPECT_TRUE(found) << "the fixture has a dns.qps row";
  EXPECT_NE(render_console(report, {}).find("Overall: PASS (smoke: capacity not judged) (exit 0)"),
            std::string::npos);
}

}  // namespace
}  // namespace kp::report
