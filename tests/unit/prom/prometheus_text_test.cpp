#include "prom/prometheus_text.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

namespace kp::prom {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(KP_SOURCE_DIR) + "/tests/fixtures/etcd/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string parse_error(std::string_view page) {
  Result<Exposition> result = parse_text(page);
  return result ? std::string("parsed") : result.error().message;
}

// --- a real page: etcd 3.4.23 /metrics captured after the anchor runs (anchor-baselines/raw/etcd) ---

TEST(PrometheusText, ParsesCapturedEtcdPage) {
  Result<Exposition> page = parse_text(read_fixture("metrics_after_runs.txt"));
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->families.size(), 124u);
  std::size_t samples = 0;
  for (const Family& family : page->families) {
    samples += family.samples.size();
  }
  EXPECT_EQ(samples, 1822u);

  const Family* fsync = page->find("etcd_disk_wal_fsync_duration_seconds");
  ASSERT_NE(fsync, nullptr);
  EXPECT_EQ(fsync->type, MetricType::histogram);
  EXPECT_EQ(fsync->help, "The latency distributions of fsync called by WAL.");
  EXPECT_EQ(fsync->samples.size(), 17u);  // 15 buckets, _sum, _count

  EXPECT_EQ(*scalar(*page, "etcd_server_has_leader"), 1.0);
  EXPECT_EQ(*scalar(*page, "etcd_server_leader_changes_seen_total"), 1.0);
  EXPECT_EQ(*scalar(*page, "etcd_mvcc_put_total"), 118203.0);
  EXPECT_EQ(*scalar(*page, "grpc_server_handled_total", {{"grpc_method", "Put"}, {"grpc_code", "OK"}}),
            117995.0);
  EXPECT_EQ(page->find("etcd_cluster_version")->samples[0].label("cluster_version"), "3.4");
}

TEST(PrometheusText, FsyncP99OfCapturedPageMatchesHandComputation) {
  Result<Exposition> page = parse_text(read_fixture("metrics_after_runs.txt"));
  ASSERT_TRUE(page);
  Result<HistogramSnapshot> fsync = histogram(*page, "etcd_disk_wal_fsync_duration_seconds");
  ASSERT_TRUE(fsync) << fsync.error().message;
  ASSERT_EQ(fsync->buckets.size(), 15u);
  EXPECT_EQ(fsync->count, 20942.0);
  EXPECT_NEAR(fsync->sum, 12.844920535000009, 1e-12);
  // rank = 0.99 * 20942 = 20732.58, in (0.004, 0.008] holding 20856 - 20384 = 472:
  // 0.004 + 0.004 * (20732.58 - 20384) / 472 = 0.0069540508...
  EXPECT_NEAR(histogram_quantile(0.99, fsync->buckets), 0.004 + 0.004 * (20732.58 - 20384) / 472, 1e-12);

  Result<HistogramSnapshot> commit = histogram(*page, "etcd_disk_backend_commit_duration_seconds");
  ASSERT_TRUE(commit);
  // rank = 0.99 * 1324 = 1310.76, in (0.008, 0.016] holding 1311 - 1297 = 14.
  EXPECT_NEAR(histogram_quantile(0.99, commit->buckets), 0.008 + 0.008 * (1310.76 - 1297) / 14, 1e-12);
}

