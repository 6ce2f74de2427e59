#include "drivers/storage/results.hpp"

#include <fstream>
#include <limits>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace kp::drivers::storage {
namespace {

FioOutput fixture_output(const std::string& name) {
  std::ifstream in(std::string(KP_SOURCE_DIR) + "/tests/fixtures/fio/" + name, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  Result<FioOutput> output = parse_fio_output(text.str(), name);
  EXPECT_TRUE(output) << (output ? "" : output.error().message);
  return output.value_or(FioOutput{});
}

// The job set kubeproof_jsonplus.json was produced from (its names are what matter).
JobSet jsonplus_jobs() {
  Settings settings;
  settings.size = 64 * kMiB;
  settings.runtime = std::chrono::seconds(1);
  settings.ramp_time = std::chrono::milliseconds(500);
  return plan_jobs(settings, config::TestType::smoke, std::chrono::minutes(2));
}

Measurement metric_value(std::string_view metric, double value) {
  Measurement m;
  m.metric = std::string(metric);
  m.value = value;
  return m;
}

FioJob named_job(std::string name, Workload workload, std::string rw) {
  FioJob job;
  job.name = std::move(name);
  job.workload = workload;
  job.rw = std::move(rw);
  job.fdatasync = workload == Workload::etcd_fsync;
  return job;
}

const Measurement* find(const std::vector<Measurement>& measurements, std::string_view metric) {
  for (const Measurement& m : measurements) {
    if (m.metric == metric) {
      return &m;
    }
  }
  return nullptr;
}

TEST(StorageResults, EveryMetricFromARealRunInBaseUnits) {
  Result<std::vector<JobSummary>> jobs =
      summarize_jobs(jsonplus_jobs(), fixture_output("kubeproof_jsonplus.json"), false, "x");
  ASSERT_TRUE(jobs) << jobs.error().message;
  ASSERT_EQ(jobs->size(), 5u);
  const std::vector<Measurement> m = measurements_from(*jobs, "fio-3.33");
  ASSERT_EQ(m.size(), 6u);

  ASSERT_NE(find(m, kRandReadIops), nullptr);
  EXPECT_DOUBLE_EQ(find(m, kRandReadIops)->value, 40928.071928);
  EXPECT_EQ(find(m, kRandReadIops)->source, "fio-3.33");
  EXPECT_EQ(find(m, kRandReadIops)->note,
            "fio randread 4KiB blocks, iodepth 32 x 1 job, libaio, direct: 40969 I/Os in 1.00s after a "
            "500.00ms ramp");
  EXPECT_DOUBLE_EQ(find(m, kRandWriteIops)->value, 33387.225549);

  // P99: the worse of randread (5.931 ms) and randwrite (8.356 ms), in seconds, with randwrite's histogram.
  const Measurement* p99 = find(m, kRandP99);
  ASSERT_NE(p99, nullptr);
  EXPECT_DOUBLE_EQ(p99->value, 8355840e-9);
  ASSERT_TRUE(p99->histogram);
  EXPECT_EQ(p99->histogram->count(), 33485u);
  EXPECT_EQ(
      p99->note,
      "completion latency (fio clat) at iodepth 32, the worse of randread P99 5.93ms, randwrite P99 8.36ms");

  // Bandwidth in bits per second: fio's bytes per second x 8.
  EXPECT_DOUBLE_EQ(find(m, kSeqWriteBandwidth)->value, 1789666990.0 * 8);
  EXPECT_DOUBLE_EQ(find(m, kSeqReadBandwidth)->value, 1130837672.0 * 8);

  const Measurement* etcd = find(m, kEtcdFsyncP99);
  ASSERT_NE(etcd, nullptr);
  EXPECT_DOUBLE_EQ(etcd->value, 9633792e-9);
  EXPECT_EQ(etcd->histogram->count(), 911u);
  EXPECT_EQ(etcd->note,
            "etcd's disk check: 911 sequential 2300-byte writes, fdatasync after each (391/s); read beside "
            "etcd.fsync.p99 (etcd's WAL fsync: target < 10ms, critical < 25ms)");
}

TEST(StorageResults, BandwidthIsIopsTimesBlockSize) {
  Result<std::vector<JobSummary>> jobs =
      summarize_jobs(jsonplus_jobs(), fixture_output("kubeproof_jsonplus.json"), false, "x");
  ASSERT_TRUE(jobs) << jobs.error().message;
  // Not exact: fio counts I/Os in flight when the ramp ends in the bytes but not in the I/Os (up to one
  // queue's worth), which is 0.5 % of these 1-second sequential jobs and nothing over real runtimes.
  for (const JobSummary& job : *jobs) {
    const double expected = job.iops * static_cast<double>(job.job.block_size);
    EXPECT_NEAR(job.bytes_per_second, expected, expected * 0.01) << job.job.name;
  }
}

TEST(StorageResults, AnchorRunsGiveTheirNumbers) {
  // The anchor files carry their own job names; a job set with the same names reads them.
  JobSet set;
  set.jobs.push_back(named_job("randread4k_libaio_1", Workload::randread, "randread"));
  Result<std::vector<JobSummary>> jobs =
      summarize_jobs(set, fixture_output("randread4k_libaio_1.json"), false, "x");
  ASSERT_TRUE(jobs) << jobs.error().message;
  EXPECT_DOUBLE_EQ((*jobs)[0].iops, 81625.337466);
  EXPECT_DOUBLE_EQ(*(*jobs)[0].p99, 577536e-9);
  EXPECT_DOUBLE_EQ(*(*jobs)[0].p50, 358400e-9);
  EXPECT_EQ((*jobs)[0].runtime, std::chrono::milliseconds(10001));

  JobSet etcd;
  etcd.jobs.push_back(named_job("etcdfsync_1", Workload::etcd_fsync, "write"));
  Result<std::vector<JobSummary>> synced =
      summarize_jobs(etcd, fixture_output("etcdfsync_1.json"), false, "x");
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_DOUBLE_EQ(*(*synced)[0].p99, 205824e-9);
}

TEST(StorageResults, MissingJobOrNoIoIsAnErrorNamingIt) {
  JobSet set = jsonplus_jobs();
  set.jobs[3].name = "seqread-2m";
  Result<std::vector<JobSummary>> jobs =
      summarize_jobs(set, fixture_output("kubeproof_jsonplus.json"), false, "x");
  ASSERT_FALSE(jobs);
  EXPECT_EQ(jobs.error().message, "x: no job \"seqread-2m\" in fio's output");

  Result<std::vector<JobSummary>> idle =
      summarize_jobs(jsonplus_jobs(), fixture_output("fio_interrupted.json"), false, "x");
  ASSERT_FALSE(idle);
  EXPECT_EQ(idle.error().message, "x: jobs[1] \"randwrite-4k\": write.io_bytes: 0 (the job did no I/O)");
}

TEST(StorageResults, PartialRunKeepsWhatFinished) {
  Result<std::vector<JobSummary>> jobs =
      summarize_jobs(jsonplus_jobs(), fixture_output("fio_interrupted.json"), true, "x");
  ASSERT_TRUE(jobs) << jobs.error().message;
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].job.name, "randread-4k");
  const std::vector<Measurement> m = measurements_from(*jobs, "fio-3.33");
  EXPECT_NE(find(m, kRandReadIops), nullptr);
  EXPECT_NE(find(m, kRandP99), nullptr);
  EXPECT_EQ(find(m, kRandWriteIops), nullptr);
}

