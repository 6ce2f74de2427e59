// How the HTTP generator's I/O backend is chosen: the flag and setting readers, the pure choice (what was
// asked, io_uring's availability), and what a merged result says ran.

#include "drivers/ingress/io_backend.hpp"

#include <gtest/gtest.h>

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

TEST(IoBackend, TheAgentLineSaysWhichBackendRan) {
  LoadSpec spec;
  spec.url = *parse_url("http://127.0.0.1:8080/");
  LoadResult result;
  result.io_backend = "uring";
  const std::string line = agent_json_line(spec, result);
  EXPECT_NE(line.find(R"("io":"uring")"), std::string::npos) << line;
}

}  // namespace
}  // namespace kp::drivers::ingress
