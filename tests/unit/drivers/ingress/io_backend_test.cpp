// How the HTTP generator's I/O backend is chosen: the flag and setting readers, the pure choice (what was
// asked, io_uring's availability), and what a merged result says ran.

#include "drivers/ingress/io_backend.hpp"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include <gtest/gtest.h>

#include "drivers/ingress/agent_result.hpp"
#include "drivers/ingress/http_command.hpp"
#include "drivers/ingress/load.hpp"
#include "drivers/ingress/settings.hpp"

namespace kp::drivers::ingress {
namespace {

const UringUnavailable kAvailable = std::nullopt;
const UringUnavailable kDisabled = std::string("kernel.io_uring_disabled is 2");

TEST(IoBackend, ParsesTheThreeNamesAndEchoesAnythingElse) {
  EXPECT_EQ(*parse_io_backend("--io", "auto"), IoBackend::automatic);
  EXPECT_EQ(*parse_io_backend("--io", "epoll"), IoBackend::epoll);
  EXPECT_EQ(*parse_io_backend("--io", "uring"), IoBackend::uring);
  Result<IoBackend> wrong = parse_io_backend("--io", "io_uring");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, ErrorKind::usage);
  EXPECT_EQ(wrong.error().message, "--io: must be auto, epoll or uring, got \"io_uring\"");
}

TEST(IoBackend, AutomaticTakesUringWhereAvailableAndSaysWhyNotElsewhere) {
  Result<IoChoice> available = choose_io_backend(IoBackend::automatic, kAvailable);
  ASSERT_TRUE(available);
  EXPECT_EQ(available->backend, IoBackend::uring);
  EXPECT_EQ(available->note, "");
  Result<IoChoice> disabled = choose_io_backend(IoBackend::automatic, kDisabled);
  ASSERT_TRUE(disabled);
  EXPECT_EQ(disabled->backend, IoBackend::epoll);
  EXPECT_EQ(disabled->note, "I/O on epoll: io_uring is unavailable here (kernel.io_uring_disabled is 2)");
}

// What a pod under a seccomp profile that blocks io_uring (Docker's and containerd's defaults do) sees: the
// probe names the refused call, so `auto` runs on epoll and says why. In a child process: the filter cannot
// be removed once installed.
TEST(IoBackend, ASeccompFilterRefusingIoUringIsFoundByTheProbe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{.len = static_cast<unsigned short>(std::size(filter)), .filter = filter};
    std::string verdict = "no filter";
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0) {
      UringUnavailable unavailable = probe_uring();
      verdict = unavailable ? *unavailable : "available";
    }
    (void)!write(fds[1], verdict.data(), verdict.size());
    _exit(0);
  }
  close(fds[1]);
  std::string verdict;
  char buffer[256];
  for (ssize_t n = 0; (n = read(fds[0], buffer, sizeof buffer)) > 0;) {
    verdict.append(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (probe_uring() && verdict != "no filter") {
    GTEST_SKIP() << "io_uring is unavailable here anyway: " << *probe_uring();
  }
  EXPECT_EQ(verdict, "io_uring_setup: Operation not permitted");
  Result<IoChoice> choice = choose_io_backend(IoBackend::automatic, verdict);
  ASSERT_TRUE(choice);
  EXPECT_EQ(choice->backend, IoBackend::epoll);
  EXPECT_EQ(choice->note,
            "I/O on epoll: io_uring is unavailable here (io_uring_setup: Operation not permitted)");
}

TEST(IoBackend, ForcedBackendsAreTakenOrRefusedNeverSwapped) {
  EXPECT_EQ(choose_io_backend(IoBackend::epoll, kAvailable)->backend, IoBackend::epoll);
  EXPECT_EQ(choose_io_backend(IoBackend::epoll, kDisabled)->backend, IoBackend::epoll);
  EXPECT_EQ(choose_io_backend(IoBackend::uring, kAvailable)->backend, IoBackend::uring);
  Result<IoChoice> refused = choose_io_backend(IoBackend::uring, kDisabled);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "--io uring: io_uring is unavailable here: kernel.io_uring_disabled is 2");
}

TEST(IoBackend, TheFlagAndThePhaseSettingReachTheSpec) {
  HttpOptions options;
  options.url = "http://127.0.0.1:1/";
  EXPECT_EQ(to_load_spec(options)->io, IoBackend::automatic);
  options.io = "epoll";
  EXPECT_EQ(to_load_spec(options)->io, IoBackend::epoll);
  options.io = "poll";
  EXPECT_EQ(to_load_spec(options).error().message, "--io: must be auto, epoll or uring, got \"poll\"");

  YAML::Node node = YAML::Load("io: uring\n");
  Result<Settings> settings = parse_settings(node, "plan.yaml", "phases[5].settings");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->io, IoBackend::uring);
  YAML::Node wrong = YAML::Load("io: fast\n");
  EXPECT_EQ(parse_settings(wrong, "plan.yaml", "phases[5].settings").error().message,
            "plan.yaml:1: phases[5].settings.io: must be auto, epoll or uring, got \"fast\"");
}

TEST(IoBackend, AMergedResultSaysWhichBackendRanAndWhenWorkersDiffered) {
  LoadResult merged;
  LoadResult uring;
  uring.io_backend = "uring";
  merged.merge(uring);
  merged.merge(uring);
  EXPECT_EQ(merged.io_backend, "uring");
  LoadResult epoll;
  epoll.io_backend = "epoll";
  epoll.io_note = "I/O on epoll: io_uring failed in a worker (io_uring_setup: Cannot allocate memory)";
  merged.merge(epoll);
  EXPECT_EQ(merged.io_backend, "epoll+uring");
  EXPECT_EQ(merged.io_note, epoll.io_note);
}

TEST(IoBackend, TheAgentLineSaysWhichBackendRanAndThePhaseReadsItBack) {
  LoadSpec spec;
  spec.url = *parse_url("http://127.0.0.1:8080/");
  LoadResult result;
  result.io_backend = "uring";
  const std::string line = agent_json_line(spec, result);
  EXPECT_NE(line.find(R"("io":"uring")"), std::string::npos) << line;
  Result<LoadResult> back = load_result_from_line(nlohmann::json::parse(line));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->io_backend, "uring");
  // An agent from before the io_uring backend says nothing: it ran on epoll.
  nlohmann::json old = nlohmann::json::parse(line);
  old.erase("io");
  old.erase("io_note");
  Result<LoadResult> old_back = load_result_from_line(old);
  ASSERT_TRUE(old_back) << old_back.error().message;
  EXPECT_EQ(old_back->io_backend, "epoll");
}

}  // namespace
}  // namespace kp::drivers::ingress
