// A three-member lab etcd and the etcd phase's leader watch, through the real binary against Debian's etcd:
// `kubeproof lab up --etcd-members 3` in a temp dir on free ports, `lab status` and `lab down` over every
// member, and a smoke etcd phase (`run --only etcd`, scaled to 12 s) with and without the leader killed
// mid-run. The kill comes when the run says its write stage started (a line on stderr), never after a sleep.

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drivers/etcd/client.hpp"
#include "drivers/etcd/leader_watch.hpp"
#include "fault_support.hpp"
#include "lab/process.hpp"

namespace kp::faults {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kLeaderItem = "No etcd leader election during 24h test";
// Planned 1m, run at 0.2: 12 s, a 6 s write stage then a 6 s read stage.
constexpr const char* kDurationScale = "0.2";
constexpr Duration kRunLimit = seconds(90);

// The plan of both runs. failure_window outlasts an election (etcd's default election timeout is 1 s), so
// the stage goes on through it and the watch sees the new leader.
std::string plan_text() {
  return R"(name: etcd-cluster
type: smoke
target: local
criteria: {storage_tier: ssd, cluster_size: small, pod_images: cached}
capacity:
  etcd_ops: 5.5k
phases:
  - phase: etcd
    duration: 1m
    load: 10%
    settings: {failure_window: 5s, request_timeout: 2s, connections: 3, clients: 16}
)";
}

struct Member {
  LabService service;
  std::uint64_t id = 0;
  std::uint64_t leader = 0;
};

class EtcdCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!lab::find_executable("etcd")) {
      GTEST_SKIP() << "etcd is not installed (Debian package etcd-server)";
    }
    Running up(dir_.path(),
               {"lab", "--lab-dir", lab().string(), "up", "--service", "etcd", "--etcd-members", "3"});
    const std::optional<int> code = up.wait(seconds(90));
    started_ = true;
    ASSERT_EQ(code, 0) << up.out() << up.err();
    up_out_ = up.out();
  }
  void TearDown() override {
    if (started_) {
      lab_down(lab());
    }
  }
  fs::path lab() const { return dir_.path() / "lab"; }

  // Every member, with its id and the leader it knows, from Maintenance Status.
  std::vector<Member> members() const {
    std::vector<Member> found;
    for (const char* name : {"etcd", "etcd-1", "etcd-2"}) {
      std::optional<LabService> service = lab_service(lab(), name);
      if (!service) {
        ADD_FAILURE() << "no service.json for " << name;
        continue;
      }
      Member member{.service = *service, .id = 0, .leader = 0};
      const std::string client = service->endpoint("client");
      Result<drivers::etcd::Connections> connection = drivers::etcd::open_connections({client}, {}, 1);
      if (connection) {
        Result<drivers::etcd::MemberStatus> status =
            drivers::etcd::member_status(connection->channels.front(), client, seconds(5));
        EXPECT_TRUE(status) << (status ? "" : status.error().message);
        if (status) {
          member.id = status->member_id;
          member.leader = status->leader;
        }
      }
      found.push_back(std::move(member));
    }
    return found;
  }

  struct Outcome {
    std::optional<int> exit_code;
    std::string err;
    json report;
    json etcd;  // report.phases[] of etcd
  };
  // `kubeproof run --only etcd`; `during` runs once the write stage started.
  Outcome run(const std::function<void()>& during) {
    {
      std::ofstream plan(dir_.path() / "plan.yaml");
      plan << plan_text();
    }
    Running run(dir_.path(), {"run", "--plan", (dir_.path() / "plan.yaml").string(), "--only", "etcd",
                              "--duration-scale", kDurationScale, "--lab-dir", lab().string(), "--results",
                              (dir_.path() / "results").string(), "--format", "json"});
    Outcome outcome;
    if (run.wait_for_stderr("[etcd] write: ", seconds(60)) && during) {
      during();
    }
    outcome.exit_code = run.wait(kRunLimit);
    outcome.err = run.err();
    outcome.report = json::parse(run.out(), nullptr, false);
    for (const json& phase :
         outcome.report.is_object() ? outcome.report.value("phases", json::array()) : json::array()) {
      if (phase.value("phase", "") == "etcd") {
        outcome.etcd = phase;
      }
    }
    return outcome;
  }

  TempDir dir_{"kpetcd3"};
  bool started_ = false;
  std::string up_out_;
};

