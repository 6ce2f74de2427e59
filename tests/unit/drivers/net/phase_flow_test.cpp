#include "drivers/net/phase_flow.hpp"

#include <gtest/gtest.h>

#include "core/finished_series.hpp"

namespace kp::drivers::net {
namespace {

class Lines final : public engine::ProgressSink, public LiveSink, public FinishedSeriesSink {
 public:
  void message(Phase, std::string_view text) override { lines.emplace_back(text); }
  LiveSink* live_sink() override { return this; }
  void add(const LiveDelta&) override {}
  void finished(const FinishedSeries& series) override { finished_series.push_back(series); }
  std::vector<std::string> lines;
  std::vector<FinishedSeries> finished_series;
};

// The flow with the client runner replaced by one that answers from the job (the seam both targets plug
// into): what each test asks for and which rows come out, without processes or pods.
struct Flow {
  Flow() {
    plan.source = "plans/x.yaml";
    plan.type = config::TestType::smoke;
    phase.phase = Phase::network;
    phase.duration = std::chrono::seconds(30);
    phase.path = "phases[2]";
    Result<NetPhasePlan> planned = plan_phase(settings, plan, phase, lab::NetnsLayout{});
    EXPECT_TRUE(planned);
    net_plan = planned.value_or(NetPhasePlan{});
  }

  engine::PhaseRun run(const FlowPath& path) {
    engine::PhaseContext context{plan, phase, clock, cancel, progress};
    engine::PhaseRun out;
    const RunClients clients = [this](const std::vector<ClientJob>& run_jobs) {
      std::vector<Result<ClientResult>> results;
      for (const ClientJob& job : run_jobs) {
        jobs.push_back(job);
        if (fail_udp && job.spec.scenario == Scenario::udp_rr) {
          results.push_back(fail(ErrorKind::network, "cannot connect to 10.0.0.5:7410: Connection refused"));
          continue;
        }
        ClientResult r;
        r.spec = job.spec;
        r.server = job.target;
        r.complete = true;
        r.measured = std::chrono::seconds(1);
        r.throughput_bps = 1e9;
        r.throughput_source = "receiver";
        r.transactions = 100;
        r.transaction_rate = 100;
        r.per_second_bps = {1e9};
        r.per_second_tps = {100};
        const TimePoint t0{};
        for (int i = 0; i < 100; ++i) {
          r.latency.record(t0, t0, t0 + std::chrono::microseconds(50 + i));
        }
        results.push_back(std::move(r));
      }
      return results;
    };
    run_path(context, settings, net_plan, path, clients, out);
    return out;
  }