JobSummary sweep_point(Workload workload, int depth, double iops, double p99, bool nominal) {
  JobSummary summary;
  summary.job.name = fmt::format("{}-4k-qd{}", to_string(workload), depth);
  summary.job.workload = workload;
  summary.job.rw = std::string(to_string(workload));
  summary.job.block_size = 4096;
  summary.job.iodepth = depth;
  summary.job.numjobs = 1;
  summary.job.ioengine = "libaio";
  summary.job.nominal = nominal;
  summary.job.runtime = std::chrono::seconds(60);
  summary.iops = iops;
  summary.bytes_per_second = iops * 4096;
  summary.ios = static_cast<std::uint64_t>(iops * 60);
  summary.runtime = std::chrono::seconds(60);
  summary.p99 = p99;
  return summary;
}

TEST(StorageResults, SweepReportsThePeakAndTheSaturationPoint) {
  const std::vector<JobSummary> jobs = {
      sweep_point(Workload::randread, 1, 10000, 150e-6, false),
      sweep_point(Workload::randread, 4, 38000, 160e-6, false),
      sweep_point(Workload::randread, 16, 84000, 300e-6, false),
      sweep_point(Workload::randread, 32, 88000, 600e-6, true),
      sweep_point(Workload::randread, 64, 87000, 1.4e-3, false),
  };
  const std::vector<Measurement> m = measurements_from(jobs, "fio-3.33");
  const Measurement* iops = find(m, kRandReadIops);
  ASSERT_NE(iops, nullptr);
  EXPECT_DOUBLE_EQ(iops->value, 88000);
  EXPECT_TRUE(
      iops->note.starts_with("peak over the queue-depth sweep (qd1 10k IOPS, qd4 38k IOPS, qd16 84k IOPS, "
                             "qd32 88k IOPS, qd64 87k IOPS); saturates at qd16 (P99 0.30ms); fio randread"))
      << iops->note;
  // The P99 row is judged at the nominal depth, not at the peak or the deepest queue.
  EXPECT_DOUBLE_EQ(find(m, kRandP99)->value, 600e-6);
}

