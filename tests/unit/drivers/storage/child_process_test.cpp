#include "drivers/storage/child_process.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace kp::drivers::storage {
namespace {

namespace fs = std::filesystem;

class ChildProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "kp-child-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  ChildSpec shell(const std::string& script) const {
    return ChildSpec{.binary = "/bin/sh",
                     .args = {"-c", script},
                     .working_dir = dir_,
                     .output_file = dir_ / "out.txt",
                     .timeout = std::chrono::seconds(20),
                     .stop_grace = std::chrono::seconds(2),
                     .on_tick = {}};
  }

  std::string output() const {
    std::ifstream in(dir_ / "out.txt");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
};

TEST_F(ChildProcess, RunsInTheWorkingDirectoryWithOutputCaptured) {
  engine::CancellationToken cancel;
  Result<ChildExit> exit =
      run_child(shell("pwd; echo oops >&2; read x || echo no-input; exit 3"), real_clock(), cancel);
  ASSERT_TRUE(exit) << exit.error().message;
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_FALSE(exit->success());
  EXPECT_EQ(exit->describe(), "exit status 3");
  EXPECT_EQ(output(), dir_.string() + "\noops\nno-input\n");
}

TEST_F(ChildProcess, SuccessIsExitZero) {
  engine::CancellationToken cancel;
  Result<ChildExit> exit = run_child(shell("true"), real_clock(), cancel);
  ASSERT_TRUE(exit) << exit.error().message;
  EXPECT_TRUE(exit->success());
}

TEST_F(ChildProcess, AMissingBinaryIsUnavailable) {
  engine::CancellationToken cancel;
  ChildSpec spec = shell("");
  spec.binary = dir_ / "no-such-program";
  Result<ChildExit> exit = run_child(spec, real_clock(), cancel);
  ASSERT_FALSE(exit);
  EXPECT_EQ(exit.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(exit.error().message, "cannot run " + spec.binary.string() + ": No such file or directory");
}

TEST_F(ChildProcess, AMissingWorkingDirectoryIsAnIoError) {
  engine::CancellationToken cancel;
  ChildSpec spec = shell("true");
  spec.working_dir = dir_ / "gone";
  Result<ChildExit> exit = run_child(spec, real_clock(), cancel);
  ASSERT_FALSE(exit);
  EXPECT_EQ(exit.error().kind, ErrorKind::io);
  EXPECT_EQ(exit.error().message,
            "cannot run /bin/sh in " + spec.working_dir.string() + ": No such file or directory");
}

TEST_F(ChildProcess, TimeoutStopsItWithSigint) {
  engine::CancellationToken cancel;
  ChildSpec spec = shell("sleep 30");
  spec.timeout = std::chrono::milliseconds(200);
  const TimePoint start = real_clock().now();
  Result<ChildExit> exit = run_child(spec, real_clock(), cancel);
  ASSERT_TRUE(exit) << exit.error().message;
  EXPECT_TRUE(exit->timed_out);
  EXPECT_FALSE(exit->cancelled);
  EXPECT_FALSE(exit->success());
  EXPECT_EQ(exit->signal, SIGINT);
  EXPECT_LT(real_clock().now() - start, std::chrono::seconds(2));
}

TEST_F(ChildProcess, AChildIgnoringSigintIsKilledAfterTheGrace) {
  engine::CancellationToken cancel;
  ChildSpec spec = shell("trap '' INT; while :; do sleep 0.05; done");
  spec.timeout = std::chrono::milliseconds(100);
  spec.stop_grace = std::chrono::milliseconds(300);
  Result<ChildExit> exit = run_child(spec, real_clock(), cancel);
  ASSERT_TRUE(exit) << exit.error().message;
  EXPECT_TRUE(exit->timed_out);
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_EQ(exit->describe(), "killed by signal 9 (Killed)");
}

TEST_F(ChildProcess, CancellationStopsItPromptly) {
  engine::CancellationToken cancel;
  std::thread canceller([&cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.request();
  });
  const TimePoint start = real_clock().now();
  Result<ChildExit> exit = run_child(shell("sleep 30"), real_clock(), cancel);
  canceller.join();
  ASSERT_TRUE(exit) << exit.error().message;
  EXPECT_TRUE(exit->cancelled);
  EXPECT_FALSE(exit->timed_out);
  EXPECT_LT(real_clock().now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace kp::drivers::storage