json informational(const json& phase, std::string_view metric) {
  for (const json& each : phase.value("informational", json::array())) {
    if (each.value("metric", "") == metric) {
      return each;
    }
  }
  return nullptr;
}

json checklist_item(const json& report, std::string_view text) {
  for (const json& each : report.value("checklist", json::array())) {
    if (each.value("item", "") == text) {
      return each;
    }
  }
  return nullptr;
}

std::vector<std::string> split(const std::string& text, char by) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = std::min(text.find(by, begin), text.size());
    parts.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

TEST_F(EtcdCluster, LabUpStatusAndDownCoverEveryMember) {
  const std::vector<Member> all = members();
  ASSERT_EQ(all.size(), 3U);
  // The first member's state file records every member's client URL, in member order.
  std::optional<LabService> first = lab_service(lab(), "etcd");
  ASSERT_TRUE(first);
  std::vector<std::string> clients;
  for (const Member& member : all) {
    clients.push_back(member.service.endpoint("client"));
  }
  EXPECT_EQ(split(first->endpoint("cluster_clients"), ','), clients);
  EXPECT_EQ(split(first->endpoint("cluster_metrics"), ',').size(), 3U);
  // One cluster: three distinct members that agree on one leader among them.
  EXPECT_NE(all[0].id, all[1].id);
  EXPECT_NE(all[1].id, all[2].id);
  EXPECT_NE(all[0].leader, 0U);
  EXPECT_TRUE(
      std::all_of(all.begin(), all.end(), [&](const Member& m) { return m.leader == all[0].leader; }));
  EXPECT_EQ(std::count_if(all.begin(), all.end(), [&](const Member& m) { return m.id == m.leader; }), 1);

  Running status(dir_.path(), {"lab", "--lab-dir", lab().string(), "status"});
  ASSERT_EQ(status.wait(seconds(30)), 0) << status.out() << status.err();
  const std::string shown = status.out();
  for (const Member& member : all) {
    const std::string line_start = fmt::format("\n{} ", member.service.name);
    const std::size_t at = ("\n" + shown).find(line_start);
    ASSERT_NE(at, std::string::npos) << shown;
    const std::string line = ("\n" + shown).substr(at + 1, ("\n" + shown).find('\n', at + 1) - at - 1);
    EXPECT_NE(line.find(std::to_string(member.service.pid)), std::string::npos) << line;
    EXPECT_TRUE(line.ends_with("healthy")) << line;
  }

  Running down(dir_.path(), {"lab", "--lab-dir", lab().string(), "down"});
  ASSERT_EQ(down.wait(seconds(60)), 0) << down.out() << down.err();
  started_ = false;
  for (const Member& member : all) {
    EXPECT_NE(down.out().find(fmt::format("{}: stopped pid {}", member.service.name, member.service.pid)),
              std::string::npos)
        << down.out();
    EXPECT_FALSE(is_alive(member.service.pid)) << member.service.name;
  }
  EXPECT_FALSE(fs::exists(lab() / "etcd-1"));
}

TEST_F(EtcdCluster, KillingTheLeaderMidRunIsAnElectionWithItsTimeAndTheItemNotMet) {
  const std::vector<Member> all = members();
  auto leader = std::find_if(all.begin(), all.end(), [](const Member& m) { return m.id == m.leader; });
  ASSERT_NE(leader, all.end());
  std::string killed_at;
  Outcome outcome = run([&] {
    // A second before the kill: the wall clocks of this test and of the run are the same clock.
    killed_at = drivers::etcd::utc_text(real_clock().wall_now() - seconds(1));
    kill_group(leader->service.pid);
  });
  ASSERT_FALSE(killed_at.empty()) << "the write stage never started; stderr:\n" << outcome.err;
  ASSERT_TRUE(outcome.exit_code.has_value()) << outcome.err;
  ASSERT_TRUE(outcome.etcd.is_object()) << outcome.err;

  const json changes = informational(outcome.etcd, "etcd.leader_changes");
  ASSERT_TRUE(changes.is_object()) << outcome.etcd.dump(1);
  EXPECT_GE(changes.value("value", 0.0), 1.0) << changes.dump();
  const std::string note = changes.value("note", "");
  const std::size_t at = note.find("election at ");
  ASSERT_NE(at, std::string::npos) << note;
  const std::string when = note.substr(at + 12, killed_at.size());
  EXPECT_GE(when, killed_at) << note;  // ISO 8601 UTC of one width compares as text
  EXPECT_NE(note.find(fmt::format("leader {} -> ", drivers::etcd::member_text(leader->id))),
            std::string::npos)
      << note;
  EXPECT_EQ(informational(outcome.etcd, "etcd.members").value("value", 0.0), 3.0);

  const json item = checklist_item(outcome.report, kLeaderItem);
  ASSERT_TRUE(item.is_object()) << outcome.report.dump(1);
  EXPECT_EQ(item.value("state", ""), "not met") << item.dump();
  EXPECT_NE(item.value("evidence", "").find("election at " + when), std::string::npos) << item.dump();
  // The phase's notes say which member stopped answering.
  const std::string notes = outcome.etcd.value("notes", json::array()).dump();
  EXPECT_NE(
      notes.find(fmt::format("etcd {} stopped answering Status at", leader->service.endpoint("client"))),
      std::string::npos)
      << notes;
}

