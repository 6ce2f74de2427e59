#include <chrono>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eval/evaluation.hpp"
#include "rows.hpp"

namespace kp::eval {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::measure;
using testing::measure_offered;
using ::testing::Not;
using testing::seed_rows;

// Every metric the checklist looks at, each meeting its level.
std::vector<PhaseInput> all_good() {
  std::vector<PhaseInput> inputs(6);
  for (std::size_t i = 0; i < kFlowOrder.size(); ++i) {
    inputs[i].phase = kFlowOrder[i];
  }
  inputs[0].measurements = {measure("etcd.write.p99", 0.012), measure("etcd.leader_changes", 0)};
  inputs[1].measurements = {measure("api.mutating.p99", 0.120), measure("api.readonly.p99", 0.080),
                            measure("api.pod_startup.p99", 2.5)};
  inputs[2].measurements = {measure("net.pod_to_pod.throughput", 9.4e9)};
  inputs[3].measurements = {measure("dns.p99", 0.004)};
  inputs[4].measurements = {measure("storage.randread_4k.iops", 42000),
                            measure("storage.randwrite_4k.iops", 18000)};
  inputs[5].measurements = {measure("ingress.rps", 25000), measure("ingress.error_rate_5xx", 0.0001)};
  return inputs;
}

EvaluationOptions load_soak() {
  EvaluationOptions options;
  options.test_type = config::TestType::load;
  options.soak_duration = std::chrono::hours(24);
  return options;
}

std::vector<ChecklistItem> checklist(const std::vector<PhaseInput>& inputs,
                                     const EvaluationOptions& options) {
  return evaluate(inputs, seed_rows(), options).checklist;
}

void set(std::vector<PhaseInput>& inputs, const std::string& metric, double value) {
  for (PhaseInput& input : inputs) {
    for (Measurement& measurement : input.measurements) {
      if (measurement.metric == metric) {
        measurement.value = value;
        return;
      }
    }
  }
  FAIL() << "no measurement " << metric;
}

void drop(std::vector<PhaseInput>& inputs, const std::string& metric) {
  for (PhaseInput& input : inputs) {
    std::erase_if(input.measurements, [&](const Measurement& m) { return m.metric == metric; });
  }
}

TEST(Checklist, EveryItemMetWithEvidence) {
  const auto items = checklist(all_good(), load_soak());
  ASSERT_EQ(items.size(), 8U);
  for (const ChecklistItem& item : items) {
    EXPECT_EQ(item.state, ChecklistState::met) << item.text << ": " << item.evidence;
  }
  EXPECT_EQ(items[0].evidence,
            "api.mutating.p99 = 120.00ms < 500ms; api.readonly.p99 = 80.00ms < 500ms; load run");
  EXPECT_THAT(items[0].metrics, ElementsAre("api.mutating.p99", "api.readonly.p99"));
  EXPECT_EQ(items[1].evidence, "etcd.write.p99 = 12.00ms < 25ms");
  EXPECT_EQ(items[2].evidence, "etcd.leader_changes = 0 during a 24h run");
  EXPECT_EQ(items[3].evidence, "api.pod_startup.p99 = 2.50s < 5s");
  EXPECT_EQ(items[4].evidence, "dns.p99 = 4.00ms < 10ms");
  EXPECT_EQ(
      items[5].evidence,
      "storage.randread_4k.iops = 42k IOPS > 10k IOPS (ssd target); storage.randwrite_4k.iops = 18k IOPS > "
      "5000 IOPS (ssd target)");
  EXPECT_EQ(items[6].evidence, "net.pod_to_pod.throughput = 9.40Gbps > 5Gbps (target)");
  EXPECT_EQ(
      items[7].evidence,
      "ingress.rps = 25k RPS > 10k RPS (small target); ingress.error_rate_5xx = 0.01% < 0.1% (small target)");
}

// ---- 1. API Server P99 latency < 500ms under expected load ----

TEST(Checklist, ApiNotMetWhenEitherKindOfCallIsSlow) {
  auto inputs = all_good();
  set(inputs, "api.readonly.p99", 0.5);  // exactly 500ms is not "< 500ms"
  const ChecklistItem item = checklist(inputs, load_soak())[0];
  EXPECT_EQ(item.state, ChecklistState::not_met);
  EXPECT_EQ(item.evidence, "api.mutating.p99 = 120.00ms < 500ms; api.readonly.p99 = 500.00ms, not < 500ms");
}

TEST(Checklist, ApiNotVerifiedInASmokeRun) {
  EvaluationOptions smoke = load_soak();
  smoke.test_type = config::TestType::smoke;
  const ChecklistItem item = checklist(all_good(), smoke)[0];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_THAT(item.evidence, HasSubstr("measured in a smoke run, not under expected load"));
}

TEST(Checklist, ApiSlowInASmokeRunIsStillNotMet) {
  auto inputs = all_good();
  set(inputs, "api.mutating.p99", 0.9);
  EvaluationOptions smoke = load_soak();
  smoke.test_type = config::TestType::smoke;
  EXPECT_EQ(checklist(inputs, smoke)[0].state, ChecklistState::not_met);
}

TEST(Checklist, ApiFromImportedValuesIsJudgedAndSaysTheLoadIsUnknown) {
  EvaluationOptions imported;
  const ChecklistItem item = checklist(all_good(), imported)[0];
  EXPECT_EQ(item.state, ChecklistState::met);
  EXPECT_THAT(item.evidence, HasSubstr("load level unknown"));
}

TEST(Checklist, ApiNotVerifiedWhenOneKindIsNotMeasured) {
  auto inputs = all_good();
  drop(inputs, "api.readonly.p99");
  const ChecklistItem item = checklist(inputs, load_soak())[0];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_EQ(item.evidence, "api.mutating.p99 = 120.00ms < 500ms; api.readonly.p99 not measured");
}

TEST(Checklist, ApiNotVerifiedWhenThePhaseWasInvalid) {
  auto inputs = all_good();
  inputs[1].invalid_reasons = {"achieved 700/s of 1000/s"};
  set(inputs, "api.mutating.p99", 0.9);  // a miss from an invalid run is no evidence either
  const ChecklistItem item = checklist(inputs, load_soak())[0];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_THAT(item.evidence, HasSubstr("(api phase INVALID)"));
  // The phase's reason is said where the phase is, not again per checklist item.
  EXPECT_THAT(item.evidence, Not(HasSubstr("achieved 700/s")));
}

TEST(Checklist, NotVerifiedWhenThePhaseDidNotFinish) {
  auto inputs = all_good();
  inputs[1].status = PhaseStatus::cancelled;
  const ChecklistItem item = checklist(inputs, load_soak())[0];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_THAT(item.evidence, HasSubstr("(api phase did not finish: cancelled)"));
}

// ---- 2. etcd write latency P99 < 25ms ----

TEST(Checklist, EtcdWrite) {
  auto inputs = all_good();
  set(inputs, "etcd.write.p99", 0.025);
  EXPECT_EQ(checklist(inputs, load_soak())[1].state, ChecklistState::not_met);
  EXPECT_EQ(checklist(inputs, load_soak())[1].evidence, "etcd.write.p99 = 25.00ms, not < 25ms");
  drop(inputs, "etcd.write.p99");
  EXPECT_EQ(checklist(inputs, load_soak())[1].state, ChecklistState::not_verified);
  EXPECT_EQ(checklist(inputs, load_soak())[1].evidence, "etcd.write.p99 not measured");
}

// ---- 3. No etcd leader election during 24h test ----

TEST(Checklist, LeaderChangesNotMet) {
  auto inputs = all_good();
  set(inputs, "etcd.leader_changes", 2);
  const ChecklistItem item = checklist(inputs, load_soak())[2];
  EXPECT_EQ(item.state, ChecklistState::not_met);
  EXPECT_EQ(item.evidence, "etcd.leader_changes = 2, not 0");
}

TEST(Checklist, LeaderChangeSaysWhenFromTheMeasurementNote) {
  auto inputs = all_good();
  for (Measurement& measurement : inputs[0].measurements) {
    if (measurement.metric == "etcd.leader_changes") {
      measurement.value = 1;
      measurement.note = "1 election at 2026-12-03T04:00:01.000Z: leader a -> b, term 3";
    }
  }
  // An election etcd counted happened whatever the load generator did: still "not met" in an INVALID phase
  // and in a short run.
  inputs[0].invalid_reasons = {"achieved 700/s of 1000/s"};
  EvaluationOptions short_run = load_soak();
  short_run.soak_duration = std::chrono::seconds(20);
  const ChecklistItem item = checklist(inputs, short_run)[2];
  EXPECT_EQ(item.state, ChecklistState::not_met);
  EXPECT_EQ(item.evidence,
            "etcd.leader_changes = 1, not 0 (1 election at 2026-12-03T04:00:01.000Z: leader a -> b, term 3)");
}

TEST(Checklist, NoLeaderChangeInAnInvalidPhaseStillSaysHowLongItRan) {
  auto inputs = all_good();
  inputs[0].invalid_reasons = {"the load generator's own send lateness P99 11ms is above 2.50ms"};
  EvaluationOptions short_run = load_soak();
  short_run.soak_duration = std::chrono::seconds(12);
  const ChecklistItem item = checklist(inputs, short_run)[2];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_EQ(item.evidence,
            "etcd.leader_changes = 0 (etcd phase INVALID) during a 12.00s run; needs a soak of at "
            "least 24h");
  // Not even 24h makes an INVALID phase's zero a "met".
  EXPECT_EQ(checklist(inputs, load_soak())[2].state, ChecklistState::not_verified);
}

TEST(Checklist, NoLeaderChangeOnASingleMemberIsNeverMet) {
  auto inputs = all_good();
  inputs[0].measurements.push_back(measure("etcd.members", 1));
  const ChecklistItem item = checklist(inputs, load_soak())[2];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_EQ(item.evidence,
            "etcd.leader_changes = 0 during a 24h run; a single-member etcd never elects another leader, so "
            "this shows nothing; needs a soak of at least 24h on several members");
}

TEST(Checklist, NoLeaderChangeOnThreeMembersOver24hIsMet) {
  auto inputs = all_good();
  inputs[0].measurements.push_back(measure("etcd.members", 3));
  const ChecklistItem item = checklist(inputs, load_soak())[2];
  EXPECT_EQ(item.state, ChecklistState::met);
  EXPECT_EQ(item.evidence, "etcd.leader_changes = 0 during a 24h run");
}

TEST(Checklist, NoLeaderChangeInAShortRunIsNotVerified) {
  EvaluationOptions short_run = load_soak();
  short_run.soak_duration = std::chrono::hours(24) - std::chrono::seconds(1);
  const ChecklistItem item = checklist(all_good(), short_run)[2];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_EQ(item.evidence, "etcd.leader_changes = 0 during a 23h59m59s run; needs a soak of at least 24h");
}

TEST(Checklist, NoLeaderChangeWithUnknownRunLengthIsNotVerified) {
  const ChecklistItem item = checklist(all_good(), EvaluationOptions{})[2];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_EQ(item.evidence,
            "etcd.leader_changes = 0; the run length is unknown; needs a soak of at least 24h");
}

TEST(Checklist, LeaderChangesNotMeasuredIsNotVerified) {
  auto inputs = all_good();
  drop(inputs, "etcd.leader_changes");
  const ChecklistItem item = checklist(inputs, load_soak())[2];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_EQ(item.evidence, "etcd.leader_changes not measured");
}

// ---- 4. Pod startup time P99 < 5s (image cached) ----

TEST(Checklist, PodStartup) {
  auto inputs = all_good();
  set(inputs, "api.pod_startup.p99", 5.0);
  EXPECT_EQ(checklist(inputs, load_soak())[3].state, ChecklistState::not_met);
  drop(inputs, "api.pod_startup.p99");
  EXPECT_EQ(checklist(inputs, load_soak())[3].state, ChecklistState::not_verified);
}

// ---- 5. DNS query latency P99 < 10ms ----

TEST(Checklist, Dns) {
  auto inputs = all_good();
  set(inputs, "dns.p99", 0.011);
  EXPECT_EQ(checklist(inputs, load_soak())[4].state, ChecklistState::not_met);
  EXPECT_EQ(checklist(inputs, load_soak())[4].evidence, "dns.p99 = 11.00ms, not < 10ms");
  drop(inputs, "dns.p99");
  EXPECT_EQ(checklist(inputs, load_soak())[4].state, ChecklistState::not_verified);
}

// ---- 6. Storage IOPS meets workload requirements ----

TEST(Checklist, StorageUsesTheActiveTiersTarget) {
  auto inputs = all_good();
  set(inputs, "storage.randwrite_4k.iops", 5000);  // exactly the SSD target "> 5k" is not meeting it
  const ChecklistItem item = checklist(inputs, load_soak())[5];
  EXPECT_EQ(item.state, ChecklistState::not_met);
  EXPECT_THAT(item.evidence,
              HasSubstr("storage.randwrite_4k.iops = 5000 IOPS, not > 5000 IOPS (ssd target)"));

  // The NVMe tier's rows as active rows instead.
  std::vector<config::CriteriaRow> nvme = seed_rows();
  for (config::CriteriaRow& row : nvme) {
    if (row.metric == "storage.randread_4k.iops") {
      row = testing::tiered(testing::make_row(row.metric, config::Comparison::greater, 50000, 10000, "IOPS"),
                            "storage_tier", "nvme");
    }
  }
  const ChecklistItem on_nvme = evaluate(all_good(), nvme, load_soak()).checklist[5];
  EXPECT_EQ(on_nvme.state, ChecklistState::not_met);
  EXPECT_THAT(on_nvme.evidence,
              HasSubstr("storage.randread_4k.iops = 42k IOPS, not > 50k IOPS (nvme target)"));
}

TEST(Checklist, StorageNotMeasured) {
  auto inputs = all_good();
  drop(inputs, "storage.randread_4k.iops");
  const ChecklistItem item = checklist(inputs, load_soak())[5];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_THAT(item.evidence, HasSubstr("storage.randread_4k.iops not measured"));
}

TEST(Checklist, NoActiveRowIsNotVerified) {
  std::vector<config::CriteriaRow> rows = seed_rows();
  std::erase_if(rows,
                [](const config::CriteriaRow& row) { return row.metric == "net.pod_to_pod.throughput"; });
  const ChecklistItem item = evaluate(all_good(), rows, load_soak()).checklist[6];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_EQ(item.evidence, "no active criteria row for net.pod_to_pod.throughput");
}

// ---- 7. Network throughput meets inter-zone requirements ----

TEST(Checklist, Network) {
  auto inputs = all_good();
  set(inputs, "net.pod_to_pod.throughput", 2e9);
  const ChecklistItem item = checklist(inputs, load_soak())[6];
  EXPECT_EQ(item.state, ChecklistState::not_met);
  EXPECT_EQ(item.evidence, "net.pod_to_pod.throughput = 2.00Gbps, not > 5Gbps (target)");
  drop(inputs, "net.pod_to_pod.throughput");
  EXPECT_EQ(checklist(inputs, load_soak())[6].state, ChecklistState::not_verified);
}

// ---- 8. Ingress handles expected peak traffic ----

TEST(Checklist, IngressNeedsBothRateAndErrors) {
  auto inputs = all_good();
  set(inputs, "ingress.error_rate_5xx", 0.002);
  EXPECT_EQ(checklist(inputs, load_soak())[7].state, ChecklistState::not_met);

  inputs = all_good();
  set(inputs, "ingress.rps", 8000);
  EXPECT_EQ(checklist(inputs, load_soak())[7].state, ChecklistState::not_met);

  inputs = all_good();
  drop(inputs, "ingress.error_rate_5xx");
  EXPECT_EQ(checklist(inputs, load_soak())[7].state, ChecklistState::not_verified);
}

TEST(Checklist, IngressRateFromALightOpenLoopRunIsNotVerified) {
  // A smoke run offered 1k/s and every request was answered: that is not the expected peak.
  auto inputs = all_good();
  inputs[5].measurements[0] = measure_offered("ingress.rps", 995, 1000);
  const ChecklistItem item = checklist(inputs, load_soak())[7];
  EXPECT_EQ(item.state, ChecklistState::not_verified);
  EXPECT_THAT(
      item.evidence,
      HasSubstr("ingress.rps = 995 RPS, not demonstrated: the run offered only 1000 RPS (below target "
                "> 10k RPS)"));

  // Offered the peak and kept up: met.
  inputs[5].measurements[0] = measure_offered("ingress.rps", 24900, 25000);
  EXPECT_EQ(checklist(inputs, load_soak())[7].state, ChecklistState::met);

  // Did not keep up with the peak: not met.
  inputs[5].measurements[0] = measure_offered("ingress.rps", 8000, 25000);
  EXPECT_EQ(checklist(inputs, load_soak())[7].state, ChecklistState::not_met);

  // A 5xx miss is a miss whatever the rate shows.
  inputs[5].measurements[0] = measure_offered("ingress.rps", 995, 1000);
  set(inputs, "ingress.error_rate_5xx", 0.002);
  EXPECT_EQ(checklist(inputs, load_soak())[7].state, ChecklistState::not_met);
}

}  // namespace
}  // namespace kp::eval
