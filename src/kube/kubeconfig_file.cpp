#include "kube/kubeconfig_file.hpp"

#include <fmt/format.h>

#include "config/yaml_fields.hpp"
#include "kube/encoding.hpp"

namespace kp::kube::detail {
namespace {

namespace fs = std::filesystem;
using config::YamlField;
using config::YamlMap;

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
  entry.proxy_url = *proxy;
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

}  // namespace

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

}  // namespace kp::kube::detail
