#include "kube/credentials.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kube/rate_limiter.hpp"

namespace kp::kube {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Issue 18 (fuzz target exec_credential): a kind or apiVersion that is not a string threw nlohmann's
// type_error out of the parser.
TEST(ExecCredential, KindOrApiVersionOfAnotherTypeIsAnError) {
  Result<Credentials> kind =
      parse_exec_credential(R"({"kind":5,"status":{"token":"SECRET"}})", "client.authentication.k8s.io/v1");
  ASSERT_FALSE(kind);
  EXPECT_EQ(kind.error().message, "exec plugin output: kind must be ExecCredential");
  Result<Credentials> version =
      parse_exec_credential(R"({"kind":"ExecCredential","apiVersion":{"v":1},"status":{"token":"SECRET"}})",
                            "client.authentication.k8s.io/v1");
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().message,
            "exec plugin output: apiVersion (none) does not match the kubeconfig's "
            "\"client.authentication.k8s.io/v1\"");
}

TEST(ExecCredential, ParsesTokenAndExpiry) {
  Result<Credentials> credentials = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",
          "status":{"token":"t0k","expirationTimestamp":"2030-01-01T00:00:00Z"}})",
      "client.authentication.k8s.io/v1beta1");
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->token, "t0k");
  ASSERT_TRUE(credentials->expiry);
}

TEST(ExecCredential, ErrorsDoNotEchoTheDocument) {
  Result<Credentials> wrong = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"SECRET"}})",
      "client.authentication.k8s.io/v1beta1");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(
      wrong.error().message,
      "exec plugin output: apiVersion \"client.authentication.k8s.io/v1\" does not match the kubeconfig's "
      "\"client.authentication.k8s.io/v1beta1\"");
  Result<Credentials> empty = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})",
      "client.authentication.k8s.io/v1");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "exec plugin output: status has neither token nor clientCertificateData");
  EXPECT_FALSE(parse_exec_credential("SECRET not json", "client.authentication.k8s.io/v1"));
}

// Issue 18: a value from the plugin's output is quoted only when it has the shape of what belongs there, so a
// token that a broken plugin puts into the wrong field never reaches an error message.
TEST(ExecCredential, ErrorsDoNotEchoATokenInTheWrongField) {
  Result<Credentials> kind = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"SECRET-1","status":{"token":"SECRET-2"}})",
      "client.authentication.k8s.io/v1");
  ASSERT_FALSE(kind);
  EXPECT_EQ(kind.error().message, "exec plugin output: kind must be ExecCredential");
  Result<Credentials> version = parse_exec_credential(
      R"({"apiVersion":"SECRET-1","kind":"ExecCredential","status":{"token":"SECRET-2"}})",
      "client.authentication.k8s.io/v1");
  ASSERT_FALSE(version);
  EXPECT_EQ(
      version.error().message,
      "exec plugin output: apiVersion (a value of 8 characters, not shown) does not match the kubeconfig's "
      "\"client.authentication.k8s.io/v1\"");
  Result<Credentials> expiry = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
          "status":{"token":"SECRET-2","expirationTimestamp":"SECRET-2"}})",
      "client.authentication.k8s.io/v1");
  ASSERT_FALSE(expiry);
  EXPECT_EQ(
      expiry.error().message,
      "exec plugin output: expirationTimestamp is not RFC 3339, got (a value of 8 characters, not shown)");
  // Fields of the wrong JSON type are errors too, not exceptions (nlohmann's value() threw type_error on
  // them).
  for (const char* text : {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":5})",
                           R"({"apiVersion":["x"],"kind":"ExecCredential","status":{"token":"t"}})"}) {
    Result<Credentials> typed = parse_exec_credential(text, "client.authentication.k8s.io/v1");
    ASSERT_FALSE(typed) << text;
    EXPECT_TRUE(typed.error().message.starts_with("exec plugin output: ")) << typed.error().message;
  }
  // A timestamp's shape is quoted: the user sees what the plugin got wrong.
  Result<Credentials> bad_date = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
          "status":{"token":"SECRET-2","expirationTimestamp":"2030-13-01"}})",
      "client.authentication.k8s.io/v1");
  ASSERT_FALSE(bad_date);
  EXPECT_EQ(bad_date.error().message,
            "exec plugin output: expirationTimestamp is not RFC 3339, got \"2030-13-01\"");
}

class ExecPlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("kp-exec-{}-{}", getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A plugin that counts its runs and prints a token expiring at `expiry`.
  RestConfig plugin_config(const std::string& expiry) {
    fs::path script = dir_ / "plugin.sh";
    std::ofstream(script)
        << "#!/bin/sh\necho x >> '" << (dir_ / "runs").string() << "'\n"
        << "echo \"$KUBERNETES_EXEC_INFO\" > '" << (dir_ / "info").string() << "'\n"
        << "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
           "\"status\":{\"token\":\"tok-%s\",\"expirationTimestamp\":\""
        << expiry << "\"}}' \"$(wc -l < '" << (dir_ / "runs").string() << "' | tr -d ' ')\"\n";
    fs::permissions(script, fs::perms::owner_all);
    RestConfig config;
    config.server = "https://127.0.0.1:6443";
    config.exec = ExecConfig{};
    config.exec->command = script.string();
    config.exec->api_version = "client.authentication.k8s.io/v1";
    config.exec->provide_cluster_info = true;
    return config;
  }
  fs::path dir_;
};

