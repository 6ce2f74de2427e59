#include "drivers/net/driver.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drivers/net/agent.hpp"

namespace kp::drivers::net {
namespace {

namespace fs = std::filesystem;

class NullProgress final : public engine::ProgressSink {
 public:
  void message(Phase, std::string_view text) override { lines.emplace_back(text); }
  std::vector<std::string> lines;
};

struct Fixture {
  explicit Fixture(const std::string& settings_yaml, config::Target target = config::Target::local) {
    plan.source = "plans/x.yaml";
    plan.target = target;
    phase.phase = Phase::network;
    phase.duration = std::chrono::seconds(30);
    phase.path = "phases[2]";
    phase.settings = settings_yaml.empty() ? YAML::Node() : YAML::Load(settings_yaml);
    lab_dir = fs::temp_directory_path() / fmt::format("kp-net-driver-unit-{}", ::getpid());
    fs::create_directories(lab_dir);
  }
  ~Fixture() { fs::remove_all(lab_dir); }
  engine::PhaseContext context() { return engine::PhaseContext{plan, phase, clock, cancel, progress}; }

  config::Plan plan;
  config::PhasePlan phase;
  FakeClock clock;
  engine::CancellationToken cancel;
  NullProgress progress;
  fs::path lab_dir;
};

TEST(NetDriver, ValidatesSettingsWithFileLineAndField) {
  Fixture f("request_size: 0\n");
  auto driver = make_driver(f.plan, f.lab_dir, AgentCommand{"/bin/false"});
  EXPECT_EQ(driver->phase(), Phase::network);
  engine::PhaseContext context = f.context();
  Result<void> ok = driver->validate(context);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().kind, ErrorKind::input);
  EXPECT_EQ(ok.error().message, "plans/x.yaml:1: phases[2].settings.request_size: must be > 0, got \"0\"");

  Fixture good("streams: 2\nwarmup: 0s\n");
  auto valid = make_driver(good.plan, good.lab_dir, AgentCommand{"/bin/false"});
  engine::PhaseContext good_context = good.context();
  EXPECT_TRUE(valid->validate(good_context));
}

// --target cluster: the cluster-only settings are checked before anything runs, and the cluster comes from
// --kubeconfig (a missing file is named, not a silent skip).
TEST(NetDriver, ClusterTargetChecksItsSettingsAndNamesTheKubeconfig) {
  Fixture pairs("pairs: 2\n", config::Target::cluster);
  auto driver = make_driver(pairs.plan, pairs.lab_dir, AgentCommand{"/bin/false"});
  engine::PhaseContext context = pairs.context();
  Result<void> ok = driver->validate(context);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().kind, ErrorKind::input);
  EXPECT_EQ(
      ok.error().message,
      "plans/x.yaml: phases[2].settings.pairs: must be at most streams (1), got \"2\": each pair's client "
      "needs a stream");

  Fixture f("", config::Target::cluster);
  ClusterOptions cluster;
  cluster.kubeconfig = f.lab_dir / "missing-kubeconfig";
  cluster.run_id = "kp-unit";
  auto on_cluster = make_driver(f.plan, f.lab_dir, AgentCommand{"/bin/false"}, cluster);
  engine::PhaseContext cluster_context = f.context();
  ASSERT_TRUE(on_cluster->validate(cluster_context));
  Result<void> prepared = on_cluster->prepare(cluster_context);
  ASSERT_FALSE(prepared);
  EXPECT_NE(prepared.error().message.find("missing-kubeconfig"), std::string::npos)
      << prepared.error().message;
  on_cluster->teardown(cluster_context);
}

TEST(NetDriver, WithoutTheLabOrRootThePhaseIsSkippedSayingSo) {
  Fixture f("");
  auto driver = make_driver(f.plan, f.lab_dir, AgentCommand{"/bin/false"});
  engine::PhaseContext context = f.context();
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::unavailable);
  if (::geteuid() != 0) {
    EXPECT_EQ(
        prepared.error().message,
        fmt::format("the network phase needs root to run its agents inside the lab's network namespaces "
                    "(running as uid {}): run as root, after `kubeproof lab up` as root",
                    ::geteuid()));
  } else {
    EXPECT_EQ(prepared.error().message,
              fmt::format("the lab's network namespaces are not set up in {}: run `kubeproof lab up` as root",
                          f.lab_dir.string()));
  }
  driver->teardown(context);
}

TEST(NetDriver, ClientFlagsCarryTheWholeSpec) {
  TestSpec spec;
  spec.scenario = Scenario::tcp_rr;
  spec.duration = std::chrono::milliseconds(1500);
  spec.rate = Rate{2500};
  spec.total = 10;
  const std::vector<std::string> flags = client_flags(spec, "10.237.1.10:80", std::chrono::seconds(5));
  ClientAgentOptions options;
  CLI::App app;
  attach_client_options(app, options);
  std::vector<std::string> args(flags.rbegin(), flags.rend());
  app.parse(args);
  Result<ClientOptions> parsed = to_client_options(options);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(to_json(parsed->spec), to_json(spec));
  EXPECT_EQ(parsed->server, "10.237.1.10:80");
}

}  // namespace
}  // namespace kp::drivers::net
