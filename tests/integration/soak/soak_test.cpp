// `kubeproof soak` against the lab's real etcd, through the real binary: an 8 s soak of the etcd phase in 1 s
// rounds with a checkpoint every second is killed with SIGKILL once a checkpoint written after its second
// round has been announced (a line on stderr, never a sleep); report.json then holds the rounds and the hours
// measured so far, marked IN PROGRESS, and `soak --resume` finishes it in the same folder, merging the
// hours. The bad-input cases are one line each, exit 2.

#include <signal.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fault_support.hpp"
#include "lab/process.hpp"

namespace kp::faults {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

std::string plan_text(std::string_view soak_duration) {
  return fmt::format(R"(name: soak-it
type: soak
target: local
soak_duration: {}
checkpoint: 1s
criteria: {{storage_tier: ssd, cluster_size: small, pod_images: cached}}
capacity:
  etcd_ops: 5.5k
phases:
  - phase: etcd
    duration: 1s
    load: 5%
)",
                     soak_duration);
}

json read_json(const fs::path& file) {
  std::ifstream in(file);
  return json::parse(in, nullptr, false);
}

// The etcd.write.p99 rows of soak.hours: hour -> count.
std::map<int, std::uint64_t> write_hours(const json& report) {
  std::map<int, std::uint64_t> out;
  for (const json& hour : report.at("soak").at("hours")) {
    if (hour.at("metric") == "etcd.write.p99") {
      out[hour.at("hour").get<int>()] = hour.at("count").get<std::uint64_t>();
    }
  }
  return out;
}

// The highest "soak checkpoint N written" on `err` (0 for none).
int last_checkpoint(const std::string& err) {
  static const std::regex line("checkpoint ([0-9]+) written");
  int last = 0;
  for (auto it = std::sregex_iterator(err.begin(), err.end(), line); it != std::sregex_iterator(); ++it) {
    last = std::max(last, std::stoi((*it)[1]));
  }
  return last;
}

class Soak : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!lab::find_executable("etcd")) {
      GTEST_SKIP() << "etcd is not installed (Debian package etcd-server)";
    }
    Running up(dir_.path(), {"lab", "--lab-dir", lab().string(), "up", "--service", "etcd"});
    const std::optional<int> code = up.wait(seconds(60));
    started_ = true;
    ASSERT_EQ(code, 0) << up.out() << up.err();
    std::ofstream(plan()) << plan_text("8s");
  }
  void TearDown() override {
    if (started_) {
      lab_down(lab());
    }
  }
  fs::path lab() const { return dir_.path() / "lab"; }
  fs::path plan() const { return dir_.path() / "plan.yaml"; }
  fs::path results() const { return dir_.path() / "results"; }
  std::vector<std::string> args(std::vector<std::string> more) const {
    std::vector<std::string> out = {"soak",         "--plan",    plan().string(),    "--lab-dir",
                                    lab().string(), "--results", results().string(), "--no-live-view"};
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }

  TempDir dir_{"kpsoak"};
  bool started_ = false;
};

// Starts the soak, waits for a checkpoint written after its second round began (so it holds the first
// round's measurements), kills it with SIGKILL, and returns its results folder (empty on a failure, which the
// caller's ASSERT reports).
fs::path kill_after_the_first_round(Running& soak) {
  if (!soak.wait_for_stderr("soak round 2 (", seconds(60))) {
    ADD_FAILURE() << "no second round: " << soak.err();
    return {};
  }
  const int next = last_checkpoint(soak.err()) + 1;
  if (!soak.wait_for_stderr(fmt::format("soak checkpoint {} written", next), seconds(30))) {
    ADD_FAILURE() << "no checkpoint after the second round began: " << soak.err();
    return {};
  }
  soak.send(SIGKILL);
  EXPECT_EQ(soak.wait(seconds(30)), std::nullopt);
  EXPECT_EQ(soak.signalled(), SIGKILL);
  std::smatch found;
  const std::string err = soak.err();
  static const std::regex written("written to (.*)/ \\(round");
  if (!std::regex_search(err, found, written)) {
    ADD_FAILURE() << "no checkpoint folder: " << err;
    return {};
  }
  return found[1].str();
}

