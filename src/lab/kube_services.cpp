#include "lab/kube_services.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/private_file.hpp"
#include "kube/api.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/transport.hpp"
#include "lab/http_get.hpp"
#include "lab/lab.hpp"
#include "lab/process.hpp"

extern char** environ;

namespace kp::lab {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kLoopback = "127.0.0.1";
constexpr std::string_view kAdminUser = "kubeproof-admin";
constexpr std::string_view kServiceRange = "10.0.0.0/24";

// envtest's convention: $KUBEBUILDER_ASSETS holds kube-apiserver, etcd and kubectl.
std::vector<fs::path> assets_dirs() {
  const char* assets = std::getenv("KUBEBUILDER_ASSETS");
  if (assets == nullptr || *assets == '\0') {
    return {};
  }
  return {fs::path(assets)};
}

Result<void> write_private(const fs::path& file, const std::string& text) {
  // Created 0600 from the start: the token must never be readable by others, not even briefly.
  if (Result<void> written = write_private_file(file, text); !written) {
    return fail(ErrorKind::io, "lab: " + written.error().message);
  }
  return {};
}

Result<std::string> read_text(const fs::path& file) {
  std::ifstream in(file);
  if (!in) {
    return fail(ErrorKind::io, fmt::format("lab: cannot read \"{}\"", file.string()));
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

Result<std::string> random_token() {
  std::ifstream in("/dev/urandom", std::ios::binary);
  unsigned char bytes[24];
  if (!in.read(reinterpret_cast<char*>(bytes), sizeof bytes)) {
    return fail(ErrorKind::io, "lab: kube-apiserver: cannot read /dev/urandom for the token");
  }
  std::string token;
  for (unsigned char byte : bytes) {
    token += fmt::format("{:02x}", byte);
  }
  return token;
}

// A throw-away CA, a serving certificate for 127.0.0.1/localhost (and the first service IP, which in-cluster
// clients of the `kubernetes` Service dial), and the RSA key that signs service-account tokens.
Result<void> make_pki(const fs::path& dir) {
  fs::path log = dir / "openssl.log";
  auto path = [&](std::string_view name) { return (dir / std::string(name)).string(); };
  if (auto written = write_private(dir / "server.ext",
                                   "basicConstraints=critical,CA:FALSE\n"
                                   "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                   "extendedKeyUsage=serverAuth,clientAuth\n"
                                   "subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
                                   "DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.0.0.1\n");
      !written) {
    return written;
  }
  std::vector<std::vector<std::string>> steps = {
      {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
       "/CN=kubeproof lab kubernetes CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
       "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", "-keyout", path("ca.key"), "-out",
       path("ca.crt")},
      {"openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver", "-keyout",
       path("server.key"), "-out", path("server.csr")},
      {"openssl", "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
       "-CAcreateserial", "-days", "30", "-extfile", path("server.ext"), "-out", path("server.crt")},
      {"openssl", "genrsa", "-out", path("sa.key"), "2048"},
      {"openssl", "rsa", "-in", path("sa.key"), "-pubout", "-out", path("sa.pub")},
  };
  for (const auto& step : steps) {
    if (auto ran = run_to_completion(step, log, "lab: kube-apiserver", "openssl"); !ran) {
      return ran;
    }
  }
  for (std::string_view key : {"ca.key", "server.key", "sa.key"}) {
    ::chmod(path(key).c_str(), 0600);
  }
  return {};
}

// JSON is YAML, and the kubeconfig loader reads both.
std::string kubeconfig_text(const std::string& server, const fs::path& ca_file, const std::string& token) {
  nlohmann::json config = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"current-context", "kubeproof-lab"},
      {"clusters",
       {{{"name", "kubeproof-lab"}, {"cluster", {{"server", server}, {"certificate-authority", ca_file}}}}}},
      {"users", {{{"name", kAdminUser}, {"user", {{"token", token}}}}}},
      {"contexts",
       {{{"name", "kubeproof-lab"}, {"context", {{"cluster", "kubeproof-lab"}, {"user", kAdminUser}}}}}},
  };
  return config.dump(2) + "\n";
}

fs::path apiserver_dir(const fs::path& dir) {
  return dir.parent_path() / "kube-apiserver";
}

// The running service `name` of the same lab (its folder is a sibling of `dir`), or why it cannot be used.
Result<ServiceRecord> sibling(const fs::path& dir, std::string_view self, std::string_view name) {
  Result<std::optional<ServiceRecord>> record = read_record(dir.parent_path(), name);
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record || !is_same_service(**record, (*record)->pid)) {
    return fail(
        ErrorKind::unavailable,
        fmt::format("lab: {} needs the lab's {} running (start it too: `kubeproof lab up`)", self, name));
  }
  return **record;
}

