#include "drivers/storage/settings.hpp"

#include <limits>

#include <gtest/gtest.h>

namespace kp::drivers::storage {
namespace {

// The settings node as a plan holds it: its own lines start at line 1 of the text.
Result<Settings> parse(const std::string& yaml) {
  return parse_settings(config::YamlField(YAML::Load(yaml), "plans/x.yaml", "phases[4].settings"));
}

std::string parse_error(const std::string& yaml) {
  Result<Settings> settings = parse(yaml);
  if (settings) {
    return "parsed";
  }
  EXPECT_EQ(settings.error().kind, ErrorKind::input);
  return settings.error().message;
}

TEST(StorageSettings, NullGivesTheDefaults) {
  Result<Settings> settings = parse_settings(config::YamlField(YAML::Node(), "plans/x.yaml", "s"));
  ASSERT_TRUE(settings);
  EXPECT_TRUE(settings->volume.empty());
  EXPECT_FALSE(settings->compare_to);
  EXPECT_EQ(settings->fio_binary, "fio");
  EXPECT_EQ(settings->workloads.size(), 5u);
  EXPECT_EQ(settings->ioengine, "libaio");
  EXPECT_TRUE(settings->direct);
  EXPECT_EQ(settings->size, kGiB);
  EXPECT_EQ(settings->block_size, 4096u);
  EXPECT_EQ(settings->iodepth, 32);
  EXPECT_EQ(settings->seq_block_size, kMiB);
  EXPECT_EQ(settings->seq_iodepth, 8);
  EXPECT_EQ(settings->numjobs, 1);
  EXPECT_FALSE(settings->runtime);
  EXPECT_EQ(settings->ramp_time, std::chrono::seconds(2));
  EXPECT_FALSE(settings->qd_sweep);
  EXPECT_EQ(settings->etcd_block_size, 2300u);
  EXPECT_EQ(settings->etcd_size, 22 * kMiB);
  EXPECT_FALSE(settings->timeout);
}

TEST(StorageSettings, ParsesEveryKey) {
  Result<Settings> settings = parse(R"(
volume: /mnt/pv
compare_to: /var/tmp
fio_binary: /opt/fio/bin/fio
workloads: [seqread, randread]
ioengine: io_uring
direct: true
size: 4GiB
block_size: 8KiB
iodepth: 64
seq_block_size: 128KiB
seq_iodepth: 16
numjobs: 4
runtime: 30s
ramp_time: 5s
qd_sweep: [16, 1, 4, 16]
etcd_block_size: 4096
etcd_size: 8MiB
timeout: 20m
)");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->volume, "/mnt/pv");
  EXPECT_EQ(settings->compare_to, std::filesystem::path("/var/tmp"));
  EXPECT_EQ(settings->fio_binary, "/opt/fio/bin/fio");
  // Always run in the seed's order, whatever order the list has.
  EXPECT_EQ(settings->workloads, (std::vector<Workload>{Workload::randread, Workload::seqread}));
  EXPECT_TRUE(settings->runs(Workload::seqread));
  EXPECT_FALSE(settings->runs(Workload::etcd_fsync));
  EXPECT_EQ(settings->ioengine, "io_uring");
  EXPECT_EQ(settings->size, 4 * kGiB);
  EXPECT_EQ(settings->block_size, 8192u);
  EXPECT_EQ(settings->iodepth, 64);
  EXPECT_EQ(settings->seq_block_size, 128 * kKiB);
  EXPECT_EQ(settings->seq_iodepth, 16);
  EXPECT_EQ(settings->numjobs, 4);
  EXPECT_EQ(settings->runtime, std::chrono::seconds(30));
  EXPECT_EQ(settings->ramp_time, std::chrono::seconds(5));
  EXPECT_EQ(settings->qd_sweep, (std::vector<int>{1, 4, 16}));
  EXPECT_EQ(settings->etcd_block_size, 4096u);
  EXPECT_EQ(settings->etcd_size, 8 * kMiB);
  EXPECT_EQ(settings->timeout, std::chrono::minutes(20));
}

TEST(StorageSettings, EmptySweepTurnsTheStressSweepOff) {
  Result<Settings> settings = parse("qd_sweep: []");
  ASSERT_TRUE(settings) << settings.error().message;
  ASSERT_TRUE(settings->qd_sweep);
  EXPECT_TRUE(settings->qd_sweep->empty());
}

TEST(StorageSettings, RateIsTheKernelsSettingAndDefaultsToMax) {
  // The IOPS rows measure what the volume can do: closed loop unless the plan asks for a rate.
  EXPECT_EQ(parse("")->rate, load::RateSetting::maximum());
  EXPECT_EQ(parse("rate: max")->rate, load::RateSetting::maximum());
  EXPECT_EQ(parse("rate: capacity")->rate, load::RateSetting::from_capacity());
  EXPECT_EQ(parse("rate: 5k IOPS")->rate, load::RateSetting::fixed_at(Rate{5e3}));
  EXPECT_EQ(
      parse_error("size: 1GiB\nrate: fast"),
      "plans/x.yaml:2: phases[4].settings.rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");
  EXPECT_EQ(parse_error("rate: 0"),
            "plans/x.yaml:1: phases[4].settings.rate: not a rate > 0 (or \"max\", \"capacity\"), got \"0\"");
}

TEST(StorageSettings, StressStepsAreMultiplesOfTheIodepthOnlyWhenWritten) {
  Result<Settings> settings = parse("iodepth: 16\nstress:\n  steps: [25%, 50%, 100%, 400%]\n  bisect: 2\n");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->stress_steps, (std::vector<double>{0.25, 0.5, 1.0, 4.0}));
  EXPECT_EQ(settings->stress_bisect, 2);
  // Only bisect given: the default depth ramp stays (not the kernel's 100 %..200 % of a capacity).
  settings = parse("stress: {bisect: 0}");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_FALSE(settings->stress_steps);
  EXPECT_EQ(settings->stress_bisect, 0);
  EXPECT_EQ(parse("")->stress_bisect, 3);
  EXPECT_EQ(parse_error("stress:\n  steps: [50%, 25%]\n"),
            "plans/x.yaml:2: phases[4].settings.stress.steps[1]: must be above the step before it (50%), got "
            "\"25%\"");
  EXPECT_EQ(parse_error("stress:\n  steps: [600%]\n"),
            "plans/x.yaml:2: phases[4].settings.stress.steps[0]: must be within 0%..500% of capacity, got "
            "\"600%\"");
  EXPECT_EQ(
      parse_error("iodepth: 1024\nstress:\n  steps: [100%, 500%]\n"),
      "plans/x.yaml:2: phases[4].settings.stress: the last step, 500% of iodepth 1024, is a depth of 5120: "
      "above fio's 4096");
  EXPECT_EQ(parse_error("stress: {bisect: -1}"),
            "plans/x.yaml:1: phases[4].settings.stress.bisect: must be >= 0, got \"-1\"");
}

TEST(StorageSettings, UnknownKeyIsNamedWithTheAllowedOnes) {
  EXPECT_EQ(
      parse_error("size: 1GiB\niodepht: 4\n"),
      "plans/x.yaml:2: phases[4].settings: unknown key \"iodepht\" (expected one of: volume, compare_to, "
      "fio_binary, workloads, ioengine, direct, size, block_size, iodepth, seq_block_size, seq_iodepth, "
      "numjobs, runtime, ramp_time, qd_sweep, etcd_block_size, etcd_size, timeout, rate, stress, "
      "storage_class, emptydir_baseline, volume_size, agents, bind_timeout, image, pods)");
}

TEST(StorageSettings, BadValuesAreEchoed) {
  EXPECT_EQ(
      parse_error("iodepth: deep"),
      "plans/x.yaml:1: phases[4].settings.iodepth: must be a whole number within 1..4096, got \"deep\"");
  EXPECT_EQ(parse_error("iodepth: 0"),
            "plans/x.yaml:1: phases[4].settings.iodepth: must be a whole number within 1..4096, got \"0\"");
  EXPECT_EQ(parse_error("numjobs: 2.5"),
            "plans/x.yaml:1: phases[4].settings.numjobs: must be a whole number within 1..256, got \"2.5\"");
  EXPECT_EQ(
      parse_error("seq_iodepth: [1]"),
      "plans/x.yaml:1: phases[4].settings.seq_iodepth: must be a whole number within 1..4096, got a list");
  EXPECT_TRUE(parse_error("size: big")
                  .starts_with("plans/x.yaml:1: phases[4].settings.size: not a size, got \"big\""));
  EXPECT_EQ(parse_error("size: 0"),
            "plans/x.yaml:1: phases[4].settings.size: must be a whole number of bytes >= 1, got \"0\"");
  // The largest uint64 went through a double, rounded to 2^64 and was cast unchecked (undefined behaviour).
  Result<Settings> largest = parse("size: 18446744073709551615");
  ASSERT_TRUE(largest.has_value()) << largest.error().message;
  EXPECT_EQ(largest->size, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(parse("size: 9007199254740993")->size, 9007199254740993u);  // 2^53 + 1: no double holds it
  EXPECT_EQ(
      parse_error("size: 18446744073709551616"),
      "plans/x.yaml:1: phases[4].settings.size: not a size, got \"18446744073709551616\" (too large; at most "
      "16EiB)");
  EXPECT_EQ(parse_error("direct: yes please"),
            "plans/x.yaml:1: phases[4].settings.direct: must be true or false, got \"yes please\"");
  EXPECT_EQ(
      parse_error("ioengine: windowsaio"),
      "plans/x.yaml:1: phases[4].settings.ioengine: must be one of: libaio, io_uring, psync, sync, pvsync, "
      "pvsync2, posixaio, got \"windowsaio\"");
  EXPECT_EQ(parse_error("runtime: 500ms"),
            "plans/x.yaml:1: phases[4].settings.runtime: must be at least 1.00s, got \"500ms\"");
  EXPECT_TRUE(parse_error("ramp_time: soon")
                  .starts_with("plans/x.yaml:1: phases[4].settings.ramp_time: not a duration, got \"soon\""));
  EXPECT_EQ(parse_error("volume: \"\""),
            "plans/x.yaml:1: phases[4].settings.volume: must be a non-empty string, got \"\"");
  EXPECT_EQ(
      parse_error("settings: [1]"),
      "plans/x.yaml:1: phases[4].settings: unknown key \"settings\" (expected one of: volume, compare_to, "
      "fio_binary, workloads, ioengine, direct, size, block_size, iodepth, seq_block_size, seq_iodepth, "
      "numjobs, runtime, ramp_time, qd_sweep, etcd_block_size, etcd_size, timeout, rate, stress, "
      "storage_class, emptydir_baseline, volume_size, agents, bind_timeout, image, pods)");
  EXPECT_EQ(parse_error("[1, 2]"), "plans/x.yaml:1: phases[4].settings: must be a mapping, got a list");
}

TEST(StorageSettings, ListsNameTheBadItem) {
  EXPECT_EQ(parse_error("workloads: [randread, oltp]"),
            "plans/x.yaml:1: phases[4].settings.workloads[1]: must be one of: randread, randwrite, seqwrite, "
            "seqread, etcd_fsync, got \"oltp\"");
  EXPECT_EQ(parse_error("workloads: [seqread, seqread]"),
            "plans/x.yaml:1: phases[4].settings.workloads[1]: is listed twice, got \"seqread\"");
  EXPECT_EQ(
      parse_error("qd_sweep: [1, 0]"),
      "plans/x.yaml:1: phases[4].settings.qd_sweep[1]: must be a whole number within 1..4096, got \"0\"");
  EXPECT_EQ(parse_error("workloads: {a: 1}"),
            "plans/x.yaml:1: phases[4].settings.workloads: must be a list, got a mapping");
}

TEST(StorageSettings, CrossFieldChecksBlameTheKey) {
  EXPECT_EQ(parse_error("direct: true\nblock_size: 1000\n"),
            "plans/x.yaml:2: phases[4].settings.block_size: must be a multiple of 512 bytes for direct I/O, "
            "got 1000");
  // Buffered I/O has no alignment rule.
  EXPECT_EQ(parse_error("direct: false\nblock_size: 1000\n"), "parsed");
  EXPECT_EQ(parse_error("size: 64KiB\nseq_block_size: 1MiB\n"),
            "plans/x.yaml:1: phases[4].settings.size: must hold at least one block (1048576 bytes), got "
            "65536 bytes");
  EXPECT_EQ(parse_error("etcd_size: 1000\n"),
            "plans/x.yaml:1: phases[4].settings.etcd_size: must hold at least one etcd_block_size (2300 "
            "bytes), got "
            "1000 bytes");
  EXPECT_EQ(parse_error("volume: /mnt/pv\ncompare_to: /mnt/pv/\n"),
            "plans/x.yaml:2: phases[4].settings.compare_to: must differ from the volume, got \"/mnt/pv/\" "
            "for both");
}

TEST(StorageSettings, FlagsUseTheSameReader) {
  Settings settings;
  const config::YamlField flag(YAML::Node("1, 4,16"), "kubeproof agent storage", "--qd-sweep");
  ASSERT_TRUE(read_setting(settings, "qd_sweep", flag));
  EXPECT_EQ(settings.qd_sweep, (std::vector<int>{1, 4, 16}));
  const config::YamlField bad(YAML::Node("1,x"), "kubeproof agent storage", "--qd-sweep");
  Result<void> read = read_setting(settings, "qd_sweep", bad);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message,
            "kubeproof agent storage: --qd-sweep: must be a whole number within 1..4096, got \"x\"");
}

TEST(StorageSettings, SizeLabels) {
  EXPECT_EQ(size_label(4096), "4k");
  EXPECT_EQ(size_label(kMiB), "1m");
  EXPECT_EQ(size_label(2 * kGiB), "2g");
  EXPECT_EQ(size_label(2300), "2300");
  EXPECT_EQ(size_label(1536 * kKiB), "1536k");
}

}  // namespace
}  // namespace kp::drivers::storage