TEST(PrometheusText, DifferenceOfTwoScrapes) {
  std::string before =
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 4\nh_bucket{le=\"+Inf\"} 5\nh_sum "
      "7\nh_count 5\n";
  std::string after =
      "# TYPE h histogram\nh_bucket{le=\"1\"} 12\nh_bucket{le=\"2\"} 24\nh_bucket{le=\"+Inf\"} 25\nh_sum 37\n"
      "h_count 25\n";
  Result<HistogramSnapshot> first = histogram(*parse_text(before), "h");
  Result<HistogramSnapshot> last = histogram(*parse_text(after), "h");
  Result<HistogramSnapshot> delta = difference(*last, *first);
  ASSERT_TRUE(delta);
  EXPECT_EQ(delta->buckets, (std::vector<Bucket>{{1, 10}, {2, 20}, {kInf, 20}}));
  EXPECT_EQ(delta->count, 20.0);
  EXPECT_EQ(delta->sum, 30.0);
  Result<HistogramSnapshot> reset = difference(*first, *last);
  ASSERT_FALSE(reset);
  EXPECT_EQ(reset.error().message,
            "histogram counts went down between scrapes (le 1: 12 then 2); did the server restart?");
}

TEST(PrometheusText, SumsSeriesThatMatch) {
  std::string page =
      "# TYPE c counter\nc{m=\"a\",code=\"OK\"} 1\nc{m=\"a\",code=\"X\"} 2\nc{m=\"b\",code=\"OK\"} 4\n";
  Result<Exposition> parsed = parse_text(page);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*scalar(*parsed, "c"), 7.0);
  EXPECT_EQ(*scalar(*parsed, "c", {{"m", "a"}}), 3.0);
  EXPECT_EQ(*scalar(*parsed, "c", {{"code", "OK"}}), 5.0);
  EXPECT_EQ(scalar(*parsed, "c", {{"m", "z"}}).error().message, "no metric \"c{m=\"z\"}\" on the page");
  EXPECT_EQ(scalar(*parsed, "nope").error().message, "no metric \"nope\" on the page");
}

TEST(PrometheusText, LabelEscapesTimestampsAndSpecialValues) {
  Result<Exposition> page = parse_text(
      "x{a=\"q\\\"uote\\\\back\\nnl\",} +Inf 1700000000000\n"
      "y -Inf\n"
      "z NaN\n"
      "  w 1.5e3  \n"
      "# a plain comment\n"
      "\n");
  ASSERT_TRUE(page) << page.error().message;
  const Sample& x = page->find("x")->samples[0];
  EXPECT_EQ(x.label("a"), "q\"uote\\back\nnl");
  EXPECT_TRUE(std::isinf(x.value) && x.value > 0);
  EXPECT_EQ(x.timestamp_ms, 1700000000000);
  EXPECT_TRUE(std::isinf(page->find("y")->samples[0].value));
  EXPECT_TRUE(std::isnan(page->find("z")->samples[0].value));
  EXPECT_EQ(page->find("w")->samples[0].value, 1500.0);
  EXPECT_EQ(page->find("w")->type, MetricType::untyped);
}

// --- malformed pages: the exact message, naming the line and echoing the text ---

TEST(PrometheusText, MalformedPages) {
  EXPECT_EQ(parse_error("ok 1\netcd_server_has_leader abc\n"),
            "line 2: bad sample value \"abc\" for \"etcd_server_has_leader\"");
  EXPECT_EQ(parse_error("foo{bar=\"x\" 1\n"), "line 1: unterminated label set in \"foo{bar=\"x\" 1\"");
  EXPECT_EQ(parse_error("foo{bar=\"x} 1\n"),
            "line 1: unterminated value of label \"bar\" in \"foo{bar=\"x} 1\"");
  EXPECT_EQ(parse_error("foo{bar} 1\n"), "line 1: expected '=' after label \"bar\" in \"foo{bar} 1\"");
  EXPECT_EQ(parse_error("foo{bar=x} 1\n"),
            "line 1: expected a quoted value for label \"bar\" in \"foo{bar=x} 1\"");
  EXPECT_EQ(parse_error("foo{a=\"1\",a=\"2\"} 1\n"),
            "line 1: duplicate label \"a\" in \"foo{a=\"1\",a=\"2\"} 1\"");
  EXPECT_EQ(parse_error("foo{a=\"\\x\"} 1\n"),
            "line 1: bad escape \"\\x\" in label \"a\" of \"foo{a=\"\\x\"} 1\"");
  EXPECT_EQ(parse_error("{a=\"b\"} 1\n"), "line 1: expected a metric name, got \"{a=\"b\"} 1\"");
  EXPECT_EQ(parse_error("foo\n"), "line 1: missing value for \"foo\"");
  EXPECT_EQ(parse_error("foo 1 soon\n"), "line 1: bad timestamp \"soon\" for \"foo\"");
  EXPECT_EQ(parse_error("foo 1 2 3\n"), "line 1: unexpected \"3\" after the sample of \"foo\"");
  EXPECT_EQ(parse_error("# TYPE foo flux\n"), "line 1: unknown metric type \"flux\" for \"foo\"");
  EXPECT_EQ(parse_error("# TYPE foo counter\n# TYPE foo gauge\n"), "line 2: second TYPE line for \"foo\"");
  EXPECT_EQ(parse_error("foo 1\n# TYPE foo counter\n"), "line 2: TYPE line for \"foo\" after its samples");
  EXPECT_EQ(parse_error("# HELP\n"), "line 1: HELP without a metric name: \"# HELP\"");
  EXPECT_EQ(parse_error("<html>\n"), "line 1: expected a metric name, got \"<html>\"");
}

