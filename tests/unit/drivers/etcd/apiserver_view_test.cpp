// The API server's view of etcd (etcd_request_duration_seconds from kube-apiserver's /metrics), read from a
// page laid out as kube-apiserver writes it (its buckets 5ms..60s, operation and type labels, other families
// around it): the quantiles are PromQL's histogram_quantile over the cumulative buckets.

#include "drivers/etcd/apiserver_view.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace kp::drivers::etcd {
namespace {

prom::Exposition page_of(const std::string& text) {
  Result<prom::Exposition> page = prom::parse_text(text);
  EXPECT_TRUE(page) << (page ? "" : page.error().message);
  return page.value_or(prom::Exposition{});
}

std::string capture() {
  std::ifstream in(std::string(KP_SOURCE_DIR) + "/tests/fixtures/etcd/apiserver-etcd-request-duration.txt");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ApiserverView, PerOperationAndTypeBusiestFirst) {
  Result<ApiserverEtcdView> view = apiserver_etcd_view(page_of(capture()));
  ASSERT_TRUE(view) << view.error().message;
  // 1000 gets of pods, 100 lists of configmaps, 10 creates of events.
  EXPECT_DOUBLE_EQ(view->all.count, 1110);
  // Rank 0.99 x 1110 = 1098.9 falls in (25ms, 50ms], which holds cumulative 1060..1110.
  EXPECT_NEAR(view->all.p99, 0.025 + (1098.9 - 1060) / 50 * 0.025, 1e-12);
  ASSERT_EQ(view->series.size(), 3U);
  EXPECT_EQ(view->series[0].operation, "get");
  EXPECT_EQ(view->series[0].type, "/registry/pods");
  EXPECT_DOUBLE_EQ(view->series[0].count, 1000);
  EXPECT_NEAR(view->series[0].p99, 0.005, 1e-12);  // rank 990: the top of the first bucket
  EXPECT_NEAR(view->series[0].p50, 0.005 * 500 / 990, 1e-12);
  EXPECT_EQ(view->series[1].type, "/registry/configmaps");
  EXPECT_NEAR(view->series[1].p99, 0.025 + 49.0 / 50 * 0.025, 1e-12);
  EXPECT_EQ(view->series[2].operation, "create");

  const std::vector<std::string> notes = apiserver_etcd_notes(*view, 2);
  ASSERT_EQ(notes.size(), 4U);
  EXPECT_NE(notes[0].find("informational, not judged"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("1110 requests"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("get /registry/pods: 1000 requests"), std::string::npos) << notes[1];
  EXPECT_NE(notes[3].find("1 more"), std::string::npos) << notes[3];
}

TEST(ApiserverView, AQuantileBeyondWhatADurationHoldsIsWrittenInSeconds) {
  // histogram_quantile returns the top bucket's bound, any finite number a server writes: it was converted
  // to nanoseconds unchecked (undefined behaviour beyond about 292 years).
  ApiserverEtcdView view;
  view.all = {.operation = "*", .type = "*", .count = 3, .p50 = 0.0125, .p99 = 1e12};
  const std::vector<std::string> notes = apiserver_etcd_notes(view, 2);
  ASSERT_EQ(notes.size(), 1U);
  EXPECT_NE(notes[0].find("3 requests, P50 12.50ms, P99 1000000000000.00s"), std::string::npos) << notes[0];
}

TEST(ApiserverView, APageWithoutTheHistogramSaysSo) {
  Result<ApiserverEtcdView> none = apiserver_etcd_view(
      page_of("# TYPE apiserver_request_total counter\napiserver_request_total{code=\"200\"} 3\n"));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "the API server's /metrics has no etcd_request_duration_seconds histogram");
  Result<ApiserverEtcdView> empty = apiserver_etcd_view(page_of(
      "# TYPE etcd_request_duration_seconds histogram\n"
      "etcd_request_duration_seconds_bucket{operation=\"get\",type=\"/registry/pods\",le=\"0.005\"} 0\n"
      "etcd_request_duration_seconds_bucket{operation=\"get\",type=\"/registry/pods\",le=\"+Inf\"} 0\n"
      "etcd_request_duration_seconds_sum{operation=\"get\",type=\"/registry/pods\"} 0\n"
      "etcd_request_duration_seconds_count{operation=\"get\",type=\"/registry/pods\"} 0\n"));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "etcd_request_duration_seconds has no observations");
}

}  // namespace
}  // namespace kp::drivers::etcd