TEST_F(Soak, AKilledSoakKeepsItsLastCheckpointAndResumes) {
  fs::path folder;
  std::map<int, std::uint64_t> before;
  {
    Running soak(dir_.path(), args({}));
    folder = kill_after_the_first_round(soak);
    ASSERT_FALSE(folder.empty());
  }
  const json killed = read_json(folder / "report.json");
  ASSERT_TRUE(killed.is_object());
  EXPECT_EQ(killed.at("schema_version"), 4);
  EXPECT_EQ(killed.at("meta").at("command"), "soak");
  // Nothing is signed at a checkpoint: IN PROGRESS, or FAIL when a metric is already beyond Critical (a slow
  // disk under etcd's fsync); the soak goes on either way.
  const json& record = killed.at("soak");
  EXPECT_EQ(record.at("finished"), false);
  if (killed.at("overall").at("verdict") == "FAIL") {
    EXPECT_EQ(killed.at("overall").at("exit_code"), 1);
    EXPECT_EQ(killed.at("phases").at(0).at("verdict"), "FAIL") << killed.at("phases").at(0).dump();
  } else {
    EXPECT_EQ(killed.at("overall").at("verdict"), "IN PROGRESS");
    EXPECT_EQ(killed.at("overall").at("exit_code"), 4);
  }
  EXPECT_GE(record.at("rounds").get<int>(), 2);
  EXPECT_EQ(record.at("planned_seconds").get<double>(), 8.0);
  EXPECT_EQ(record.at("checkpoint_seconds").get<double>(), 1.0);
  EXPECT_GT(record.at("etcd_watched_seconds").get<double>(), 0.5);
  before = write_hours(killed);
  ASSERT_EQ(before.size(), 1U) << record.at("hours").dump();
  EXPECT_GT(before.at(0), 0U);
  // The first round's etcd phase is shown, with its rows measured.
  const json& etcd = killed.at("phases").at(0);
  EXPECT_EQ(etcd.at("phase"), "etcd");
  EXPECT_EQ(etcd.at("status"), "completed") << etcd.dump();
  EXPECT_TRUE(etcd.at("histograms").contains("etcd.write.p99"));
  for (std::string_view file : {"report.html", "junit.xml", "summary.md", "metrics.prom"}) {
    EXPECT_TRUE(fs::exists(folder / file)) << file;
  }

  Running resumed(dir_.path(), args({"--resume", folder.string()}));
  const std::optional<int> code = resumed.wait(seconds(90));
  ASSERT_TRUE(code.has_value()) << resumed.err();
  EXPECT_NE(*code, 2) << resumed.err();
  EXPECT_NE(resumed.err().find("resuming the soak in"), std::string::npos) << resumed.err();
  const json done = read_json(folder / "report.json");
  ASSERT_TRUE(done.is_object());
  EXPECT_NE(done.at("overall").at("verdict"), "IN PROGRESS");
  EXPECT_EQ(done.at("overall").at("exit_code"), *code);
  const json& finished = done.at("soak");
  EXPECT_EQ(finished.at("finished"), true);
  ASSERT_EQ(finished.at("resumes").size(), 1U);
  EXPECT_EQ(finished.at("resumes").at(0).at("after_seconds"), record.at("elapsed_seconds"));
  EXPECT_GT(finished.at("rounds").get<int>(), record.at("rounds").get<int>());
  EXPECT_GE(finished.at("elapsed_seconds").get<double>(), 7.9);
  EXPECT_GT(finished.at("etcd_watched_seconds").get<double>(),
            record.at("etcd_watched_seconds").get<double>());
  // The resumed rounds merged into the same hour: more requests than at the kill, never fewer.
  const std::map<int, std::uint64_t> after = write_hours(done);
  ASSERT_EQ(after.size(), 1U);
  EXPECT_GT(after.at(0), before.at(0));
  // The checklist's leader item is judged from the soak's etcd time, and says how long it was.
  bool leader_item = false;
  for (const json& item : done.at("checklist")) {
    if (item.at("item") == "No etcd leader election during 24h test") {
      leader_item = true;
      EXPECT_EQ(item.at("state"), "not verified") << item.dump();
    }
  }
  EXPECT_TRUE(leader_item);

  // The soak has ended: a second resume is refused, one line, exit 2.
  Running again(dir_.path(), args({"--resume", folder.string()}));
  EXPECT_EQ(again.wait(seconds(30)), 2);
  EXPECT_EQ(again.err(), fmt::format("kubeproof: --resume {}: that soak has ended ({}); nothing to resume\n",
                                     folder.string(), done.at("overall").at("verdict").get<std::string>()));
}