  config::Plan plan;
  config::PhasePlan phase;
  Settings settings;
  NetPhasePlan net_plan;
  FakeClock clock;
  engine::CancellationToken cancel;
  Lines progress;
  std::vector<ClientJob> jobs;
  bool fail_udp = false;
};

FlowPath cluster_path(bool judged) {
  FlowPath path;
  path.server = "10.0.0.5:7410";
  path.service = "10.96.0.9:7410";
  path.service_path = "pod to service: ClusterIP 10.96.0.9:7410 -> 10.0.0.5:7410";
  path.client = "pod (cross-node)";
  path.medium = "cross-node: server pod on node-a";
  path.qualifier = "cross_node";
  path.judged = judged;
  return path;
}

std::vector<std::string> metrics(const engine::PhaseRun& run) {
  std::vector<std::string> out;
  for (const Measurement& m : run.measurements) {
    out.push_back(m.metric);
  }
  return out;
}

TEST(NetPhaseFlow, LabPathGivesTheCatalogRowsOnly) {
  Flow flow;
  FlowPath path;
  path.server = "10.237.0.2:7410";
  path.service = "10.237.1.10:80";
  path.service_path = "pod to service: DNAT 10.237.1.10:80 -> 10.237.0.2:7410";
  path.client = "in kp-b";
  path.medium = "lab veth between network namespaces";
  const engine::PhaseRun run = flow.run(path);
  EXPECT_EQ(metrics(run), (std::vector<std::string>{"net.pod_to_pod.throughput", "net.pod_to_pod.latency.p99",
                                                    "net.pod_to_service.latency.p99"}));
  ASSERT_EQ(flow.jobs.size(), 3u);
  EXPECT_EQ(flow.jobs[2].role, ServerRole::service);
  EXPECT_EQ(flow.jobs[2].target, "10.237.1.10:80");
  EXPECT_NE(run.measurements[2].source.find("DNAT 10.237.1.10:80 -> 10.237.0.2:7410"), std::string::npos);
  // Each test's per-second series went to the report's timeline as its result arrived.
  ASSERT_EQ(flow.progress.finished_series.size(), 3u);
  EXPECT_EQ(flow.progress.finished_series[0].series, "TCP_STREAM net.pod_to_pod.throughput");
  EXPECT_EQ(flow.progress.finished_series[0].seconds.at(0).bits_per_second, 1e9);
  EXPECT_EQ(flow.progress.finished_series[2].series, "TCP_RR net.pod_to_service.latency.p99");
  EXPECT_EQ(flow.progress.finished_series[2].seconds.at(0).completions, 100.0);
}

// A judged cluster placement gives the catalog's rows and its own, plus UDP_RR and TCP_CRR; each row's note
// names the placement.
TEST(NetPhaseFlow, JudgedPlacementGivesCatalogAndItsOwnRows) {
  Flow flow;
  const engine::PhaseRun run = flow.run(cluster_path(true));
  EXPECT_EQ(metrics(run),
            (std::vector<std::string>{"net.pod_to_pod.throughput", "net.cross_node.throughput",
                                      "net.pod_to_pod.latency.p99", "net.cross_node.latency.p99",
                                      "net.pod_to_service.latency.p99", "net.cross_node.service_latency.p99",
                                      "net.cross_node.udp_rr.p99", "net.cross_node.tcp_crr.p99"}));
  std::vector<Scenario> scenarios;
  for (const ClientJob& job : flow.jobs) {
    scenarios.push_back(job.spec.scenario);
  }
  EXPECT_EQ(scenarios, (std::vector<Scenario>{Scenario::tcp_stream, Scenario::tcp_rr, Scenario::tcp_rr,
                                              Scenario::udp_rr, Scenario::tcp_crr}));
  EXPECT_EQ(flow.jobs[2].target, "10.96.0.9:7410");
  for (const Measurement& m : run.measurements) {
    EXPECT_NE(m.note.find("cross-node"), std::string::npos) << m.metric << ": " << m.note;
  }
  EXPECT_NE(run.measurements[0].note.find("the judged row is from the cross_node placement"),
            std::string::npos);
}

// An informational placement's failures are stated, never INVALID: they cannot change a verdict.
TEST(NetPhaseFlow, InformationalPlacementStatesFailuresInNotes) {
  Flow flow;
  flow.fail_udp = true;
  const engine::PhaseRun run = flow.run(cluster_path(false));
  EXPECT_EQ(metrics(run),
            (std::vector<std::string>{"net.cross_node.throughput", "net.cross_node.latency.p99",
                                      "net.cross_node.service_latency.p99", "net.cross_node.tcp_crr.p99"}));
  EXPECT_TRUE(run.invalid_reasons.empty());
  bool stated = false;
  for (const std::string& note : run.notes) {
    stated = stated || note ==
                           "net.cross_node.udp_rr.p99: not measured: cannot connect to 10.0.0.5:7410: "
                           "Connection refused";
  }
  EXPECT_TRUE(stated);
}

TEST(NetPhaseFlow, HostNetworkHasNoServiceRow) {
  Flow flow;
  FlowPath path = cluster_path(false);
  path.service.clear();
  path.qualifier = "host_network";
  const engine::PhaseRun run = flow.run(path);
  for (const Measurement& m : run.measurements) {
    EXPECT_EQ(m.metric.find("service"), std::string::npos) << m.metric;
  }
  EXPECT_EQ(run.measurements.size(), 4u);
}

}  // namespace
}  // namespace kp::drivers::net
