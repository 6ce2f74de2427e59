#include "kube/kubeconfig.hpp"

#include <cstdlib>
#include <map>
#include <set>

#include <fmt/format.h>

#include "config/yaml_fields.hpp"
#include "kube/encoding.hpp"
#include "kube/kubeconfig_file.hpp"

namespace kp::kube {
namespace {

namespace fs = std::filesystem;
using detail::ClusterEntry;
using detail::ContextEntry;
using detail::load_merged;
using detail::Merged;
using detail::UserEntry;

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += item;
  }
  return out;
}

std::string where(const std::string& file, int line, const std::string& path) {
  return line > 0 ? fmt::format("{}:{}: {}", file, line, path) : fmt::format("{}: {}", file, path);
}

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

// The host of "scheme://[user:password@]host[:port][/path]" ("[::1]" keeps its brackets); "" when none.
std::string_view url_host(std::string_view url) {
  if (std::size_t scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    url.remove_prefix(scheme_end + 3);
  }
  url = url.substr(0, url.find('/'));
  if (std::size_t at = url.rfind('@'); at != std::string_view::npos) {
    url.remove_prefix(at + 1);
  }
  if (url.starts_with('[')) {
    return url.substr(0, url.find(']') + 1);
  }
  return url.substr(0, url.find(':'));
}

Result<void> check_readable(const std::string& file, const std::string& location, std::string_view key) {
  if (file.empty()) {
    return {};
  }
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    return fail(ErrorKind::input,
                fmt::format("{}.{}: cannot read \"{}\": no such file", location, key, file));
  }
  return {};
}

Result<RestConfig> resolve(const Merged& merged, const std::optional<std::string>& context_flag) {
  std::string files = join(merged.files, ":");
  std::string context_name = context_flag.value_or(merged.current_context);
  if (context_name.empty()) {
    return fail(
        ErrorKind::input,
        fmt::format("{}: current-context is not set; pass --context (contexts: {})", files,
                    merged.context_order.empty() ? std::string("none") : join(merged.context_order, ", ")));
  }
  auto context = merged.contexts.find(context_name);
  if (context == merged.contexts.end()) {
    return fail(
        ErrorKind::input,
        fmt::format("{}: context \"{}\" not found{} (contexts: {})", files, context_name,
                    context_flag ? " (from --context)" : " (current-context)",
                    merged.context_order.empty() ? std::string("none") : join(merged.context_order, ", ")));
  }
  const ContextEntry& ctx = context->second;
  std::string ctx_where = where(ctx.file, ctx.line, ctx.path);
  auto cluster = merged.clusters.find(ctx.cluster);
  if (ctx.cluster.empty() || cluster == merged.clusters.end()) {
    return fail(ErrorKind::input, fmt::format("{}.cluster: cluster \"{}\" of context \"{}\" not found",
                                              ctx_where, ctx.cluster, context_name));
  }
  const ClusterEntry& c = cluster->second;
  std::string cluster_where = where(c.file, c.line, c.path);
  if (c.server.empty()) {
    return fail(ErrorKind::input, fmt::format("{}.server: required", cluster_where));
  }
  if (!c.server.starts_with("https://") && !c.server.starts_with("http://")) {
    return fail(ErrorKind::input, fmt::format("{}.server: must start with https:// or http://, got \"{}\"",
                                              cluster_where, c.server));
  }
  if (!c.proxy_url.empty()) {
    // client-go's rule (clientcmd's validation): http, https or socks5, with a host. Only the scheme is
    // echoed: the URL may carry a password.
    const std::size_t scheme_end = c.proxy_url.find("://");
    const std::string scheme =
        scheme_end == std::string::npos ? std::string() : c.proxy_url.substr(0, scheme_end);
    if (scheme != "http" && scheme != "https" && scheme != "socks5") {
      return fail(ErrorKind::input,
                  fmt::format("{}.proxy-url: unsupported scheme \"{}\", must be http, https or socks5",
                              cluster_where, scheme.size() <= 16 ? scheme : scheme.substr(0, 16) + "..."));
    }
    if (url_host(c.proxy_url).empty()) {
      return fail(ErrorKind::input, fmt::format("{}.proxy-url: has no host", cluster_where));
    }
  }
  if (Result<void> ok = check_readable(c.ca_file, cluster_where, "certificate-authority"); !ok) {
    return std::unexpected(ok.error());
  }
  if (c.insecure && (!c.ca_file.empty() || !c.ca_data.empty())) {
    // client-go refuses this combination too.
    return fail(ErrorKind::input,
                fmt::format("{}.insecure-skip-tls-verify: cannot be combined with a certificate authority",
                            cluster_where));
  }
  RestConfig config;
  config.server = c.server;
  config.context = context_name;
  config.cluster_name = ctx.cluster;
  config.user_name = ctx.user;
  config.ns = ctx.ns.empty() ? "default" : ctx.ns;
  config.source = files;
  config.ca_file = c.ca_file;
  config.ca_data = c.ca_data;
  config.tls_server_name = c.tls_server_name;
  config.insecure_skip_tls_verify = c.insecure;
  config.proxy_url = c.proxy_url;
  if (!ctx.user.empty()) {
    auto user = merged.users.find(ctx.user);
    if (user == merged.users.end()) {
      return fail(ErrorKind::input, fmt::format("{}.user: user \"{}\" of context \"{}\" not found", ctx_where,
                                                ctx.user, context_name));
    }
    const UserEntry& u = user->second;
    std::string user_where = where(u.file, u.line, u.path);
    if (!u.auth_provider.empty()) {
      return fail(ErrorKind::input,
                  fmt::format("{}.auth-provider: \"{}\" is not supported (removed from kubectl); use an exec "
                              "credential plugin (e.g. gke-gcloud-auth-plugin, kubelogin)",
                              user_where, u.auth_provider));
    }
    if (u.basic_auth) {
      return fail(ErrorKind::input,
                  fmt::format("{}.username: basic authentication is not supported", user_where));
    }
    if (!u.cert_file.empty() && !u.cert_data.empty()) {
      return fail(ErrorKind::input,
                  fmt::format("{}: client-certificate and client-certificate-data are both set", user_where));
    }
    if (!u.key_file.empty() && !u.key_data.empty()) {
      return fail(ErrorKind::input,
                  fmt::format("{}: client-key and client-key-data are both set", user_where));
    }
    bool has_cert = !u.cert_file.empty() || !u.cert_data.empty();
    bool has_key = !u.key_file.empty() || !u.key_data.empty();
    if (has_cert != has_key) {
      return fail(ErrorKind::input, fmt::format("{}: {} is set without {}", user_where,
                                                has_cert ? "a client certificate" : "a client key",
                                                has_cert ? "its key" : "its certificate"));
    }
    for (auto [file, key] : {std::pair{&u.cert_file, "client-certificate"},
                             std::pair{&u.key_file, "client-key"}, std::pair{&u.token_file, "tokenFile"}}) {
      if (Result<void> ok = check_readable(*file, user_where, key); !ok) {
        return std::unexpected(ok.error());
      }
    }
    config.client_cert_file = u.cert_file;
    config.client_key_file = u.key_file;
    config.client_cert_data = u.cert_data;
    config.client_key_data = u.key_data;
    config.token = u.token;
    config.token_file = u.token_file;
    config.exec = u.exec;
  }
  return config;
}

}  // namespace

