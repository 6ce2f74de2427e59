#include "kube/kubeconfig.hpp"

#include <unistd.h>

#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kube/credentials.hpp"
#include "kube/encoding.hpp"

namespace kp::kube {
namespace {

namespace fs = std::filesystem;

class Kubeconfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("kp-kubeconfig-{}-{}", getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }

  LoadOptions only_env(const std::string& kubeconfig_env) {
    LoadOptions options;
    options.kubeconfig_env = kubeconfig_env;
    options.home = dir_ / "home";
    options.service_host = "";
    options.service_port = "";
    return options;
  }

  std::string error_of(const LoadOptions& options) {
    Result<RestConfig> config = load_rest_config(options);
    return config ? std::string("loaded") : config.error().message;
  }

  fs::path dir_;
};

constexpr const char* kBasic = R"(apiVersion: v1
kind: Config
current-context: a
clusters:
- name: one
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: Q0EtUEVN
    tls-server-name: api.internal
users:
- name: alice
  user:
    token: secret-token-a
contexts:
- name: a
  context: {cluster: one, user: alice, namespace: team-a}
- name: b
  context: {cluster: one, user: alice}
)";

TEST_F(Kubeconfig, ReadsTheCurrentContext) {
  LoadOptions options;
  options.kubeconfig = write("config", kBasic);
  Result<RestConfig> config = load_rest_config(options);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");
  EXPECT_EQ(config->ca_data, "CA-PEM");
  EXPECT_EQ(config->tls_server_name, "api.internal");
  EXPECT_EQ(config->token, "secret-token-a");
  EXPECT_EQ(config->context, "a");
  EXPECT_EQ(config->ns, "team-a");
  options.context = "b";
  config = load_rest_config(options);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->ns, "default");
}