TEST(StorageResults, BlocksOtherThan4KiBAreSaidSo) {
  JobSummary job = sweep_point(Workload::randread, 32, 50000, 1e-3, true);
  job.job.block_size = 8192;
  const std::vector<Measurement> m = measurements_from({job}, "fio");
  EXPECT_TRUE(find(m, kRandReadIops)
                  ->note.ends_with("; measured with 8KiB blocks, not the 4 KiB the metric is named for"))
      << find(m, kRandReadIops)->note;
}

TEST(StorageResults, CacheWarnings) {
  JobSummary read = sweep_point(Workload::randread, 32, 50000, 1e-3, true);
  read.p50 = 300e-6;
  EXPECT_TRUE(cache_warnings({read}, true, kGiB, 23 * kGiB).empty());

  read.p50 = 2e-6;
  std::vector<std::string> warnings = cache_warnings({read}, true, kGiB, 23 * kGiB);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(
      warnings[0],
      "reads look served from a cache, not the device: randread-4k-qd32 median completion 2.00us (a device "
      "takes longer than 5.00us); the 1GiB test file is smaller than this host's 23GiB of RAM, so a cache "
      "below the file system (hypervisor, network storage, controller) may hold it: raise size");

  JobSummary seq = sweep_point(Workload::seqread, 8, 20000, 1e-3, true);
  seq.bytes_per_second = 20e9;
  warnings = cache_warnings({seq}, true, 64 * kGiB, 23 * kGiB);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(warnings[0].find("at 20000.00MB/s (beyond a PCIe 5.0 x4 NVMe link)") != std::string::npos)
      << warnings[0];

  // Buffered I/O over a file that fits in RAM warns whatever the numbers say.
  read.p50 = 300e-6;
  warnings = cache_warnings({read}, false, kGiB, 23 * kGiB);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(
      warnings[0],
      "reads likely come from the page cache: buffered I/O (direct: false) over a 1GiB test file on a host "
      "with 23GiB of RAM; use direct: true, or a size of at least 46GiB");
  EXPECT_TRUE(cache_warnings({read}, false, 64 * kGiB, 23 * kGiB).empty());
}

TEST(StorageResults, ComparisonFlagsAVolumeThatBeatsLocalDisk) {
  const std::vector<Measurement> volume = {
      metric_value(kRandReadIops, 30000),
      metric_value(kRandWriteIops, 12000),
      metric_value(kRandP99, 0.5e-3),
      metric_value(kSeqReadBandwidth, 8e9),
  };
  const std::vector<Measurement> local = {
      metric_value(kRandReadIops, 60000),
      metric_value(kRandWriteIops, 10000),
      metric_value(kRandP99, 1e-3),
  };
  const std::vector<ComparisonRow> rows = compare(volume, local);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_DOUBLE_EQ(rows[0].ratio, 0.5);
  EXPECT_FALSE(rows[0].volume_beats_local);
  // 1.2x the local write IOPS: beyond the 10 % margin.
  EXPECT_DOUBLE_EQ(rows[1].ratio, 1.2);
  EXPECT_TRUE(rows[1].volume_beats_local);
  // Half the local latency: better, so flagged.
  EXPECT_DOUBLE_EQ(rows[2].ratio, 0.5);
  EXPECT_TRUE(rows[2].volume_beats_local);
  EXPECT_EQ(comparison_note(rows[0], "/var/tmp"), "x0.50 of /var/tmp (60k IOPS there)");
  EXPECT_EQ(comparison_note(rows[1], "/var/tmp"),
            "x1.20 of /var/tmp (10k IOPS there); the volume BEATS local disk: a sign of caching or of writes "
            "acknowledged before they are durable");
}

TEST(StorageResults, FormatsForPeople) {
  EXPECT_EQ(format_metric(kRandReadIops, 88215.5), "88.22k IOPS");
  EXPECT_EQ(format_metric(kRandP99, 577536e-9), "0.58ms");
  EXPECT_EQ(format_metric(kSeqReadBandwidth, 1330445635.0 * 8), "1330.45MB/s");
  EXPECT_EQ(format_metric(kEtcdFsyncP99, 205824e-9), "0.21ms");
}

}  // namespace
}  // namespace kp::drivers::storage

