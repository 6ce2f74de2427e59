#include "core/measurement.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kp {
namespace {

TEST(MeasurementJson, CarriesOfferedRateAndLosslessHistogram) {
  Histogram histogram;
  histogram.record(1500);
  histogram.record(2'000'000);
  Measurement m;
  m.metric = "dns.qps";
  m.value = 998.5;
  m.offered = 1000;
  m.source = "client";
  m.note = "n";
  m.histogram = histogram;
  nlohmann::json json = to_json(m);
  EXPECT_EQ(json["metric"], "dns.qps");
  EXPECT_DOUBLE_EQ(json["value"].get<double>(), 998.5);
  EXPECT_DOUBLE_EQ(json["offered"].get<double>(), 1000);
  Result<Histogram> back = Histogram::from_json(json["histogram"]);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, histogram);
}

TEST(MeasurementJson, LeavesOutWhatIsNotThere) {
  Measurement m;
  m.metric = "etcd.leader_changes";
  nlohmann::json json = to_json(m);
  EXPECT_FALSE(json.contains("offered"));
  EXPECT_FALSE(json.contains("histogram"));
}

}  // namespace
}  // namespace kp