TEST_F(Kubeconfig, MergesKubeconfigFilesFirstWins) {
  std::string first = write("first", R"(
clusters:
- name: shared
  cluster: {server: https://first:6443}
users:
- name: u
  user: {token: first-token}
contexts:
- name: from-first
  context: {cluster: shared, user: u}
)");
  std::string second = write("second", R"(
current-context: from-second
clusters:
- name: shared
  cluster: {server: https://second:6443}
- name: only-second
  cluster: {server: https://only-second:6443}
users:
- name: u
  user: {token: second-token}
contexts:
- name: from-second
  context: {cluster: only-second, user: u}
)");
  std::string missing = (dir_ / "does-not-exist").string();
  LoadOptions options = only_env(first + ":" + missing + ":" + second + ":" + first);
  EXPECT_EQ(kubeconfig_files(options).size(), 2u) << "missing files skipped, duplicates ignored";
  Result<RestConfig> config = load_rest_config(options);
  ASSERT_TRUE(config) << config.error().message;
  // current-context from the first file that sets it (second); user "u" from the first file that has it.
  EXPECT_EQ(config->context, "from-second");
  EXPECT_EQ(config->server, "https://only-second:6443");
  EXPECT_EQ(config->token, "first-token");
  options.context = "from-first";
  config = load_rest_config(options);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server, "https://first:6443") << "map entries are taken whole from the first file";
}

TEST_F(Kubeconfig, RelativePathsResolveAgainstTheirFile) {
  write("sub/ca.crt", "ca");
  write("sub/client.crt", "crt");
  write("sub/client.key", "key");
  std::string file = write("sub/config", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://k:6443", certificate-authority: ca.crt}}]
users: [{name: u, user: {client-certificate: client.crt, client-key: client.key, exec: {command: ./bin/plugin, apiVersion: client.authentication.k8s.io/v1beta1, args: [get-token], env: [{name: A, value: b}]}}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  LoadOptions options;
  options.kubeconfig = file;
  Result<RestConfig> config = load_rest_config(options);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->ca_file, dir_ / "sub/ca.crt");
  EXPECT_EQ(config->client_key_file, dir_ / "sub/client.key");
  ASSERT_TRUE(config->exec);
  EXPECT_EQ(config->exec->command, (dir_ / "sub/bin/plugin").string());
  EXPECT_EQ(config->exec->args, std::vector<std::string>{"get-token"});
  EXPECT_EQ(config->exec->env.front().first, "A");
}

TEST_F(Kubeconfig, ErrorsNameFileLineAndFieldWithoutSecrets) {
  std::string file = write("bad", R"(current-context: a
users:
- name: u
  user:
    client-key-data: "not base64 SECRET!!"
)");
  LoadOptions options;
  options.kubeconfig = file;
  EXPECT_EQ(error_of(options), file + ":5: users[0].user.client-key-data: not valid base64");

  std::string no_context = write("nocontext", kBasic);
  options.kubeconfig = no_context;
  options.context = "zzz";
  EXPECT_EQ(error_of(options), no_context + ": context \"zzz\" not found (from --context) (contexts: a, b)");

  std::string dangling = write("dangling", R"(current-context: a
contexts:
- name: a
  context: {cluster: nope, user: u}
)");
  options = {};
  options.kubeconfig = dangling;
  EXPECT_EQ(error_of(options),
            dangling + ":4: contexts[0].context.cluster: cluster \"nope\" of context \"a\" not found");

  std::string exec_version = write("execv", R"(current-context: a
clusters: [{name: k, cluster: {server: "https://k"}}]
users:
- name: u
  user:
    exec:
      command: plugin
      apiVersion: client.authentication.k8s.io/v1alpha1
contexts: [{name: a, context: {cluster: k, user: u}}]
)");
  options.kubeconfig = exec_version;
  EXPECT_EQ(error_of(options),
            exec_version +
                ":8: users[0].user.exec.apiVersion: must be client.authentication.k8s.io/v1 or "
                "v1beta1, got \"client.authentication.k8s.io/v1alpha1\"");

  options.kubeconfig = (dir_ / "absent").string();
  EXPECT_EQ(error_of(options).rfind((dir_ / "absent").string() + ": cannot read", 0), 0u)
      << error_of(options);
}

TEST_F(Kubeconfig, ProxyUrlIsTakenWithClientGosSchemesAndABadOneNamesFileAndField) {
  auto config_with = [&](const std::string& name, const std::string& proxy) {
    return write(name, fmt::format(R"(current-context: a
clusters:
- name: one
  cluster:
    server: https://10.0.0.1:6443
    proxy-url: {}
contexts:
- name: a
  context: {{cluster: one}}
)",
                                   proxy));
  };
  for (const std::string proxy :
       {"http://proxy.corp:3128", "https://proxy.corp", "socks5://127.0.0.1:1080", "http://u:p@[::1]:3128"}) {
    LoadOptions options;
    options.kubeconfig = config_with("good", proxy);
    Result<RestConfig> config = load_rest_config(options);
    ASSERT_TRUE(config) << proxy << ": " << config.error().message;
    EXPECT_EQ(config->proxy_url, proxy);
  }
  LoadOptions options;
  options.kubeconfig = config_with("ftp", "ftp://user:secret@proxy.corp:21");
  Result<RestConfig> bad = load_rest_config(options);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::input);
  EXPECT_EQ(
      bad.error().message,
      fmt::format("{}:4: clusters[0].cluster.proxy-url: unsupported scheme \"ftp\", must be http, https or "
                  "socks5",
                  options.kubeconfig->string()));
  EXPECT_EQ(bad.error().message.find("secret"), std::string::npos);
  options.kubeconfig = config_with("bare", "proxy.corp:3128");
  EXPECT_NE(error_of(options).find("clusters[0].cluster.proxy-url: unsupported scheme \"\""),
            std::string::npos)
      << error_of(options);
  options.kubeconfig = config_with("nohost", "http://:3128");
  EXPECT_EQ(error_of(options),
            fmt::format("{}:4: clusters[0].cluster.proxy-url: has no host", options.kubeconfig->string()));
}

TEST_F(Kubeconfig, NothingConfiguredIsUnavailable) {
  LoadOptions options = only_env("");
  Result<RestConfig> config = load_rest_config(options);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().kind, ErrorKind::unavailable);
}

TEST_F(Kubeconfig, InClusterServiceAccount) {
  write("sa/token", "sa-token\n");
  write("sa/ca.crt", "ca");
  write("sa/namespace", "agents\n");
  LoadOptions options = only_env("");
  options.service_host = "10.96.0.1";
  options.service_port = "443";
  options.service_account_dir = dir_ / "sa";
  Result<RestConfig> config = load_rest_config(options);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, dir_ / "sa/token");
  EXPECT_EQ(config->ns, "agents");
}

TEST(Encoding, Base64AndRfc3339) {
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVs\nbG8h"), "hello!");
  EXPECT_FALSE(base64_decode("a=bc"));
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  std::optional<WallTime> t = parse_rfc3339("2024-05-01T14:00:00.5+02:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2024-05-01T12:00:00Z");
  EXPECT_FALSE(parse_rfc3339("2024-05-01 12:00:00"));
}

// Issue 18, fuzz target exec_credential: an ExecCredential expiring in the year 1012 overflowed the
// conversion of its seconds to system_clock's nanoseconds (undefined behaviour). Times before 1677 now read
// as 1685, long expired; times after 2255 as "never" (WallTime::max()), as before.
TEST(Encoding, Rfc3339BeyondSystemClocksRange) {
  std::optional<WallTime> past = parse_rfc3339("1012-05-01T14:00:00.123456+02:00");
  ASSERT_TRUE(past);
  EXPECT_LT(*past, *parse_rfc3339("1700-01-01T00:00:00Z"));
  EXPECT_EQ(format_rfc3339(*past).substr(0, 4), "1684");
  EXPECT_EQ(parse_rfc3339("0000-01-01T00:00:00Z"), past);
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59Z"), WallTime::max());
  Result<Credentials> expired = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"T","expirationTimestamp":"1012-05-01T14:00:00Z"}})",
      "client.authentication.k8s.io/v1");
  ASSERT_TRUE(expired) << expired.error().message;
  EXPECT_EQ(expired->expiry, past);
}

}  // namespace
}  // namespace kp::kube