// A checkpoint whose verdict is already FAIL (criteria no etcd can meet: write P99 under 1 ns) is still a
// soak going on: it resumes, and only the report written when its time is up is finished.
TEST_F(Soak, ASoakFailingSoFarStillResumes) {
  std::ifstream default_criteria(fs::path(KP_SOURCE_DIR) / "criteria/default.yaml");
  std::ostringstream text;
  text << default_criteria.rdbuf();
  std::string criteria = text.str();
  const std::string row = "  - metric: etcd.write.p99\n";
  const std::size_t at = criteria.find(row);
  ASSERT_NE(at, std::string::npos);
  const std::size_t target = criteria.find("    target: 25ms\n    critical: 50ms\n", at);
  ASSERT_NE(target, std::string::npos);
  criteria.replace(target, std::string("    target: 25ms\n    critical: 50ms\n").size(),
                   "    target: 1ns\n    critical: 1ns\n");
  const fs::path strict = dir_.path() / "strict.yaml";
  std::ofstream(strict) << criteria;

  fs::path folder;
  {
    Running soak(dir_.path(), args({"--criteria", strict.string()}));
    folder = kill_after_the_first_round(soak);
    ASSERT_FALSE(folder.empty());
  }
  const json killed = read_json(folder / "report.json");
  ASSERT_TRUE(killed.is_object());
  // FAIL, already given. Or, when etcd's load generator fell behind (a busy or an instrumented machine: seen
  // under ASan), the etcd phase is INVALID, which a checkpoint does not sign, since a later round may measure
  // validly: then the checkpoint is IN PROGRESS. Either way the soak resumes below.
  const std::string verdict = killed.at("overall").at("verdict");
  std::string etcd_verdict;
  for (const json& phase : killed.value("phases", json::array())) {
    if (phase.value("phase", "") == "etcd") {
      etcd_verdict = phase.value("verdict", "");
    }
  }
  if (verdict == "IN PROGRESS") {
    EXPECT_EQ(etcd_verdict, "INVALID") << killed.at("overall").dump();
  } else {
    EXPECT_EQ(verdict, "FAIL") << killed.at("overall").dump();
    EXPECT_EQ(etcd_verdict, "FAIL");
  }
  EXPECT_EQ(killed.at("soak").at("finished"), false);

  Running resumed(dir_.path(), args({"--criteria", strict.string(), "--resume", folder.string()}));
  const std::optional<int> code = resumed.wait(seconds(90));
  ASSERT_TRUE(code.has_value()) << resumed.err();
  EXPECT_TRUE(*code == 1 || *code == 4) << *code << ": " << resumed.err();
  EXPECT_NE(resumed.err().find("resuming the soak in"), std::string::npos) << resumed.err();
  const json done = read_json(folder / "report.json");
  ASSERT_TRUE(done.is_object());
  EXPECT_NE(done.at("overall").at("verdict"), "IN PROGRESS");
  EXPECT_EQ(done.at("overall").at("exit_code"), *code);
  EXPECT_EQ(done.at("soak").at("finished"), true);
  EXPECT_EQ(done.at("soak").at("resumes").size(), 1U);
}