// GET `url` with the CA (and the bearer token in `token_file`, when given) until it answers 200 "ok".
Result<void> expect_ok(const std::string& url, const fs::path& ca_file, const fs::path& token_file,
                       Duration timeout) {
  std::string token;
  if (!token_file.empty()) {
    Result<std::string> text = read_text(token_file);
    if (!text) {
      return std::unexpected(text.error());
    }
    token = *text;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) {
      token.pop_back();
    }
  }
  Result<http::Response> response =
      http::get(url, timeout, http::TlsFiles{.ca_file = ca_file, .cert_file = {}, .key_file = {}}, token);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status != 200) {
    return fail(ErrorKind::unavailable,
                fmt::format("GET {}: HTTP {} {}", url, response->status, response->body.substr(0, 200)));
  }
  return {};
}

class KubeSpec : public ServiceSpec {
 public:
  std::string_view debian_package() const override { return "none; set KUBEBUILDER_ASSETS"; }
  bool optional() const override { return true; }
  std::string missing_hint() const override { return std::string(kKubeMissingHint); }
  std::vector<fs::path> search_dirs() const override { return assets_dirs(); }
  // Klog writes to stderr, which the lab sends to stdout.log (--log-file is gone since Kubernetes 1.26).
  fs::path log_file(const fs::path& dir) const override { return dir / "stdout.log"; }
};

// Every member of the lab's etcd (`lab up --etcd-members 3`), so the API server rides out a lost member as
// it would in production; a lab from before the member list records only "client".
std::string etcd_servers(const ServiceRecord& etcd) {
  auto all = etcd.endpoints.find("cluster_clients");
  const std::string& list = all != etcd.endpoints.end() ? all->second : etcd.endpoints.at("client");
  std::string servers;
  std::size_t begin = 0;
  while (begin <= list.size()) {
    std::size_t end = std::min(list.find(',', begin), list.size());
    servers += fmt::format("{}http://{}", servers.empty() ? "" : ",", list.substr(begin, end - begin));
    begin = end + 1;
  }
  return servers;
}

class KubeApiserverSpec final : public KubeSpec {
 public:
  std::string_view name() const override { return "kube-apiserver"; }
  std::string_view binary_name() const override { return "kube-apiserver"; }
  std::vector<std::string> port_roles() const override { return {"secure"}; }

  Result<std::vector<std::string>> command(const fs::path& binary, const fs::path& dir,
                                           const std::map<std::string, std::uint16_t>& ports) const override {
    Result<ServiceRecord> etcd = sibling(dir, name(), "etcd");
    if (!etcd) {
      return std::unexpected(etcd.error());
    }
    if (auto made = make_pki(dir); !made) {
      return std::unexpected(made.error());
    }
    Result<std::string> token = random_token();
    if (!token) {
      return std::unexpected(token.error());
    }
    // Static token file format: token,user,uid,"group1,group2".
    if (auto written = write_private(
            dir / "tokens.csv", fmt::format("{},{},{},\"system:masters\"\n", *token, kAdminUser, kAdminUser));
        !written) {
      return std::unexpected(written.error());
    }
    if (auto written = write_private(dir / "token", *token + "\n"); !written) {
      return std::unexpected(written.error());
    }
    std::string server = fmt::format("https://{}:{}", kLoopback, ports.at("secure"));
    if (auto written = write_private(kube_kubeconfig(dir), kubeconfig_text(server, dir / "ca.crt", *token));
        !written) {
      return std::unexpected(written.error());
    }
    auto file = [&](std::string_view name) { return (dir / std::string(name)).string(); };
    return std::vector<std::string>{
        binary.string(),
        "--etcd-servers=" + etcd_servers(*etcd),
        fmt::format("--bind-address={}", kLoopback),
        fmt::format("--advertise-address={}", kLoopback),
        fmt::format("--secure-port={}", ports.at("secure")),
        "--cert-dir=" + file("certs"),
        "--tls-cert-file=" + file("server.crt"),
        "--tls-private-key-file=" + file("server.key"),
        "--client-ca-file=" + file("ca.crt"),
        "--token-auth-file=" + file("tokens.csv"),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file=" + file("sa.pub"),
        "--service-account-signing-key-file=" + file("sa.key"),
        fmt::format("--service-cluster-ip-range={}", kServiceRange),
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        // No token controller without kube-controller-manager: pods must not wait for a ServiceAccount token.
        "--disable-admission-plugins=ServiceAccount",
    };
  }