namespace kp::drivers::storage {
namespace {

JobSummary rated_job(int rate_iops, double iops, double mean_seconds, int iodepth) {
  JobSummary job;
  job.job.name = "randread-4k";
  job.job.workload = Workload::randread;
  job.job.rw = "randread";
  job.job.iodepth = iodepth;
  job.job.numjobs = 1;
  job.job.rate_iops = rate_iops;
  job.iops = iops;
  job.runtime = std::chrono::seconds(10);
  job.ios = static_cast<std::uint64_t>(iops * 10);
  job.mean = mean_seconds;
  job.p99 = mean_seconds * 2;
  return job;
}

TEST(StorageValidity, ClosedLoopIsAStatementOnly) {
  JobSummary job = rated_job(1000, 900, 1e-3, 32);
  job.job.rate_iops.reset();
  const load::GeneratorAccount account = generator_account(job, true);
  EXPECT_FALSE(account.open_loop);
  EXPECT_EQ(account.sent, 9000u);
  const load::Validity validity = load::judge_validity(account, 5e-3);
  EXPECT_TRUE(validity.valid());
  EXPECT_EQ(validity.statement, "randread-4k I/Os: closed loop (rate max): no schedule to keep, sent 9000");
}

TEST(StorageValidity, AtARateTheIopsRowsCarryOffered) {
  const std::vector<Measurement> measurements =
      measurements_from({rated_job(2000, 1999, 1e-4, 32)}, "fio-3.33");
  const Measurement* iops = find(measurements, kRandReadIops);
  ASSERT_NE(iops, nullptr);
  EXPECT_EQ(iops->offered, 2000);
  EXPECT_EQ(iops->value, 1999);
}

TEST(StorageValidity, AShortfallTheSlotsCouldNotCarryIsTheDevices) {
  // iodepth 1 at 1 ms per I/O carries at most 1000/s: 2000/s offered, 1000/s done is the device's answer
  // (the IOPS row fails), never INVALID.
  const load::GeneratorAccount account = generator_account(rated_job(2000, 1000, 1e-3, 1), true);
  EXPECT_TRUE(account.open_loop);
  EXPECT_EQ(account.due, 20000u);
  EXPECT_EQ(account.sent, 10000u);
  EXPECT_EQ(account.queued_for_server, 10000u);
  EXPECT_EQ(account.unsent_for_server, 10000u);
  const load::Validity validity = load::judge_validity(account, 5e-3);
  EXPECT_TRUE(validity.valid()) << validity.invalid_reasons.front();
  EXPECT_NE(validity.statement.find("10000 queued for a connection"), std::string::npos)
      << validity.statement;
}

TEST(StorageValidity, AShortfallWithFreeSlotsIsFiosOwnOnBothSidesOfTheBoundary) {
  // iodepth 32 at 1 ms carries 32k/s: a shortfall at 2000/s offered is fio's own.
  const load::GeneratorAccount short_by_2 = generator_account(rated_job(2000, 1960, 1e-3, 32), true);
  EXPECT_EQ(short_by_2.queued_for_server, 0u);
  const load::Validity invalid = load::judge_validity(short_by_2, 5e-3);
  ASSERT_FALSE(invalid.valid());
  EXPECT_NE(invalid.invalid_reasons[0].find("98.00 %"), std::string::npos) << invalid.invalid_reasons[0];
  // 99 % of due is still valid; and a row that is not judged from the rate is never INVALID for it.
  EXPECT_TRUE(load::judge_validity(generator_account(rated_job(2000, 1980, 1e-3, 32), true), 5e-3).valid());
  EXPECT_TRUE(load::judge_validity(generator_account(rated_job(2000, 1960, 1e-3, 32), false), 5e-3).valid());
}

TEST(StorageValidity, DueBeyondALongLongIsCountedAndBeyondAUint64Saturates) {
  // A high rate over a long runtime went through llround past a long long (undefined behaviour).
  JobSummary job = rated_job(2'000'000'000, 1000, 1e-3, 32);
  job.runtime = std::chrono::hours(24 * 365 * 200);
  const double seconds = std::chrono::duration<double>(job.runtime).count();
  EXPECT_DOUBLE_EQ(static_cast<double>(generator_account(job, true).due), 2e9 * seconds);
  job.job.numjobs = 256;
  EXPECT_EQ(generator_account(job, true).due, std::numeric_limits<std::uint64_t>::max());
}

}  // namespace
}  // namespace kp::drivers::storage
