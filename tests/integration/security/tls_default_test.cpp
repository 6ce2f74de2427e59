// Issue 18: TLS is verified by default. A server whose certificate no trusted CA signed (the API server
// fixture's own throw-away CA, absent from the system store) is refused with an error that says so, by the
// Kubernetes client (`kubeproof preflight`) and by the etcd client; trusting its CA, or the explicit
// insecure-skip-tls-verify (warned about), is what makes the API calls go through. The ingress generator's
// counterpart is tests/integration/ingress (Nginx.WrongCertificateIsRefusedUnlessInsecure).

#include <algorithm>
#include <cctype>
#include <functional>

#include <gtest/gtest.h>

#include "../../unit/cli/cli_runner.hpp"
#include "drivers/etcd/client.hpp"
#include "fake_apiserver.hpp"

namespace kp {
namespace {

namespace fs = std::filesystem;
using cli::testing::count_lines;
using cli::testing::Ran;
using cli::testing::read_file;
using cli::testing::Sandbox;
using nlohmann::json;

// gRPC over Debian's OpenSSL says "certificate verify failed"; over BoringSSL "CERTIFICATE_VERIFY_FAILED".
bool says_certificate_verify_failed(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return c == '_' ? ' ' : static_cast<char>(std::tolower(c)); });
  return text.find("certificate verify failed") != std::string::npos;
}

// The fixture's kubeconfig with the cluster entry changed by `edit`.
std::string kubeconfig_with(const testing::FakeApiserver& server, const std::function<void(json&)>& edit) {
  json config = json::parse(read_file(server.kubeconfig()));
  edit(config["clusters"][0]["cluster"]);
  return config.dump(1);
}

TEST(TlsByDefault, KubernetesClientRefusesAnUntrustedServerCertificate) {
  testing::FakeApiserver server("tls-api");
  ASSERT_TRUE(server.ok()) << server.error();
  Sandbox sandbox;
  // No certificate-authority: the system trust store, which does not know the fixture's CA.
  fs::path untrusted = sandbox.write("untrusted", kubeconfig_with(server, [](json& cluster) {
                                       cluster.erase("certificate-authority-data");
                                     }));
  Ran refused = sandbox.run({"preflight", "--kubeconfig", untrusted.string()});
  EXPECT_EQ(refused.exit_code, 4) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("SSL certificate problem"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("WARNING"), std::string::npos) << refused.err;
  EXPECT_EQ(server.count("create"), 0);

  // The same server with its CA trusted: the same calls go through (the refusal was the certificate's).
  Ran trusted = sandbox.run({"preflight", "--kubeconfig", server.kubeconfig()});
  EXPECT_EQ(trusted.exit_code, 0) << trusted.err;
  EXPECT_EQ(trusted.err.find("WARNING"), std::string::npos) << trusted.err;

  // Verification off is explicit in the kubeconfig, and said on stderr.
  fs::path insecure = sandbox.write("insecure", kubeconfig_with(server, [](json& cluster) {
                                      cluster.erase("certificate-authority-data");
                                      cluster["insecure-skip-tls-verify"] = true;
                                    }));
  Ran skipped = sandbox.run({"preflight", "--kubeconfig", insecure.string()});
  EXPECT_EQ(skipped.exit_code, 0) << skipped.err;
  EXPECT_NE(skipped.err.find("WARNING: insecure-skip-tls-verify is set for cluster"), std::string::npos)
      << skipped.err;
}

TEST(TlsByDefault, EtcdClientRefusesAnUntrustedServerCertificate) {
  // The fixture is a TLS server with a certificate for 127.0.0.1 from a CA the system store lacks; the etcd
  // client's TLS handshake fails on it before any gRPC is spoken.
  testing::FakeApiserver server("tls-etcd");
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string endpoint = fmt::format("https://127.0.0.1:{}", server.port());
  Result<drivers::etcd::Connections> untrusted = drivers::etcd::open_connections({endpoint}, {}, 1);
  ASSERT_TRUE(untrusted) << untrusted.error().message;
  Result<void> refused =
      drivers::etcd::wait_connected(untrusted->channels[0], untrusted->targets[0], std::chrono::seconds(5));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find(fmt::format("etcd 127.0.0.1:{}: cannot connect", server.port())),
            std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(says_certificate_verify_failed(refused.error().message)) << refused.error().message;

  // With the fixture's CA given (--cacert), the certificate verifies: whatever fails next (the fixture speaks
  // no gRPC), it is not the certificate.
  drivers::etcd::TlsFiles files;
  files.ca_file = (server.dir() / "ca.crt").string();
  Result<drivers::etcd::Connections> trusted = drivers::etcd::open_connections({endpoint}, files, 1);
  ASSERT_TRUE(trusted) << trusted.error().message;
  Result<void> next =
      drivers::etcd::wait_connected(trusted->channels[0], trusted->targets[0], std::chrono::seconds(5));
  ASSERT_FALSE(next);
  EXPECT_FALSE(says_certificate_verify_failed(next.error().message)) << next.error().message;
}

}  // namespace
}  // namespace kp
