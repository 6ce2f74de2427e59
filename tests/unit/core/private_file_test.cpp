#include "core/private_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace kp {
namespace {

namespace fs = std::filesystem;

unsigned mode_of(const fs::path& file) {
  struct stat info {};
  return ::stat(file.c_str(), &info) == 0 ? (info.st_mode & 07777) : 07777;
}

std::string text_of(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class PrivateFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("kp-private-file-{}", getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    old_umask_ = ::umask(0);  // the widest umask: the mode must not depend on it
  }
  void TearDown() override {
    ::umask(old_umask_);
    fs::remove_all(dir_);
  }
  fs::path dir_;
  mode_t old_umask_ = 022;
};

TEST_F(PrivateFile, NewFileIsOwnerOnly) {
  const fs::path file = dir_ / "kubeconfig";
  ASSERT_TRUE(write_private_file(file, "token: x\n"));
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(text_of(file), "token: x\n");
}

TEST_F(PrivateFile, AnExistingWiderFileIsNarrowedAndReplaced) {
  const fs::path file = dir_ / "jobs.fio";
  std::ofstream(file) << "an older, longer text";
  fs::permissions(file, fs::perms::all);
  ASSERT_EQ(mode_of(file), 0777u);
  ASSERT_TRUE(write_private_file(file, "new"));
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(text_of(file), "new");
}

TEST_F(PrivateFile, ASymlinkIsNotFollowed) {
  const fs::path target = dir_ / "elsewhere";
  std::ofstream(target) << "untouched";
  fs::create_symlink(target, dir_ / "link");
  Result<void> written = write_private_file(dir_ / "link", "secret");
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().kind, ErrorKind::io);
  EXPECT_NE(written.error().message.find((dir_ / "link").string()), std::string::npos)
      << written.error().message;
  EXPECT_EQ(text_of(target), "untouched");
}

TEST_F(PrivateFile, AMissingFolderIsAnErrorNamingTheFile) {
  Result<void> written = write_private_file(dir_ / "no" / "such", "x");
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().message,
            fmt::format("cannot create \"{}\": No such file or directory", (dir_ / "no" / "such").string()));
}

}  // namespace
}  // namespace kp
