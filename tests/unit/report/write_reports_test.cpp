#include <gtest/gtest.h>

#include <regex>

#include "report/run_report.hpp"
#include "report_fixture.hpp"

namespace kp::report {
namespace {

using testing::folder_entries;
using testing::TempDir;

TEST(AtomicWrite, WritesTheContentsAndLeavesNoTemporaryFile) {
  TempDir dir;
  std::filesystem::path target = dir.path() / "report.json";
  ASSERT_TRUE(write_file_atomically(target, "first\n").has_value());
  ASSERT_TRUE(write_file_atomically(target, "second\n").has_value());
  EXPECT_EQ(testing::read_file(target), "second\n");
  EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"report.json"});
  EXPECT_EQ(std::filesystem::status(target).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read | std::filesystem::perms::others_read);
}

TEST(AtomicWrite, FailureLeavesNeitherTargetNorTemporaryFile) {
  // Permissions do not stop root, so make the parent a regular file: nothing can be created "inside" it.
  TempDir dir;
  std::filesystem::path not_a_folder = dir.path() / "plain-file";
  testing::write_file(not_a_folder, "x");
  Result<void> written = write_file_atomically(not_a_folder / "report.json", "contents");
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().kind, ErrorKind::io);
  EXPECT_NE(written.error().message.find((not_a_folder / "report.json").string()), std::string::npos)
      << written.error().message;
  EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"plain-file"});
  EXPECT_EQ(testing::read_file(not_a_folder), "x");
}

TEST(WriteReports, CreatesTimestampedFolderWithTheFiveFilesOnly) {
  TempDir dir;
  std::filesystem::path root = dir.path() / "results";  // created on demand
  Result<std::filesystem::path> folder = write_reports(testing::fixture_report(), root);
  ASSERT_TRUE(folder.has_value()) << folder.error().message;
  EXPECT_EQ(folder->parent_path(), root);
  EXPECT_EQ(folder->filename(), "20261127T230512Z-smoke");
  EXPECT_EQ(folder_entries(*folder), (std::vector<std::string>{"junit.xml", "metrics.prom", "report.html",
                                                               "report.json", "summary.md"}));
  EXPECT_EQ(testing::read_file(*folder / "report.json"), render_json(testing::fixture_report()));
  EXPECT_EQ(testing::read_file(*folder / "junit.xml"), render_junit(testing::fixture_report()));
  EXPECT_EQ(testing::read_file(*folder / "summary.md"), render_markdown(testing::fixture_report()));
}

TEST(WriteReports, ExistingFolderGetsASuffix) {
  TempDir dir;
  Result<std::filesystem::path> first = write_reports(testing::fixture_report(), dir.path());
  Result<std::filesystem::path> second = write_reports(testing::fixture_report(), dir.path());
  Result<std::filesystem::path> third = write_reports(testing::fixture_report(), dir.path());
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->filename(), "20261127T230512Z-smoke");
  EXPECT_EQ(second->filename(), "20261127T230512Z-smoke-2");
  EXPECT_EQ(third->filename(), "20261127T230512Z-smoke-3");
  EXPECT_EQ(folder_entries(*first).size(), 5U);
}

TEST(WriteReports, UnwritableRootIsAnIoErrorNamingIt) {
  TempDir dir;
  std::filesystem::path not_a_folder = dir.path() / "plain-file";
  testing::write_file(not_a_folder, "x");
  Result<std::filesystem::path> folder = write_reports(testing::fixture_report(), not_a_folder / "results");
  ASSERT_FALSE(folder.has_value());
  EXPECT_EQ(folder.error().kind, ErrorKind::io);
  EXPECT_NE(folder.error().message.find("plain-file"), std::string::npos) << folder.error().message;
  EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"plain-file"});
}

TEST(WriteReports, ProfileIsMadeSafeForAFolderName) {
  TempDir dir;
  RunReport report = testing::fixture_report();
  report.meta.profile = "../evil profile";
  Result<std::filesystem::path> folder = write_reports(report, dir.path());
  ASSERT_TRUE(folder.has_value());
  EXPECT_EQ(folder->parent_path(), dir.path());
  EXPECT_TRUE(std::regex_match(folder->filename().string(), std::regex(R"(\d{8}T\d{6}Z-[A-Za-z0-9._-]+)")))
      << folder->filename();
}

}  // namespace
}  // namespace kp::report