std::vector<fs::path> kubeconfig_files(const LoadOptions& options) {
  if (options.kubeconfig) {
    return {*options.kubeconfig};
  }
  std::vector<fs::path> files;
  std::set<std::string> seen;
  std::optional<std::string> list = options.kubeconfig_env ? options.kubeconfig_env : env("KUBECONFIG");
  if (list && !list->empty()) {
    std::size_t start = 0;
    while (start <= list->size()) {
      std::size_t end = list->find(':', start);
      if (end == std::string::npos) {
        end = list->size();
      }
      std::string item = list->substr(start, end - start);
      std::error_code ec;
      if (!item.empty() && seen.insert(item).second && fs::exists(item, ec)) {
        files.emplace_back(item);
      }
      start = end + 1;
    }
    return files;
  }
  std::optional<fs::path> home = options.home;
  if (!home) {
    if (std::optional<std::string> value = env("HOME")) {
      home = fs::path(*value);
    }
  }
  if (home) {
    fs::path file = *home / ".kube" / "config";
    std::error_code ec;
    if (fs::exists(file, ec)) {
      files.push_back(file);
    }
  }
  return files;
}

Result<RestConfig> load_rest_config(const LoadOptions& options) {
  std::vector<fs::path> files = kubeconfig_files(options);
  if (files.empty()) {
    std::optional<std::string> host =
        options.service_host ? options.service_host : env("KUBERNETES_SERVICE_HOST");
    std::optional<std::string> port =
        options.service_port ? options.service_port : env("KUBERNETES_SERVICE_PORT");
    if (host && port && !host->empty() && !port->empty()) {
      return in_cluster_config(*host, *port, options.service_account_dir);
    }
    return fail(
        ErrorKind::unavailable,
        "no kubeconfig: --kubeconfig not given, $KUBECONFIG names no existing file, ~/.kube/config does "
        "not exist, and not running in a pod");
  }
  Result<Merged> merged = load_merged(files);
  if (!merged) {
    return std::unexpected(merged.error());
  }
  return resolve(*merged, options.context);
}

Result<KubeconfigSummary> summarize(const std::vector<fs::path>& files) {
  Result<Merged> merged = load_merged(files);
  if (!merged) {
    return std::unexpected(merged.error());
  }
  KubeconfigSummary summary;
  summary.contexts = merged->context_order;
  summary.current_context = merged->current_context;
  return summary;
}

Result<RestConfig> in_cluster_config(const std::string& host, const std::string& port,
                                     const fs::path& service_account_dir) {
  fs::path token = service_account_dir / "token";
  fs::path ca = service_account_dir / "ca.crt";
  std::error_code ec;
  if (!fs::is_regular_file(token, ec)) {
    return fail(ErrorKind::unavailable,
                fmt::format("in-cluster config: {} does not exist (no service account token mounted)",
                            token.string()));
  }
  RestConfig config;
  // An IPv6 service host needs brackets in a URL.
  std::string shown_host = host.find(':') != std::string::npos ? fmt::format("[{}]", host) : host;
  config.server = fmt::format("https://{}:{}", shown_host, port);
  config.source = "in-cluster service account";
  config.token_file = token;
  if (fs::is_regular_file(ca, ec)) {
    config.ca_file = ca;
  }
  Result<std::string> ns = config::read_text_file((service_account_dir / "namespace").string());
  if (ns && !ns->empty()) {
    std::string value = *ns;
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) {
      value.pop_back();
    }
    config.ns = value;
  }
  return config;
}

}  // namespace kp::kube