  std::map<std::string, std::string> endpoints(
      const std::map<std::string, std::uint16_t>& ports) const override {
    std::string server = fmt::format("https://{}:{}", kLoopback, ports.at("secure"));
    return {{"server", server}, {"health", server + "/readyz"}};
  }
  std::map<std::string, std::string> file_endpoints(const fs::path& dir) const override {
    return {{"kubeconfig", kube_kubeconfig(dir).string()},
            {"ca", (dir / "ca.crt").string()},
            {"token-file", (dir / "token").string()}};
  }

  // /readyz, authenticated like every client: ready means etcd is reachable and the bootstrap
  // post-start hooks (RBAC roles, priority classes) have run.
  Result<void> check_health(const std::map<std::string, std::string>& endpoints,
                            Duration timeout) const override {
    return expect_ok(endpoints.at("health"), endpoints.at("ca"), endpoints.at("token-file"), timeout);
  }
};

// kube-scheduler and kube-controller-manager: the admin kubeconfig of the lab's kube-apiserver, serving
// /healthz on loopback with the lab CA's certificate (so the check can verify it).
class KubeComponentSpec final : public KubeSpec {
 public:
  explicit KubeComponentSpec(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  std::string_view binary_name() const override { return name_; }
  std::vector<std::string> port_roles() const override { return {"secure"}; }
  std::vector<std::string> required_services() const override { return {"kube-apiserver"}; }

  Result<std::vector<std::string>> command(const fs::path& binary, const fs::path& dir,
                                           const std::map<std::string, std::uint16_t>& ports) const override {
    if (Result<ServiceRecord> apiserver = sibling(dir, name(), "kube-apiserver"); !apiserver) {
      return std::unexpected(apiserver.error());
    }
    fs::path api = apiserver_dir(dir);
    std::string kubeconfig = kube_kubeconfig(api).string();
    auto file = [&](std::string_view name) { return (api / std::string(name)).string(); };
    std::vector<std::string> argv = {
        binary.string(),
        "--kubeconfig=" + kubeconfig,
        "--authentication-kubeconfig=" + kubeconfig,
        "--authorization-kubeconfig=" + kubeconfig,
        fmt::format("--bind-address={}", kLoopback),
        fmt::format("--secure-port={}", ports.at("secure")),
        "--tls-cert-file=" + file("server.crt"),
        "--tls-private-key-file=" + file("server.key"),
        "--leader-elect=false",
    };
    if (name_ == "kube-controller-manager") {
      argv.insert(argv.end(), {
                                  "--service-account-private-key-file=" + file("sa.key"),
                                  "--root-ca-file=" + file("ca.crt"),
                                  "--cluster-signing-cert-file=" + file("ca.crt"),
                                  "--cluster-signing-key-file=" + file("ca.key"),
                                  "--use-service-account-credentials=false",
                                  fmt::format("--service-cluster-ip-range={}", kServiceRange),
                              });
    }
    return argv;
  }

  std::map<std::string, std::string> endpoints(
      const std::map<std::string, std::uint16_t>& ports) const override {
    return {{"health", fmt::format("https://{}:{}/healthz", kLoopback, ports.at("secure"))}};
  }
  std::map<std::string, std::string> file_endpoints(const fs::path& dir) const override {
    return {{"ca", (apiserver_dir(dir) / "ca.crt").string()}};
  }
  // /healthz is in the default --authorization-always-allow-paths: no credentials needed.
  Result<void> check_health(const std::map<std::string, std::string>& endpoints,
                            Duration timeout) const override {
    return expect_ok(endpoints.at("health"), endpoints.at("ca"), {}, timeout);
  }

 private:
  std::string name_;
};

kube::Resource nodes_resource() {
  return kube::Resource{.group = "", .version = "v1", .name = "nodes", .kind = "Node", .namespaced = false};
}

Result<std::unique_ptr<kube::Transport>> admin_transport(const fs::path& kubeconfig) {
  kube::LoadOptions load;
  load.kubeconfig = kubeconfig;
  Result<kube::RestConfig> config = kube::load_rest_config(load);
  if (!config) {
    return std::unexpected(config.error());
  }
  return kube::Transport::create(*config, kube::ClientOptions{}, real_clock());
}

// kwok plays the kubelet of the fake node: it marks the node Ready and every pod bound to it Running. It
// manages only nodes carrying the annotation, so a real node (if one ever joins) is left alone.
class KwokSpec final : public KubeSpec {
 public:
  std::string_view name() const override { return "kwok"; }
  std::string_view binary_name() const override { return "kwok"; }
  std::vector<std::string> port_roles() const override { return {"server"}; }
  std::vector<std::string> required_services() const override { return {"kube-apiserver"}; }

