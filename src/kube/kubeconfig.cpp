#include "kube/kubeconfig.hpp"

#include <cstdlib>
#include <map>
#include <set>

#include <fmt/format.h>

#include "config/yaml_fields.hpp"
#include "kube/encoding.hpp"

namespace kp::kube {
namespace {

namespace fs = std::filesystem;
using config::YamlField;
using config::YamlMap;

struct ClusterEntry {
  std::string file;
  std::string path;  // "clusters[0].cluster", for messages about this entry
  int line = 0;
  std::string server;
  std::string ca_file;
  std::string ca_data;
  std::string tls_server_name;
  bool insecure = false;
  bool has_proxy = false;
};

struct UserEntry {
  std::string file;
  std::string path;
  int line = 0;
  std::string cert_file;
  std::string key_file;
  std::string cert_data;
  std::string key_data;
  std::string token;
  std::string token_file;
  std::optional<ExecConfig> exec;
  std::string auth_provider;  // name, when present (unsupported)
  bool basic_auth = false;    // username/password (unsupported)
};

struct ContextEntry {
  std::string file;
  std::string path;
  int line = 0;
  std::string cluster;
  std::string user;
  std::string ns;
};

struct ParsedFile {
  std::string file;
  std::string current_context;
  std::vector<std::pair<std::string, ClusterEntry>> clusters;
  std::vector<std::pair<std::string, UserEntry>> users;
  std::vector<std::pair<std::string, ContextEntry>> contexts;
};

// Resolves a path from a kubeconfig against the folder of the file that contains it (client-go's
// ResolvePaths); absolute paths and "" stay as they are.
std::string resolve_path(const std::string& file, const std::string& value) {
  if (value.empty() || fs::path(value).is_absolute()) {
    return value;
  }
  return (fs::path(file).parent_path() / value).lexically_normal().string();
}

Result<std::string> optional_string(const YamlMap& map, std::string_view key) {
  std::optional<YamlField> field = map.get(key);
  if (!field || field->is_null()) {
    return std::string();
  }
  if (!field->is_scalar()) {
    return field->fail("must be a string");
  }
  return field->text();
}

// A secret string: errors never echo it.
Result<std::string> optional_base64(const YamlMap& map, std::string_view key) {
  Result<std::string> text = optional_string(map, key);
  if (!text || text->empty()) {
    return text;
  }
  std::optional<std::string> decoded = base64_decode(*text);
  if (!decoded) {
    return map.get(key)->fail("not valid base64");
  }
  return *decoded;
}

Result<bool> optional_bool(const YamlMap& map, std::string_view key) {
  std::optional<YamlField> field = map.get(key);
  if (!field || field->is_null()) {
    return false;
  }
  return config::read_bool(*field);
}

Result<ExecConfig> parse_exec(const YamlField& field, const std::string& file) {
  Result<YamlMap> map = YamlMap::open_any(field);
  if (!map) {
    return std::unexpected(map.error());
  }
  ExecConfig exec;
  Result<std::string> command = optional_string(*map, "command");
  Result<std::string> api_version = optional_string(*map, "apiVersion");
  Result<std::string> hint = optional_string(*map, "installHint");
  Result<std::string> mode = optional_string(*map, "interactiveMode");
  Result<bool> cluster_info = optional_bool(*map, "provideClusterInfo");
  for (const Result<std::string>* text : {&command, &api_version, &hint, &mode}) {
    if (!*text) {
      return std::unexpected(text->error());
    }
  }
  if (!cluster_info) {
    return std::unexpected(cluster_info.error());
  }
  if (command->empty()) {
    return map->field().fail("command: required for an exec credential plugin");
  }
  if (*api_version != "client.authentication.k8s.io/v1" &&
      *api_version != "client.authentication.k8s.io/v1beta1") {
    std::optional<YamlField> at = map->get("apiVersion");
    return (at ? *at : map->field())
        .fail(fmt::format("must be client.authentication.k8s.io/v1 or v1beta1, got \"{}\"", *api_version));
  }
  // client-go resolves a command given as a relative path (it contains a separator); a bare name is searched
  // on PATH when run.
  exec.command = command->find('/') != std::string::npos ? resolve_path(file, *command) : *command;
  exec.api_version = *api_version;
  exec.install_hint = *hint;
  exec.interactive_mode = *mode;
  exec.provide_cluster_info = *cluster_info;
  if (std::optional<YamlField> args = map->get("args"); args && !args->is_null()) {
    Result<std::vector<YamlField>> items = args->items();
    if (!items) {
      return std::unexpected(items.error());
    }
    for (const YamlField& item : *items) {
      if (!item.is_scalar()) {
        return item.fail("must be a string");
      }
      exec.args.push_back(item.text());
    }
  }
  if (std::optional<YamlField> env = map->get("env"); env && !env->is_null()) {
    Result<std::vector<YamlField>> items = env->items();
    if (!items) {
      return std::unexpected(items.error());
    }
    for (const YamlField& item : *items) {
      Result<YamlMap> entry = YamlMap::open_any(item);
      if (!entry) {
        return std::unexpected(entry.error());
      }
      Result<std::string> name = optional_string(*entry, "name");
      Result<std::string> value = optional_string(*entry, "value");
      if (!name || !value) {
        return std::unexpected(!name ? name.error() : value.error());
      }
      if (name->empty()) {
        return item.fail("name: required");
      }
      exec.env.emplace_back(*name, *value);
    }
  }
  return exec;
}

Result<ClusterEntry> parse_cluster(const YamlField& field, const std::string& file) {
  Result<YamlMap> map = YamlMap::open_any(field);
  if (!map) {
    return std::unexpected(map.error());
  }
  ClusterEntry entry;
  entry.file = file;
  entry.path = field.path();
  entry.line = field.line();
  Result<std::string> server = optional_string(*map, "server");
  Result<std::string> ca_file = optional_string(*map, "certificate-authority");
  Result<std::string> ca_data = optional_base64(*map, "certificate-authority-data");
  Result<std::string> sni = optional_string(*map, "tls-server-name");
  Result<std::string> proxy = optional_string(*map, "proxy-url");
  Result<bool> insecure = optional_bool(*map, "insecure-skip-tls-verify");
  for (const Result<std::string>* text : {&server, &ca_file, &ca_data, &sni, &proxy}) {
    if (!*text) {
      return std::unexpected(text->error());
    }
  }
  if (!insecure) {
    return std::unexpected(insecure.error());
  }
  entry.server = *server;
  while (!entry.server.empty() && entry.server.back() == '/') {
    entry.server.pop_back();
  }
  entry.ca_file = resolve_path(file, *ca_file);
  entry.ca_data = *ca_data;
  entry.tls_server_name = *sni;
  entry.insecure = *insecure;
  entry.has_proxy = !proxy->empty();
  return entry;
}

Result<UserEntry> parse_user(const YamlField& field, const std::string& file) {
  Result<YamlMap> map = YamlMap::open_any(field);
  if (!map) {
    return std::unexpected(map.error());
  }
  UserEntry entry;
  entry.file = file;
  entry.path = field.path();
  entry.line = field.line();
  Result<std::string> cert_file = optional_string(*map, "client-certificate");
  Result<std::string> key_file = optional_string(*map, "client-key");
  Result<std::string> cert_data = optional_base64(*map, "client-certificate-data");
  Result<std::string> key_data = optional_base64(*map, "client-key-data");
  Result<std::string> token = optional_string(*map, "token");
  Result<std::string> token_file = optional_string(*map, "tokenFile");
  Result<std::string> username = optional_string(*map, "username");
  for (const Result<std::string>* text :
       {&cert_file, &key_file, &cert_data, &key_data, &token, &token_file, &username}) {
    if (!*text) {
      return std::unexpected(text->error());
    }
  }
  entry.cert_file = resolve_path(file, *cert_file);
  entry.key_file = resolve_path(file, *key_file);
  entry.cert_data = *cert_data;
  entry.key_data = *key_data;
  entry.token = *token;
  entry.token_file = resolve_path(file, *token_file);
  entry.basic_auth = !username->empty();
  if (std::optional<YamlField> exec = map->get("exec"); exec && !exec->is_null()) {
    Result<ExecConfig> parsed = parse_exec(*exec, file);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    entry.exec = std::move(*parsed);
  }
  if (std::optional<YamlField> provider = map->get("auth-provider"); provider && !provider->is_null()) {
    Result<YamlMap> provider_map = YamlMap::open_any(*provider);
    if (!provider_map) {
      return std::unexpected(provider_map.error());
    }
    Result<std::string> name = optional_string(*provider_map, "name");
    entry.auth_provider = name && !name->empty() ? *name : "unnamed";
  }
  return entry;
}

Result<ContextEntry> parse_context(const YamlField& field, const std::string& file) {
  Result<YamlMap> map = YamlMap::open_any(field);
  if (!map) {
    return std::unexpected(map.error());
  }
  ContextEntry entry;
  entry.file = file;
  entry.path = field.path();
  entry.line = field.line();
  Result<std::string> cluster = optional_string(*map, "cluster");
  Result<std::string> user = optional_string(*map, "user");
  Result<std::string> ns = optional_string(*map, "namespace");
  for (const Result<std::string>* text : {&cluster, &user, &ns}) {
    if (!*text) {
      return std::unexpected(text->error());
    }
  }
  entry.cluster = *cluster;
  entry.user = *user;
  entry.ns = *ns;
  return entry;
}

// Reads the named list ("clusters") of {name, <inner>} entries.
template <typename Entry, typename Parse>
Result<std::vector<std::pair<std::string, Entry>>> parse_named_list(const YamlMap& root, std::string_view key,
                                                                    std::string_view inner,
                                                                    const std::string& file, Parse parse) {
  std::vector<std::pair<std::string, Entry>> entries;
  std::optional<YamlField> list = root.get(key);
  if (!list || list->is_null()) {
    return entries;
  }
  Result<std::vector<YamlField>> items = list->items();
  if (!items) {
    return std::unexpected(items.error());
  }
  for (const YamlField& item : *items) {
    Result<YamlMap> map = YamlMap::open_any(item);
    if (!map) {
      return std::unexpected(map.error());
    }
    Result<YamlField> name_field = map->require("name");
    if (!name_field) {
      return std::unexpected(name_field.error());
    }
    Result<std::string> name = config::read_string(*name_field);
    if (!name) {
      return std::unexpected(name.error());
    }
    std::optional<YamlField> body = map->get(inner);
    YamlField value = body ? *body
                           : YamlField(YAML::Node(YAML::NodeType::Map), file,
                                       item.path() + "." + std::string(inner), item.line());
    Result<Entry> entry = parse(value, file);
    if (!entry) {
      return std::unexpected(entry.error());
    }
    entries.emplace_back(*name, std::move(*entry));
  }
  return entries;
}

Result<ParsedFile> parse_file(const fs::path& path) {
  std::string file = path.string();
  Result<std::string> text = config::read_text_file(file);
  if (!text) {
    return std::unexpected(text.error());
  }
  ParsedFile parsed;
  parsed.file = file;
  Result<YamlField> root = config::parse_yaml(*text, file);
  if (!root) {
    return std::unexpected(root.error());
  }
  if (root->is_null()) {
    return parsed;  // an empty file is an empty config, as in client-go
  }
  Result<YamlMap> map = YamlMap::open_any(*root);
  if (!map) {
    return std::unexpected(
        Error{ErrorKind::input, fmt::format("{}: not a kubeconfig (expected a mapping)", file)});
  }
  Result<std::string> current = optional_string(*map, "current-context");
  if (!current) {
    return std::unexpected(current.error());
  }
  parsed.current_context = *current;
  auto clusters = parse_named_list<ClusterEntry>(*map, "clusters", "cluster", file, parse_cluster);
  if (!clusters) {
    return std::unexpected(clusters.error());
  }
  auto users = parse_named_list<UserEntry>(*map, "users", "user", file, parse_user);
  if (!users) {
    return std::unexpected(users.error());
  }
  auto contexts = parse_named_list<ContextEntry>(*map, "contexts", "context", file, parse_context);
  if (!contexts) {
    return std::unexpected(contexts.error());
  }
  parsed.clusters = std::move(*clusters);
  parsed.users = std::move(*users);
  parsed.contexts = std::move(*contexts);
  return parsed;
}

struct Merged {
  std::vector<std::string> files;
  std::string current_context;
  std::map<std::string, ClusterEntry> clusters;
  std::map<std::string, UserEntry> users;
  std::map<std::string, ContextEntry> contexts;
  std::vector<std::string> context_order;
};

// client-go's rule: the first file to set a map key or current-context wins.
Result<Merged> load_merged(const std::vector<fs::path>& files) {
  Merged merged;
  for (const fs::path& path : files) {
    Result<ParsedFile> parsed = parse_file(path);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    merged.files.push_back(parsed->file);
    if (merged.current_context.empty()) {
      merged.current_context = parsed->current_context;
    }
    for (auto& [name, entry] : parsed->clusters) {
      merged.clusters.try_emplace(name, std::move(entry));
    }
    for (auto& [name, entry] : parsed->users) {
      merged.users.try_emplace(name, std::move(entry));
    }
    for (auto& [name, entry] : parsed->contexts) {
      if (merged.contexts.try_emplace(name, std::move(entry)).second) {
        merged.context_order.push_back(name);
      }
    }
  }
  return merged;
}

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
  if (c.has_proxy) {
    return fail(ErrorKind::input, fmt::format("{}.proxy-url: not supported by kubeproof", cluster_where));
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
