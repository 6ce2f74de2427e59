// A soak's hour table as people read it: the console's and summary.md's (soak_text), and report.html's table
// and chart model, with the load profile's factor (docs/soak.md).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "report/run_report.hpp"
#include "report/soak_text.hpp"

namespace kp::report {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::ordered_json;
using ::testing::HasSubstr;

SoakHour hour(int index, std::string metric, double p50, double p99, std::vector<double> factors) {
  SoakHour row;
  row.hour = index;
  row.metric = std::move(metric);
  row.count = 100;
  row.p50 = p50;
  row.p99 = p99;
  row.max = p99 * 2;
  row.histogram = "{}";
  row.load_factors = std::move(factors);
  return row;
}

SoakRecord profiled() {
  SoakRecord soak;
  soak.planned = 24h;
  soak.elapsed = 3h;
  soak.checkpoint = 1min;
  soak.rounds = 12;
  soak.etcd_watched = 1h;
  soak.hours = {hour(0, "etcd.write.p99", 0.001, 0.004, {0.2}), hour(0, "dns.p99", 0.0005, 0.002, {0.2}),
                hour(1, "etcd.write.p99", 0.001, 0.005, {0.2, 1.0}),
                hour(2, "etcd.write.p99", 0.001, 0.006, {1.0})};
  soak.load_profile = "steps: 20% from 0s, 100% from 1h30m";
  soak.factors = {{1, 0s, 0.2}, {7, 90min + 2s, 1.0}};
  return soak;
}

// The data model report.html embeds (html_report.cpp), parsed back.
Json page_model(const std::string& html) {
  const std::string open = R"(<script type="application/json" id="kp-data">)";
  const std::size_t from = html.find(open);
  const std::size_t to = html.find("</script>", from);
  EXPECT_NE(from, std::string::npos);
  return Json::parse(html.substr(from + open.size(), to - from - open.size()));
}

TEST(SoakText, TheLoadFactorIsAColumnOnlyWithAProfile) {
  SoakRecord soak = profiled();
  EXPECT_EQ(soak_hour_headers(soak),
            (std::vector<std::string>{"metric", "hour", "count", "P50", "P99", "max", "load factor"}));
  const auto rows = soak_hour_cells(soak);
  ASSERT_EQ(rows.size(), 4U);
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"dns.p99", "0-1h", "100", "500.00us", "2.00ms", "4.00ms", "20%"}));
  EXPECT_EQ(rows[2].at(1), "1-2h");
  EXPECT_EQ(rows[2].at(6), "20%, 100%");
  EXPECT_THAT(soak_summary(soak), HasSubstr("; load profile steps: 20% from 0s, 100% from 1h30m"));

  soak.load_profile.clear();
  soak.factors.clear();
  EXPECT_EQ(soak_hour_headers(soak).size(), 6U);
  EXPECT_EQ(soak_hour_cells(soak)[0].size(), 6U);
  EXPECT_THAT(soak_summary(soak), ::testing::Not(HasSubstr("load profile")));
}

TEST(SoakHtml, HasTheHourTableAndEachMetricsP50AndP99PerHour) {
  RunReport report;
  report.meta.command = "soak";
  report.meta.profile = "soak";
  report.meta.target = "local";
  report.soak = profiled();
  const Json model = page_model(render_html(report));
  const Json& soak = model.at("soak");
  EXPECT_EQ(soak.at("summary"),
            "3h of 24h in 12 rounds; etcd (its leader watch) ran 1h; a checkpoint every 1m");
  EXPECT_EQ(soak.at("load_profile"), "steps: 20% from 0s, 100% from 1h30m");
  // Ordered by metric, then hour: a drift reads down the table.
  ASSERT_EQ(soak.at("rows").size(), 4U);
  EXPECT_EQ(soak.at("rows")[0],
            Json::parse(R"({"metric": "dns.p99", "hour": "0-1h", "count": "100", "p50": "500.00us",
                            "p99": "2.00ms", "max": "4.00ms", "load_factor": "20%"})"));
  EXPECT_EQ(soak.at("rows")[2].at("load_factor"), "20%, 100%");
  // One series per metric, a point per hour, in milliseconds.
  ASSERT_EQ(soak.at("series").size(), 2U);
  const Json& etcd = soak.at("series")[1];
  EXPECT_EQ(etcd.at("metric"), "etcd.write.p99");
  ASSERT_EQ(etcd.at("p99_ms").size(), 3U);
  EXPECT_EQ(etcd.at("p99_ms")[2].at("x"), 2);
  EXPECT_DOUBLE_EQ(etcd.at("p99_ms")[2].at("y").get<double>(), 6.0);
  EXPECT_EQ(etcd.at("p50_ms").size(), 3U);
  // The factor in percent from each change on (in hours of the soak), held to the soak's time so far.
  ASSERT_EQ(soak.at("factors").size(), 3U);
  EXPECT_DOUBLE_EQ(soak.at("factors")[1].at("x").get<double>(), (5400.0 + 2.0) / 3600.0);
  EXPECT_DOUBLE_EQ(soak.at("factors")[1].at("y").get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(soak.at("factors")[2].at("x").get<double>(), 3.0);

  report.soak->load_profile.clear();
  report.soak->factors.clear();
  const Json plain = page_model(render_html(report)).at("soak");
  EXPECT_EQ(plain.at("load_profile"), "");
  EXPECT_TRUE(plain.at("factors").empty());

  report.soak.reset();
  EXPECT_TRUE(page_model(render_html(report)).at("soak").is_null());
}

}  // namespace
}  // namespace kp::report