  Result<std::vector<std::string>> command(const fs::path& binary, const fs::path& dir,
                                           const std::map<std::string, std::uint16_t>& ports) const override {
    if (Result<ServiceRecord> apiserver = sibling(dir, name(), "kube-apiserver"); !apiserver) {
      return std::unexpected(apiserver.error());
    }
    fs::path kubeconfig = kube_kubeconfig(apiserver_dir(dir));
    // The node exists before kwok starts; kwok picks it up by its annotation on its first list.
    if (auto registered = register_node(kubeconfig); !registered) {
      return std::unexpected(registered.error());
    }
    return std::vector<std::string>{
        binary.string(),
        "--kubeconfig=" + kubeconfig.string(),
        "--manage-all-nodes=false",
        fmt::format("--manage-nodes-with-annotation-selector={}=fake", kKwokNodeAnnotation),
        fmt::format("--server-address={}:{}", kLoopback, ports.at("server")),
    };
  }

  std::map<std::string, std::string> endpoints(
      const std::map<std::string, std::uint16_t>& ports) const override {
    return {{"health", fmt::format("http://{}:{}/healthz", kLoopback, ports.at("server"))},
            {"node", std::string(kKwokNodeName)}};
  }
  std::map<std::string, std::string> file_endpoints(const fs::path& dir) const override {
    return {{"kubeconfig", kube_kubeconfig(apiserver_dir(dir)).string()}};
  }

  // Healthy once kwok answers and has made the fake node Ready (until then no pod could be scheduled).
  Result<void> check_health(const std::map<std::string, std::string>& endpoints,
                            Duration timeout) const override {
    if (auto up = expect_ok(endpoints.at("health"), {}, {}, timeout); !up) {
      return up;
    }
    Result<std::unique_ptr<kube::Transport>> transport = admin_transport(endpoints.at("kubeconfig"));
    if (!transport) {
      return std::unexpected(transport.error());
    }
    kube::Api api(**transport);
    kube::ApiResult<nlohmann::json> node = api.get(nodes_resource(), "", kKwokNodeName);
    if (!node) {
      return std::unexpected(node.error().error);
    }
    for (const nlohmann::json& condition :
         node->value("/status/conditions"_json_pointer, nlohmann::json::array())) {
      if (condition.value("type", "") == "Ready" && condition.value("status", "") == "True") {
        return {};
      }
    }
    return fail(ErrorKind::unavailable, fmt::format("node {} is not Ready yet", kKwokNodeName));
  }

 private:
  static Result<void> register_node(const fs::path& kubeconfig) {
    Result<std::unique_ptr<kube::Transport>> transport = admin_transport(kubeconfig);
    if (!transport) {
      return std::unexpected(transport.error());
    }
    nlohmann::json capacity = {{"cpu", "32"}, {"memory", "256Gi"}, {"pods", "110"}};
    nlohmann::json node = {
        {"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata",
         {{"name", kKwokNodeName},
          {"annotations", {{kKwokNodeAnnotation, "fake"}, {"node.alpha.kubernetes.io/ttl", "0"}}},
          {"labels",
           {{"type", "kwok"},
            {"kubernetes.io/hostname", kKwokNodeName},
            {"kubernetes.io/os", "linux"},
            {"kubernetes.io/arch", "amd64"}}}}},
        {"status", {{"capacity", capacity}, {"allocatable", capacity}}},
    };
    kube::Api api(**transport);
    kube::ApiResult<nlohmann::json> created = api.create(nodes_resource(), "", node);
    if (!created && created.error().code != 409) {
      return fail(created.error().error.kind, fmt::format("lab: kwok: cannot register node {}: {}",
                                                          kKwokNodeName, created.error().error.message));
    }
    return {};
  }
};

}  // namespace

std::unique_ptr<ServiceSpec> make_kube_apiserver_spec() {
  return std::make_unique<KubeApiserverSpec>();
}
std::unique_ptr<ServiceSpec> make_kube_scheduler_spec() {
  return std::make_unique<KubeComponentSpec>("kube-scheduler");
}
std::unique_ptr<ServiceSpec> make_kube_controller_manager_spec() {
  return std::make_unique<KubeComponentSpec>("kube-controller-manager");
}
std::unique_ptr<ServiceSpec> make_kwok_spec() {
  return std::make_unique<KwokSpec>();
}

}  // namespace kp::lab