// A soak (`kubeproof soak --only etcd`, 4 s rounds for 12 s) on the three members: the leader killed during
// its first round is counted over the soak with its time, and the checklist item is "not met".
TEST_F(EtcdCluster, ASoakCountsTheElectionOfAKilledLeaderWithItsTime) {
  const std::vector<Member> all = members();
  auto leader = std::find_if(all.begin(), all.end(), [](const Member& m) { return m.id == m.leader; });
  ASSERT_NE(leader, all.end());
  {
    std::string text = plan_text();
    text.replace(text.find("type: smoke"), 11, "type: soak\nsoak_duration: 12s\ncheckpoint: 1s");
    text.replace(text.find("duration: 1m"), 12, "duration: 4s");
    std::ofstream(dir_.path() / "soak.yaml") << text;
  }
  Running soak(dir_.path(), {"soak", "--plan", (dir_.path() / "soak.yaml").string(), "--only", "etcd",
                             "--lab-dir", lab().string(), "--results", (dir_.path() / "results").string(),
                             "--format", "json", "--no-live-view"});
  ASSERT_TRUE(soak.wait_for_stderr("[etcd] write: ", seconds(60))) << soak.err();
  const std::string killed_at = drivers::etcd::utc_text(real_clock().wall_now() - seconds(1));
  kill_group(leader->service.pid);
  ASSERT_TRUE(soak.wait(kRunLimit).has_value()) << soak.err();
  const json report = json::parse(soak.out(), nullptr, false);
  ASSERT_TRUE(report.is_object()) << soak.err();
  EXPECT_EQ(report.at("meta").at("command"), "soak");
  const json changes = informational(report.at("phases").at(0), "etcd.leader_changes");
  EXPECT_GE(changes.value("value", 0.0), 1.0) << report.at("phases").at(0).dump();
  const std::string note = changes.value("note", "");
  EXPECT_TRUE(note.starts_with("over the soak: round 1: ")) << note;
  const json item = checklist_item(report, kLeaderItem);
  EXPECT_EQ(item.value("state", ""), "not met") << item.dump();
  const std::string evidence = item.value("evidence", "");
  const auto at = evidence.find("election at ");
  ASSERT_NE(at, std::string::npos) << evidence;
  EXPECT_GE(evidence.substr(at + 12, killed_at.size()), killed_at) << evidence;
  EXPECT_GE(report.at("soak").at("rounds").get<int>(), 2) << report.at("soak").dump();
}

