#include "drivers/storage/jobs.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::storage {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

int count_of(const std::string& text, std::string_view needle) {
  int count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

std::vector<std::string> names(const JobSet& set) {
  std::vector<std::string> out;
  for (const FioJob& job : set.jobs) {
    out.push_back(job.name);
  }
  return out;
}

TEST(StorageJobs, SmokeSharesTheDurationOverTheSeedsWorkloads) {
  const JobSet set = plan_jobs(Settings{}, config::TestType::smoke, minutes(2));
  EXPECT_EQ(names(set), (std::vector<std::string>{"randread-4k", "randwrite-4k", "seqwrite-1m", "seqread-1m",
                                                  "etcd-fsync"}));
  const FioJob& read = set.jobs[0];
  EXPECT_EQ(read.rw, "randread");
  EXPECT_EQ(read.block_size, 4096u);
  EXPECT_EQ(read.iodepth, 32);
  EXPECT_EQ(read.ioengine, "libaio");
  EXPECT_TRUE(read.direct);
  EXPECT_TRUE(read.time_based);
  EXPECT_TRUE(read.nominal);
  // 2 min over 5 jobs: 24 s each, 2 s of it ramp.
  EXPECT_EQ(read.ramp_time, seconds(2));
  EXPECT_EQ(read.runtime, seconds(22));
  EXPECT_EQ(set.jobs[1].rw, "randwrite");
  EXPECT_EQ(set.jobs[2].rw, "write");
  EXPECT_EQ(set.jobs[2].block_size, kMiB);
  EXPECT_EQ(set.jobs[2].iodepth, 8);
  EXPECT_EQ(set.jobs[3].rw, "read");
  const FioJob& etcd = set.jobs[4];
  EXPECT_EQ(etcd.rw, "write");
  EXPECT_EQ(etcd.ioengine, "sync");
  EXPECT_FALSE(etcd.direct);
  EXPECT_TRUE(etcd.fdatasync);
  EXPECT_EQ(etcd.block_size, 2300u);
  EXPECT_EQ(etcd.size, 22 * kMiB);
  EXPECT_FALSE(etcd.time_based);
  EXPECT_EQ(etcd.runtime, seconds(24));
  EXPECT_EQ(etcd.ramp_time, seconds(0));
  EXPECT_NE(etcd.file, read.file);
  EXPECT_EQ(set.planned, minutes(2));
  EXPECT_EQ(set.bytes_needed, kGiB + 22 * kMiB);
  ASSERT_EQ(set.notes.size(), 1u);
  EXPECT_EQ(set.notes[0], "each of the 5 fio jobs runs 22.00s after a 2.00s ramp (2m shared out)");
}

TEST(StorageJobs, StressRunsTheNominalJobsAndTheSearchTakesItsShareOfTheTime) {
  // The stress ramp is the iodepth search (depth_search.hpp), run as separate fio runs: the main job set
  // stays at the configured depths, and its jobs get the slots the search leaves.
  Settings settings;
  settings.iodepth = 24;
  const JobSet set = plan_jobs(settings, config::TestType::stress, minutes(15),
                               JobPlanOptions{.random_rate = std::nullopt, .search_slots = 22});
  EXPECT_EQ(names(set), (std::vector<std::string>{"randread-4k", "randwrite-4k", "seqwrite-1m", "seqread-1m",
                                                  "etcd-fsync"}));
  EXPECT_EQ(set.jobs[0].iodepth, 24);
  // 15 min over 5 + 22 slots: 33.333 s each, 2 s of it ramp.
  EXPECT_EQ(set.runtime, milliseconds(31333));
  EXPECT_EQ(set.ramp_time, seconds(2));
  EXPECT_EQ(set.jobs[0].runtime, set.runtime);
  ASSERT_EQ(set.notes.size(), 1u);
  EXPECT_EQ(set.notes[0],
            "each of the 5 fio jobs runs 31.33s after a 2.00s ramp (15m shared out, 22 slots for the stress "
            "search's steps)");
}

TEST(StorageJobs, ARateCapsEachRandomJobSplitOverItsClones) {
  Settings settings;
  settings.numjobs = 4;
  const JobSet set = plan_jobs(settings, config::TestType::load, minutes(30),
                               JobPlanOptions{.random_rate = Rate{10e3}, .search_slots = 0});
  for (const FioJob& job : set.jobs) {
    if (job.workload == Workload::randread || job.workload == Workload::randwrite) {
      // fio applies rate_iops to every clone: 4 x 2500 = the 10k asked for.
      EXPECT_EQ(job.rate_iops, 2500) << job.name;
      EXPECT_EQ(job.offered_iops(), 10e3) << job.name;
    } else {
      EXPECT_FALSE(job.rate_iops) << job.name << ": bandwidth and fsync jobs stay closed loop";
      EXPECT_FALSE(job.offered_iops());
    }
  }
  const std::string file = render_job_file(set);
  EXPECT_NE(file.find("[randread-4k]\nstonewall\n"), std::string::npos);
  EXPECT_EQ(count_of(file, "rate_iops=2500\n"), 2);
}

TEST(StorageJobs, RateIopsPerCloneRoundsAndNeverDropsToZero) {
  EXPECT_EQ(rate_iops_per_clone(Rate{10e3}, 1), 10000);
  EXPECT_EQ(rate_iops_per_clone(Rate{10}, 4), 3);  // 2.5 rounds up: 12 offered, stated as such
  EXPECT_EQ(rate_iops_per_clone(Rate{0.2}, 1), 1);
}

TEST(StorageJobs, ExplicitSweepRunsInAnyTestTypeAndEmptyTurnsItOff) {
  Settings settings;
  settings.qd_sweep = std::vector<int>{1, 8};
  settings.workloads = {Workload::randread};
  EXPECT_EQ(names(plan_jobs(settings, config::TestType::smoke, minutes(1))),
            (std::vector<std::string>{"randread-4k-qd1", "randread-4k-qd8", "randread-4k-qd32"}));
  settings.qd_sweep = std::vector<int>{};
  EXPECT_EQ(names(plan_jobs(settings, config::TestType::stress, minutes(10))),
            (std::vector<std::string>{"randread-4k"}));
}

TEST(StorageJobs, CompareToHalvesEachShare) {
  Settings settings;
  settings.compare_to = "/var/tmp";
  const JobSet set = plan_jobs(settings, config::TestType::smoke, minutes(2));
  // 2 min over 5 jobs run twice: 12 s each, 2 s of it ramp.
  EXPECT_EQ(set.jobs[0].runtime, seconds(10));
  EXPECT_EQ(
      set.notes[0],
      "each of the 5 fio jobs runs 10.00s after a 2.00s ramp (2m shared out, half of it for the compare-to "
      "path)");
}

TEST(StorageJobs, ShortPhasesShrinkTheRampButKeepASecondOfRuntime) {
  const JobSet set = plan_jobs(Settings{}, config::TestType::smoke, seconds(5));
  EXPECT_EQ(set.jobs[0].ramp_time, std::chrono::milliseconds(250));
  EXPECT_EQ(set.jobs[0].runtime, seconds(1));
}

TEST(StorageJobs, ExplicitRuntimeWins) {
  Settings settings;
  settings.runtime = seconds(3);
  settings.ramp_time = std::chrono::milliseconds(500);
  settings.workloads = {Workload::seqwrite};
  const JobSet set = plan_jobs(settings, config::TestType::load, minutes(30));
  ASSERT_EQ(set.jobs.size(), 1u);
  EXPECT_EQ(set.jobs[0].runtime, seconds(3));
  EXPECT_EQ(set.jobs[0].ramp_time, std::chrono::milliseconds(500));
  EXPECT_TRUE(set.notes.empty());
  EXPECT_EQ(set.bytes_needed, kGiB);
  EXPECT_EQ(set.planned, std::chrono::milliseconds(3500));
}

TEST(StorageJobs, JobFileIsStonewalledAndComplete) {
  Settings settings;
  settings.workloads = {Workload::randwrite, Workload::etcd_fsync};
  settings.size = 64 * kMiB;
  settings.numjobs = 2;
  settings.runtime = seconds(2);
  settings.ramp_time = std::chrono::milliseconds(500);
  EXPECT_EQ(
      render_job_file(plan_jobs(settings, config::TestType::smoke, minutes(2))),
      "; kubeproof storage phase: generated fio job file. fio runs in the directory under test; each job is "
      "a\n"
      "; stonewall (one after another, its own reporting group) and ramp_time is excluded from the results.\n"
      "[global]\n"
      "group_reporting=1\n"
      "\n"
      "[randwrite-4k]\n"
      "stonewall\n"
      "filename=kubeproof-fio.dat\n"
      "size=67108864\n"
      "rw=randwrite\n"
      "bs=4096\n"
      "ioengine=libaio\n"
      "direct=1\n"
      "iodepth=32\n"
      "numjobs=2\n"
      "time_based=1\n"
      "runtime=2000ms\n"
      "ramp_time=500ms\n"
      "\n"
      "[etcd-fsync]\n"
      "stonewall\n"
      "filename=kubeproof-etcd.dat\n"
      "size=23068672\n"
      "rw=write\n"
      "bs=2300\n"
      "ioengine=sync\n"
      "direct=0\n"
      "iodepth=1\n"
      "numjobs=1\n"
      "fdatasync=1\n"
      "runtime=10000ms\n");
}

TEST(StorageJobs, DefaultTimeoutLeavesRoomForLayoutAndSlowness) {
  const JobSet set = plan_jobs(Settings{}, config::TestType::smoke, minutes(2));
  // 2 min planned + 1 min + 2 min + (1 GiB + 22 MiB) at 20 MB/s (~54.9 s).
  const Duration timeout = default_timeout(set);
  EXPECT_GT(timeout, minutes(5) + seconds(54));
  EXPECT_LT(timeout, minutes(5) + seconds(56));
}

}  // namespace
}  // namespace kp::drivers::storage