TEST_F(ExecPlugin, CachedUntilExpirationTimestamp) {
  // FakeClock's wall time starts at 2026-01-0x; the credential expires in 2026-06.
  FakeClock clock;
  CredentialSource source(plugin_config("2026-06-01T00:00:00Z"), clock);
  Result<Credentials> first = source.current();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->token, "tok-1");
  EXPECT_EQ(source.current()->token, "tok-1");
  EXPECT_EQ(source.exec_runs(), 1);
  clock.advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(source.current()->token, "tok-2") << "expired: the plugin runs again";
  EXPECT_EQ(source.exec_runs(), 2);
  std::ifstream info(dir_ / "info");
  std::string text((std::istreambuf_iterator<char>(info)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(R"("interactive":false)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("server":"https://127.0.0.1:6443")"), std::string::npos) << text;
}

TEST_F(ExecPlugin, InvalidateOnceOnUnauthorized) {
  FakeClock clock;
  CredentialSource source(plugin_config("2030-01-01T00:00:00Z"), clock);
  Result<Credentials> first = source.current();
  ASSERT_TRUE(first);
  source.invalidate(first->generation);
  source.invalidate(first->generation);  // many requests saw the same 401: one re-run
  EXPECT_EQ(source.current()->token, "tok-2");
  source.invalidate(first->generation);  // a stale 401 of the old generation: ignored
  EXPECT_EQ(source.current()->token, "tok-2");
  EXPECT_EQ(source.exec_runs(), 2);
}

TEST_F(ExecPlugin, FailingPluginNamesItselfAndItsStderr) {
  RestConfig config = plugin_config("x");
  fs::path script = dir_ / "fail.sh";
  std::ofstream(script) << "#!/bin/sh\necho 'login required' >&2\nexit 2\n";
  fs::permissions(script, fs::perms::owner_all);
  config.exec->command = script.string();
  Result<Credentials> result = run_exec_plugin(*config.exec, config, seconds(10));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            fmt::format("exec plugin \"{}\": exit status 2: login required", script.string()));
  config.exec->command = "kp-no-such-plugin";
  config.exec->install_hint = "install it with: apt install kp-plugin";
  result = run_exec_plugin(*config.exec, config, seconds(10));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            "exec plugin \"kp-no-such-plugin\": cannot run: No such file or directory (install it with: apt "
            "install "
            "kp-plugin)");
}

// A client closing while its plugin runs (a login prompt that never returns, a hung cloud CLI) must not wait
// out exec_timeout: abandon() kills the plugin, and nothing runs it again.
TEST_F(ExecPlugin, AbandonKillsARunningPluginAndRunsNoOther) {
  RestConfig config = plugin_config("x");
  fs::path script = dir_ / "hang.sh";
  const fs::path pid_file = dir_ / "pid";
  std::ofstream(script) << "#!/bin/sh\necho $$ > '" << pid_file.string() << ".tmp'\nmv '" << pid_file.string()
                        << ".tmp' '" << pid_file.string() << "'\nexec sleep 60\n";
  fs::permissions(script, fs::perms::owner_all);
  config.exec->command = script.string();
  FakeClock clock;
  CredentialSource source(config, clock, std::chrono::minutes(5));
  Result<Credentials> result = Credentials{};
  std::thread refresher([&] { result = source.current(); });
  // The plugin is running once it wrote its pid (bounded: 30 s of 10 ms polls).
  pid_t pid = 0;
  for (int i = 0; i < 3000 && pid == 0; ++i) {
    std::ifstream(pid_file) >> pid;
    if (pid == 0) {
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
  ASSERT_NE(pid, 0) << "the plugin never started";
  source.abandon();
  refresher.join();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::cancelled);
  EXPECT_EQ(result.error().message,
            fmt::format("exec plugin \"{}\": stopped: the client is closing", script.string()));
  EXPECT_NE(::kill(pid, 0), 0) << "the plugin (pid " << pid << ") is still there";
  EXPECT_EQ(errno, ESRCH);
  Result<Credentials> later = source.current();
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().kind, ErrorKind::cancelled);
  EXPECT_EQ(source.exec_runs(), 1);
}

TEST(TokenBucket, BurstThenQps) {
  FakeClock clock;
  TokenBucket bucket(10, 3, clock.now());
  TimePoint start = clock.now();
  // Starts full: three at once, then one every 100 ms.
  EXPECT_EQ(bucket.reserve(start), start);
  EXPECT_EQ(bucket.reserve(start), start);
  EXPECT_EQ(bucket.reserve(start), start);
  EXPECT_EQ(bucket.reserve(start), start + milliseconds(100));
  EXPECT_EQ(bucket.reserve(start), start + milliseconds(200));
  // After a quiet second the bucket is full again, never fuller than burst.
  clock.advance(seconds(2));
  TimePoint later = clock.now();
  EXPECT_EQ(bucket.reserve(later), later);
  EXPECT_EQ(bucket.reserve(later), later);
  EXPECT_EQ(bucket.reserve(later), later);
  EXPECT_EQ(bucket.reserve(later), later + milliseconds(100));
}

TEST(TokenBucket, ZeroQpsIsUnlimited) {
  FakeClock clock;
  TokenBucket bucket(0, 1, clock.now());
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(bucket.reserve(clock.now()), clock.now());
  }
}

}  // namespace
}  // namespace kp::kube
