#pragma once

// The kubeconfig files as written (kubeconfig.cpp resolves them into a RestConfig): each file parsed into its
// clusters, users and contexts with the file, line and path of every entry for messages, and the files merged
// by client-go's rule (the first file to set a name or current-context wins). Internal to src/kube.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "kube/kubeconfig.hpp"

namespace kp::kube::detail {

struct ClusterEntry {
  std::string file;
  std::string path;  // "clusters[0].cluster", for messages about this entry
  int line = 0;
  std::string server;
  std::string ca_file;
  std::string ca_data;
  std::string tls_server_name;
  bool insecure = false;
  std::string proxy_url;  // may hold user:password: never echoed whole
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

struct Merged {
  std::vector<std::string> files;
  std::string current_context;
  std::map<std::string, ClusterEntry> clusters;
  std::map<std::string, UserEntry> users;
  std::map<std::string, ContextEntry> contexts;
  std::vector<std::string> context_order;
};

// Parses and merges `files` in precedence order. Errors name file:line: path and echo the value.
Result<Merged> load_merged(const std::vector<std::filesystem::path>& files);

}  // namespace kp::kube::detail