// The soak's own leader watch runs the whole soak, not only the etcd phase: a soak of etcd and storage whose
// leader is killed while storage runs counts that election with its time (an event of the soak and the
// checklist's evidence), and the etcd time the item is judged on is the whole soak, well over the etcd
// phases' own time.
TEST_F(EtcdCluster, ASoakWatchesTheLeaderWhileAnotherPhaseRuns) {
  if (!lab::find_executable("fio")) {
    GTEST_SKIP() << "fio is not installed";
  }
  const std::vector<Member> all = members();
  auto leader = std::find_if(all.begin(), all.end(), [](const Member& m) { return m.id == m.leader; });
  ASSERT_NE(leader, all.end());
  std::ofstream(dir_.path() / "soak.yaml") << R"(name: etcd-cluster-soak
type: soak
target: local
soak_duration: 14s
checkpoint: 1s
criteria: {storage_tier: ssd, cluster_size: small, pod_images: cached}
capacity:
  etcd_ops: 5.5k
phases:
  - phase: etcd
    duration: 2s
    load: 5%
    settings: {failure_window: 5s, request_timeout: 2s, connections: 3, clients: 16}
  - phase: storage
    duration: 4s
    load: 10%
    settings: {size: 16MiB, ramp_time: 0s}
)";
  Running soak(dir_.path(),
               {"soak", "--plan", (dir_.path() / "soak.yaml").string(), "--lab-dir", lab().string(),
                "--results", (dir_.path() / "results").string(), "--format", "json", "--no-live-view"});
  ASSERT_TRUE(soak.wait_for_stderr("soak watches: etcd (every ", seconds(60))) << soak.err();
  ASSERT_TRUE(soak.wait_for_stderr("[storage] starting", seconds(60))) << soak.err();
  const std::string killed_at = drivers::etcd::utc_text(real_clock().wall_now() - seconds(1));
  kill_group(leader->service.pid);
  ASSERT_TRUE(soak.wait(kRunLimit).has_value()) << soak.err();
  const json report = json::parse(soak.out(), nullptr, false);
  ASSERT_TRUE(report.is_object()) << soak.err();
  const json& record = report.at("soak");

  std::vector<json> elections;
  for (const json& event : record.at("events")) {
    if (event.at("source") == "etcd" && event.at("kind") == "election") {
      elections.push_back(event);
    }
  }
  ASSERT_GE(elections.size(), 1U) << record.at("events").dump(1);
  const std::string text = elections[0].at("text");
  ASSERT_TRUE(text.starts_with("election at ")) << text;
  EXPECT_GE(text.substr(12, killed_at.size()), killed_at) << text;
  bool unreachable = false;
  for (const json& event : record.at("events")) {
    unreachable =
        unreachable || (event.at("kind") == "unreachable" &&
                        event.at("text").get<std::string>().starts_with(fmt::format(
                            "etcd {} stopped answering Status", leader->service.endpoint("client"))));
  }
  EXPECT_TRUE(unreachable) << record.at("events").dump(1);

  // The etcd phases ran 2 s of every round; the watch covered the soak.
  EXPECT_GT(record.at("etcd_watched_seconds").get<double>(), 10.0) << record.dump();
  const json changes = informational(report.at("phases").at(0), "etcd.leader_changes");
  EXPECT_GE(changes.value("value", 0.0), 1.0) << report.at("phases").at(0).dump();
  const json item = checklist_item(report, kLeaderItem);
  EXPECT_EQ(item.value("state", ""), "not met") << item.dump();
  EXPECT_NE(item.value("evidence", "").find("election at "), std::string::npos) << item.dump();
}

TEST_F(EtcdCluster, WithoutAKillNoElectionAndTheItemSaysHowLongItRan) {
  const std::vector<Member> all = members();
  auto leader = std::find_if(all.begin(), all.end(), [](const Member& m) { return m.id == m.leader; });
  ASSERT_NE(leader, all.end());
  Outcome outcome = run({});
  ASSERT_TRUE(outcome.exit_code.has_value()) << outcome.err;
  ASSERT_TRUE(outcome.etcd.is_object()) << outcome.err;
  const json changes = informational(outcome.etcd, "etcd.leader_changes");
  ASSERT_TRUE(changes.is_object()) << outcome.etcd.dump(1);
  EXPECT_EQ(changes.value("value", -1.0), 0.0) << changes.dump();
  EXPECT_NE(
      changes.value("note", "")
          .find(fmt::format("no election: leader {} ({}) throughout", drivers::etcd::member_text(leader->id),
                            leader->service.endpoint("client"))),
      std::string::npos)
      << changes.dump();
  EXPECT_EQ(informational(outcome.etcd, "etcd.members").value("value", 0.0), 3.0);

  const json item = checklist_item(outcome.report, kLeaderItem);
  ASSERT_TRUE(item.is_object()) << outcome.report.dump(1);
  EXPECT_EQ(item.value("state", ""), "not verified") << item.dump();
  const std::string evidence = item.value("evidence", "");
  // "etcd.leader_changes = 0 during a 12.2s run; ...", or "= 0 (etcd phase INVALID) during ..." when the
  // generator fell behind on a loaded machine: either way not "met", and how long it ran.
  EXPECT_TRUE(evidence.starts_with("etcd.leader_changes = 0")) << evidence;
  EXPECT_NE(evidence.find(" during a "), std::string::npos) << evidence;
  EXPECT_TRUE(evidence.ends_with(" run; needs a soak of at least 24h")) << evidence;
}

}  // namespace
}  // namespace kp::faults