// Not only a soak: a run killed mid-phase keeps its last checkpoint, the running phase in progress with its
// live counts so far.
TEST_F(Soak, ARunKilledMidPhaseKeepsItsLastCheckpoint) {
  Running run(dir_.path(),
              {"run", "--type", "smoke", "--only", "etcd", "--duration-scale", "0.1", "--checkpoint", "1s",
               "--lab-dir", lab().string(), "--results", (dir_.path() / "runs").string(), "--no-live-view"});
  ASSERT_TRUE(run.wait_for_stderr("[etcd] write: ", seconds(60))) << run.err();
  const int next = last_checkpoint(run.err()) + 1;
  ASSERT_TRUE(run.wait_for_stderr(fmt::format("checkpoint {} written", next + 1), seconds(30))) << run.err();
  run.send(SIGKILL);
  run.wait(seconds(30));
  std::smatch match;
  const std::string err = run.err();
  ASSERT_TRUE(std::regex_search(err, match, std::regex("checkpoint [0-9]+ written to (.*)/"))) << err;
  const json killed = read_json(fs::path(match[1].str()) / "report.json");
  ASSERT_TRUE(killed.is_object());
  EXPECT_EQ(killed.at("overall").at("verdict"), "IN PROGRESS");
  EXPECT_EQ(killed.at("soak"), nullptr);
  const json& etcd = killed.at("phases").at(0);
  EXPECT_EQ(etcd.at("status"), "in progress");
  EXPECT_EQ(etcd.at("verdict"), "IN PROGRESS");
  bool live_note = false;
  for (const json& note : etcd.at("notes")) {
    live_note = live_note || note.get<std::string>().starts_with("so far (live counts, not judged): ");
  }
  EXPECT_TRUE(live_note) << etcd.at("notes").dump();
  EXPECT_FALSE(etcd.at("timeseries").at("series").empty());
  EXPECT_EQ(killed.at("phases").at(1).at("reason"), "not selected");
}

TEST_F(Soak, BadInputIsOneLineAndExitTwo) {
  // A duration under the checkpoint interval.
  Running short_soak(dir_.path(), args({"--duration", "500ms"}));
  EXPECT_EQ(short_soak.wait(seconds(30)), 2);
  EXPECT_EQ(short_soak.err(),
            "kubeproof: --duration: must be at least the checkpoint interval (1.00s), got \"500ms\"\n");

  // --resume on a folder that is not a soak: a run's.
  Running run(dir_.path(),
              {"run", "--type", "smoke", "--only", "etcd", "--duration-scale", "0.01", "--lab-dir",
               lab().string(), "--results", (dir_.path() / "runs").string(), "--no-live-view"});
  ASSERT_TRUE(run.wait(seconds(60)).has_value()) << run.err();
  fs::path run_folder;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_.path() / "runs")) {
    run_folder = entry.path();
  }
  ASSERT_FALSE(run_folder.empty());
  Running not_soak(dir_.path(), args({"--resume", run_folder.string()}));
  EXPECT_EQ(not_soak.wait(seconds(30)), 2);
  EXPECT_EQ(not_soak.err(),
            fmt::format("kubeproof: --resume {}: not a soak (its report.json is from `kubeproof "
                        "run`)\n",
                        run_folder.string()));

  // --resume with another plan than the soak's: a soak killed at its first checkpoint, then resumed with a
  // plan that differs by one line.
  fs::path folder;
  {
    Running soak(dir_.path(), args({}));
    ASSERT_TRUE(soak.wait_for_stderr("soak checkpoint 1 written", seconds(60))) << soak.err();
    soak.send(SIGKILL);
    soak.wait(seconds(30));
    std::smatch match;
    const std::string err = soak.err();
    ASSERT_TRUE(std::regex_search(err, match, std::regex("written to (.*)/ \\(round"))) << err;
    folder = match[1].str();
  }
  std::ofstream(plan()) << plan_text("9s");
  Running differs(dir_.path(), args({"--resume", folder.string()}));
  EXPECT_EQ(differs.wait(seconds(30)), 2);
  EXPECT_NE(differs.err().find(
                fmt::format("kubeproof: --resume {}: the plan differs from the soak's", folder.string())),
            std::string::npos)
      << differs.err();
  const std::string err = differs.err();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace
}  // namespace kp::faults
