// What the storage agent tells about the directories it measures: memory or disk, a reference that is not a
// disk, and a directory it may not write (a root-owned hostPath under a non-root agent, done for real by
// dropping to uid 65534 in a child process when the test runs as root).

#include "drivers/storage/filesystem.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "support/as_nobody.hpp"

#include "drivers/storage/agent.hpp"
#include "drivers/storage/medium_notes.hpp"

namespace kp::drivers::storage {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "kp-fs-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) == nullptr ? fs::path() : fs::path(pattern);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(Filesystem, MagicNumbersNameTheMedium) {
  EXPECT_EQ(classify_filesystem(0x01021994).medium, Medium::memory);  // tmpfs
  EXPECT_EQ(classify_filesystem(0x858458f6).type, "ramfs");
  EXPECT_EQ(classify_filesystem(0x794c7630).medium, Medium::overlay);
  EXPECT_EQ(classify_filesystem(0xef53).medium, Medium::disk);
  EXPECT_EQ(classify_filesystem(0x12345678).type, "0x12345678");
  EXPECT_EQ(filesystem_of("/no/such/dir").medium, Medium::unknown);
}

TEST(Filesystem, DevShmIsMemory) {
  if (filesystem_of("/dev/shm").type != "tmpfs") {
    GTEST_SKIP() << "/dev/shm is not a tmpfs here";
  }
  EXPECT_EQ(filesystem_of("/dev/shm").medium, Medium::memory);
}

TEST(Filesystem, AWritableDirectoryPasses) {
  TempDir dir;
  EXPECT_TRUE(check_writable(dir.path()));
  EXPECT_TRUE(fs::is_empty(dir.path()));  // the probe is gone
}

TEST(Filesystem, ARootOwnedDirectoryRefusesANonRootAgentInOneLine) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to drop to uid 65534";
  }
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const kp::testing::NobodyOutcome child = kp::testing::run_as_nobody([&dir](std::string& said) {
    Result<void> writable = check_writable(dir.path());
    said = writable ? std::string("writable") : writable.error().message;
    return writable ? 0 : 1;
  });
  const std::string& said = child.said;
  ASSERT_TRUE(child.exited);
  EXPECT_EQ(child.exit_code, 1) << said;
  EXPECT_EQ(said,
            "\"" + dir.path().string() +
                "\" is not writable by this process (uid 65534, gid 65534; the directory is owned by 0:0, "
                "mode 0755): fsGroup does not apply to hostPath volumes, which keep their owner on the "
                "node; give the directory to uid 65534 or use a PersistentVolumeClaim");
}

TEST(Filesystem, TheAgentNamesItsFlagForAnUnwritableDir) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root writes everywhere; the refusal itself is tested above in a child";
  }
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  AgentOptions options;
  options.dir = dir.path().string();
  Result<Settings> settings = to_agent_settings(options);
  ASSERT_FALSE(settings);
  EXPECT_NE(settings.error().message.find("--dir"), std::string::npos) << settings.error().message;
  EXPECT_NE(settings.error().message.find("fsGroup does not apply"), std::string::npos);
}

ComparisonRow beating_row() {
  return ComparisonRow{.metric = "storage.randread_4k.iops",
                       .volume = 50000,
                       .local = 10000,
                       .ratio = 5,
                       .volume_beats_local = true};
}

TEST(MediumNotes, AnOverlayReferenceJudgesNoBeatsLocalDisk) {
  Settings settings;
  settings.volume = "/data";
  settings.compare_to = fs::path("/");
  StorageResult result;
  result.compare_filesystem = FilesystemFacts{Medium::overlay, "overlay"};
  result.comparison = {beating_row(), beating_row()};
  qualify_reference(result, settings, {});
  EXPECT_FALSE(result.comparison[0].volume_beats_local);
  EXPECT_FALSE(result.comparison[1].volume_beats_local);
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_EQ(
      result.warnings[0],
      "/ is the container's overlay root file system (overlay), not a local disk: the ratios are shown, "
      "but a volume faster than it is no sign of caching (no \"BEATS local disk\" warnings)");
  EXPECT_EQ(comparison_note(result.comparison[0], "/").find("BEATS"), std::string::npos);
}

TEST(MediumNotes, ADiskReferenceKeepsItsJudgement) {
  Settings settings;
  settings.volume = "/data";
  settings.compare_to = fs::path("/var/lib/local");
  StorageResult result;
  result.compare_filesystem = FilesystemFacts{Medium::disk, "ext4"};
  result.comparison = {beating_row()};
  qualify_reference(result, settings, {});
  EXPECT_TRUE(result.comparison[0].volume_beats_local);
  EXPECT_TRUE(result.warnings.empty());
}

TEST(MediumNotes, AMemoryVolumeIsCalledOutAsNotADisk) {
  if (filesystem_of("/dev/shm").medium != Medium::memory) {
    GTEST_SKIP() << "/dev/shm is not a tmpfs here";
  }
  Settings settings;
  settings.volume = "/dev/shm";
  StorageResult result;
  result.run.measurements.push_back(Measurement{});
  note_filesystems(result, settings, {});
  EXPECT_EQ(result.volume_filesystem.type, "tmpfs");
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_NE(result.warnings[0].find("/dev/shm is memory-backed (tmpfs): not a disk"), std::string::npos)
      << result.warnings[0];
  EXPECT_EQ(result.run.measurements[0].note, "not a disk (memory-backed)");
  EXPECT_NE(
      agent_json_line(result).find(R"("volume_filesystem":{"disk":false,"medium":"memory","type":"tmpfs"})"),
      std::string::npos)
      << agent_json_line(result);
}

}  // namespace
}  // namespace kp::drivers::storage
