// The shipped load plan can PASS: a system that meets every target of the shipped criteria, answering the
// rates the plan offers (capacity x load), evaluates to PASS. Capacity rows are strict ("> 1000 QPS"): a plan
// whose capacity equals the target offers exactly the target, which can never be shown above it, so such a
// plan could only end NOT MEASURED / INCOMPLETE (the second test shows that this test would catch it).

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/criteria.hpp"
#include "config/metric_catalog.hpp"
#include "config/plan.hpp"
#include "eval/evaluation.hpp"

namespace kp::eval {
namespace {

using config::Comparison;

struct Shipped {
  config::Plan plan;
  std::vector<config::CriteriaRow> rows;
};

Shipped shipped_load_plan() {
  const std::filesystem::path root(KP_SOURCE_DIR);
  Result<config::Plan> plan = config::load_plan(root / "plans" / "load.yaml");
  EXPECT_TRUE(plan.has_value()) << plan.error().message;
  Result<config::Criteria> criteria = config::load_criteria(root / "criteria" / "default.yaml");
  EXPECT_TRUE(criteria.has_value()) << criteria.error().message;
  if (!plan || !criteria) {
    return {};
  }
  Result<std::vector<config::CriteriaRow>> rows = criteria->active_rows(plan->tiers);
  EXPECT_TRUE(rows.has_value()) << rows.error().message;
  return {*plan, rows ? *rows : std::vector<config::CriteriaRow>{}};
}

double load_of(const config::Plan& plan, Phase phase) {
  for (const config::PhasePlan& planned : plan.phases) {
    if (planned.phase == phase) {
      return planned.load;
    }
  }
  ADD_FAILURE() << "the plan has no " << to_string(phase) << " phase";
  return 0;
}

// The rates the plan offers to the rows judged from an offered rate: the phase's capacity field x its load.
std::map<std::string, double> offered_rates(const config::Plan& plan) {
  std::map<std::string, double> offered;
  auto add = [&](std::string metric, const std::optional<Rate>& capacity, Phase phase) {
    EXPECT_TRUE(capacity.has_value()) << metric;
    if (capacity) {
      offered[std::move(metric)] = capacity->per_second * load_of(plan, phase);
    }
  };
  add("api.qps", plan.capacity.api_qps, Phase::api);
  add("dns.qps", plan.capacity.dns_qps, Phase::dns);
  add("ingress.rps", plan.capacity.ingress_rps, Phase::ingress);
  add("ingress.connection_rate", plan.capacity.ingress_connection_rate, Phase::ingress);
  return offered;
}

// A value of `metric` that meets the target of every row judging it (the tightest one wins).
double meeting_every_target(const std::vector<config::CriteriaRow>& rows, const std::string& metric) {
  std::optional<double> below;  // the lowest "<"/"<=" target
  std::optional<double> above;  // the highest ">"/">=" target
  bool strict_below = false;
  for (const config::CriteriaRow& row : rows) {
    if (row.metric != metric || !row.target) {
      continue;
    }
    if (row.comparison == Comparison::less || row.comparison == Comparison::less_equal) {
      if (!below || *row.target < *below) {
        below = row.target;
        strict_below = row.comparison == Comparison::less;
      }
    } else if (!above || *row.target > *above) {
      above = row.target;
    }
  }
  EXPECT_FALSE(below && above) << metric << " is judged in both directions";
  if (below) {
    EXPECT_FALSE(strict_below && *below <= 0) << metric << ": nothing is below " << *below;
    return *below / 2;  // 0 stays 0, which meets "<= 0"
  }
  const config::MetricInfo* info = config::find_metric(metric);
  if (info != nullptr && info->quantity == Quantity::ratio) {
    return (*above + 1) / 2;  // a ratio above its target and still at most 1
  }
  return above ? *above * 1.5 : 0;
}

// One input per phase of the plan: every row's metric at a value meeting its targets; a rate row judged from
// an offered rate answers 99.9 % of what the plan offers (the last answers land after the window).
std::vector<PhaseInput> system_meeting_every_target(const Shipped& shipped,
                                                    const std::map<std::string, double>& offered) {
  std::vector<PhaseInput> inputs;
  for (const config::PhasePlan& planned : shipped.plan.phases) {
    PhaseInput input;
    input.phase = planned.phase;
    for (const config::CriteriaRow& row : shipped.rows) {
      const config::MetricInfo* info = config::find_metric(row.metric);
      if (info == nullptr || info->phase != planned.phase ||
          std::ranges::any_of(input.measurements,
                              [&](const Measurement& m) { return m.metric == row.metric; })) {
        continue;
      }
      Measurement measurement;
      measurement.metric = row.metric;
      if (auto rate = offered.find(row.metric); rate != offered.end()) {
        measurement.value = rate->second * 0.999;
        measurement.offered = rate->second;
      } else {
        measurement.value = meeting_every_target(shipped.rows, row.metric);
      }
      input.measurements.push_back(measurement);
    }
    inputs.push_back(std::move(input));
  }
  return inputs;
}

EvaluationOptions load_run() {
  EvaluationOptions options;
  options.test_type = config::TestType::load;
  return options;
}

TEST(ShippedLoadPlan, ASystemMeetingEveryTargetAtThePlansRatesPasses) {
  const Shipped shipped = shipped_load_plan();
  ASSERT_EQ(shipped.plan.type, config::TestType::load);
  ASSERT_EQ(shipped.plan.phases.size(), kFlowOrder.size());
  ASSERT_FALSE(shipped.rows.empty());
  const std::map<std::string, double> offered = offered_rates(shipped.plan);

  const Evaluation evaluation =
      evaluate(system_meeting_every_target(shipped, offered), shipped.rows, load_run());

  EXPECT_EQ(evaluation.overall, Verdict::pass) << evaluation.overall_reason;
  for (const PhaseEvaluation& phase : evaluation.phases) {
    EXPECT_EQ(phase.verdict, Verdict::pass) << to_string(phase.phase) << ": " << phase.reason;
    for (const RowResult& row : phase.rows) {
      EXPECT_EQ(row.verdict, Verdict::pass) << row.row.metric << " [" << row.row.table << "]: " << row.reason;
    }
  }
  // Every offered rate was judged by a row: the test covers what it claims to.
  for (const auto& [metric, rate] : offered) {
    EXPECT_TRUE(std::ranges::any_of(shipped.rows, [&](const config::CriteriaRow& r) {
      return r.metric == metric;
    })) << metric;
  }
}

// The same system, offered exactly the targets (what the load plan used to state as capacity): every strict
// capacity row is "not demonstrated" and the run cannot PASS. This is what the test above guards against.
TEST(ShippedLoadPlan, CapacitiesEqualToTheTargetsCouldNeverPass) {
  const Shipped shipped = shipped_load_plan();
  ASSERT_FALSE(shipped.rows.empty());
  std::map<std::string, double> offered = offered_rates(shipped.plan);
  for (auto& [metric, rate] : offered) {
    for (const config::CriteriaRow& row : shipped.rows) {
      if (row.metric == metric && row.target) {
        rate = *row.target;
      }
    }
  }
  const Evaluation evaluation =
      evaluate(system_meeting_every_target(shipped, offered), shipped.rows, load_run());
  EXPECT_NE(evaluation.overall, Verdict::pass);
  EXPECT_EQ(evaluation.overall, Verdict::incomplete) << evaluation.overall_reason;
  EXPECT_NE(evaluation.overall_reason.find("not demonstrated"), std::string::npos)
      << evaluation.overall_reason;
}

}  // namespace
}  // namespace kp::eval
