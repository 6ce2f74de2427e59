#pragma once

// kubeconfig exactly as kubectl (client-go's clientcmd) reads it:
//   - `--kubeconfig FILE`: only that file, which must exist;
//   - else $KUBECONFIG: a ':'-separated list, missing files skipped, duplicates ignored, merged with
//     client-go's rules: for clusters, users and contexts the first file that defines a name wins (entries
//     are taken whole, never merged field by field); current-context comes from the first file that sets it;
//   - else ~/.kube/config; when no file exists at all and the process runs in a pod
//     ($KUBERNETES_SERVICE_HOST), the in-cluster service-account config.
// Relative paths in a file (certificate-authority, client-certificate, client-key, tokenFile, an exec
// command containing '/') are relative to that file's folder. `--context` overrides current-context.
// Decoding errors in any file fail the load; missing referenced files are checked for the chosen context
// only. Unknown keys are accepted, as kubectl accepts them (extensions, preferences, newer fields).
//
// Errors are one line naming the file, line and field: `/home/u/.kube/config:12:
// users[0].user.client-key-data: not valid base64`. Secret values (tokens, keys, -data fields) never appear
// in any message.

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace kp::kube {

// users[].user.exec: a client-go credential plugin (client.authentication.k8s.io/v1 or v1beta1).
struct ExecConfig {
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string api_version;
  std::string install_hint;
  bool provide_cluster_info = false;
  std::string interactive_mode;  // Never | IfAvailable | Always; we never have a terminal to offer
};

// Everything needed to talk to one API server as one user. Holds secrets: never log it.
struct RestConfig {
  std::string server;   // "https://127.0.0.1:6443", no trailing slash
  std::string context;  // the context used; "" for in-cluster
  std::string cluster_name;
  std::string user_name;
  std::string ns = "default";
  std::string source;  // for messages: the kubeconfig file(s) or "in-cluster service account"

  std::filesystem::path ca_file;
  std::string ca_data;  // PEM, decoded
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  // clusters[].cluster.proxy-url, as client-go takes it: http://, https:// (a TLS connection to the proxy,
  // then CONNECT) or socks5:// (the proxy resolves the server's name, as client-go's SOCKS5 dialer). ""
  // = none given (libcurl then honours HTTPS_PROXY / NO_PROXY, as client-go's ProxyFromEnvironment). May
  // hold user:password.
  std::string proxy_url;

  std::filesystem::path client_cert_file;
  std::filesystem::path client_key_file;
  std::string client_cert_data;  // PEM, decoded
  std::string client_key_data;   // PEM, decoded
  std::string token;
  std::filesystem::path token_file;
  std::optional<ExecConfig> exec;
};

struct LoadOptions {
  std::optional<std::filesystem::path> kubeconfig;  // --kubeconfig
  std::optional<std::string> context;               // --context
  // The environment, injectable for tests; unset -> read from the process environment.
  std::optional<std::string> kubeconfig_env;  // $KUBECONFIG
  std::optional<std::filesystem::path> home;  // $HOME
  std::optional<std::string> service_host;    // $KUBERNETES_SERVICE_HOST
  std::optional<std::string> service_port;    // $KUBERNETES_SERVICE_PORT
  std::filesystem::path service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};

// The files kubectl would read, in precedence order (existing ones only, except an explicit --kubeconfig,
// which is returned even when missing so loading it fails naming it).
std::vector<std::filesystem::path> kubeconfig_files(const LoadOptions& options);

// Loads and merges the kubeconfig files and resolves the context into a RestConfig (or the in-cluster config
// when kubectl would use it). Errors are ErrorKind::input, except "no configuration at all", which is
// ErrorKind::unavailable (the API phase is then SKIPPED with the reason).
Result<RestConfig> load_rest_config(const LoadOptions& options);

// The merged view, for `kubeproof` messages and tests: context names in file order and current-context.
struct KubeconfigSummary {
  std::vector<std::string> contexts;
  std::string current_context;
};
Result<KubeconfigSummary> summarize(const std::vector<std::filesystem::path>& files);

// The pod's service-account config: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, token and
// ca.crt from `service_account_dir` (the token file is re-read when the server says 401, as it rotates).
Result<RestConfig> in_cluster_config(const std::string& host, const std::string& port,
                                     const std::filesystem::path& service_account_dir);

}  // namespace kp::kube