TEST(PrometheusText, HistogramExtractionErrors) {
  Result<Exposition> no_inf = parse_text("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n");
  ASSERT_TRUE(no_inf);
  EXPECT_EQ(histogram(*no_inf, "h").error().message, "histogram \"h\" has no +Inf bucket");
  Result<Exposition> no_le = parse_text("# TYPE h histogram\nh_bucket 1\n");
  EXPECT_EQ(histogram(*no_le, "h").error().message, "histogram \"h\" has a bucket without an \"le\" label");
  Result<Exposition> bad_le = parse_text("# TYPE h histogram\nh_bucket{le=\"big\"} 1\n");
  EXPECT_EQ(histogram(*bad_le, "h").error().message,
            "histogram \"h\" has a bucket with a bad \"le\" value \"big\"");
  Result<Exposition> gauge = parse_text("# TYPE g gauge\ng 1\n");
  EXPECT_EQ(histogram(*gauge, "g").error().message, "\"g\" is a gauge, not a histogram");
}

// --- histogram_quantile, hand-computed like PromQL ---

TEST(HistogramQuantile, InterpolatesLinearlyWithinTheBucket) {
  std::vector<Bucket> buckets = {{1, 10}, {2, 20}, {kInf, 20}};
  EXPECT_DOUBLE_EQ(histogram_quantile(0.5, buckets), 1.0);   // rank 10: the top of the first bucket
  EXPECT_DOUBLE_EQ(histogram_quantile(0.25, buckets), 0.5);  // rank 5: half of (0, 1]
  EXPECT_DOUBLE_EQ(histogram_quantile(0.75, buckets), 1.5);  // rank 15: 1 + (15-10)/10
  EXPECT_DOUBLE_EQ(histogram_quantile(1.0, buckets), 2.0);   // rank 20
  EXPECT_DOUBLE_EQ(histogram_quantile(0.0, buckets), 0.0);   // rank 0 in the first bucket
}

TEST(HistogramQuantile, RankInTheInfBucketReturnsTheHighestFiniteBound) {
  std::vector<Bucket> buckets = {{1, 10}, {2, 20}, {kInf, 30}};
  EXPECT_DOUBLE_EQ(histogram_quantile(0.9, buckets), 2.0);  // rank 27 > 20
  EXPECT_DOUBLE_EQ(histogram_quantile(0.6, buckets), 1.8);  // rank 18: 1 + 8/10
}

TEST(HistogramQuantile, EdgeCasesAsPromQL) {
  std::vector<Bucket> buckets = {{1, 10}, {kInf, 10}};
  EXPECT_EQ(histogram_quantile(-0.1, buckets), -kInf);
  EXPECT_EQ(histogram_quantile(1.1, buckets), kInf);
  EXPECT_TRUE(std::isnan(histogram_quantile(std::nan(""), buckets)));
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, {{1, 10}, {2, 10}})));   // no +Inf bucket
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, {{kInf, 10}})));         // fewer than two buckets
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, {{1, 0}, {kInf, 0}})));  // no observations
  EXPECT_DOUBLE_EQ(histogram_quantile(0.5, {{kInf, 10}, {2, 10}, {1, 4}}),
                   1.0 + 1.0 * (5 - 4) / 6);  // unsorted
  EXPECT_DOUBLE_EQ(histogram_quantile(0.5, {{1, 10}, {2, 8}, {kInf, 10}}),
                   0.5);  // non-monotonic -> running max
  EXPECT_DOUBLE_EQ(histogram_quantile(0.2, {{-1, 5}, {1, 10}, {kInf, 10}}), -1.0);  // first bound <= 0
  EXPECT_DOUBLE_EQ(histogram_quantile(0.5, {{1, 2}, {1, 3}, {2, 10}, {kInf, 10}}),
                   1.0);  // equal bounds merged:
                          // {1:5},{2:10}
}

}  // namespace
}  // namespace kp::prom
