#pragma once

// A pod's /etc/resolv.conf, read the way glibc's stub resolver reads it (resolv/res_init.c), so the pod
// resolver mode asks what an application in that pod asks:
//   nameserver ADDR         up to three (MAXNS); the first is the one queried here
//   search D1 D2 ...        the last `search` or `domain` line wins (glibc); `domain D` is `search D`
//   options ndots:N         N capped at 15; absent: glibc's default 1
//   # or ; start a comment; other keywords (sortlist, other options) are ignored, as glibc ignores them.
// A pod with dnsPolicy ClusterFirst gets, from the kubelet:
//   nameserver 10.96.0.10
//   search <ns>.svc.cluster.local svc.cluster.local cluster.local
//   options ndots:5
// from which the pod's namespace and the cluster domain can be read back (pod_namespace, cluster_domain).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace kp::drivers::dns {

inline constexpr std::string_view kResolvConf = "/etc/resolv.conf";

struct ResolvConf {
  std::vector<std::string> nameservers;  // as written: "10.96.0.10", "fd00::10"
  std::vector<std::string> search;       // without trailing dots
  std::optional<int> ndots;              // options ndots:N, when given

  // glibc's: the file's ndots, else 1.
  int effective_ndots() const { return ndots.value_or(1); }
  // The namespace of a ClusterFirst search list: "<ns>" from a first domain "<ns>.svc.<domain>" followed by
  // "svc.<domain>"; nullopt for any other list.
  std::optional<std::string> pod_namespace() const;
  // "<domain>" of the same list ("cluster.local"); nullopt for any other list.
  std::optional<std::string> cluster_domain() const;
};

// `source` names the text in errors. Errors (ErrorKind::input, naming source:line): a nameserver line
// without an address, an ndots option that is not a number. An empty file is valid (glibc: 127.0.0.1, no
// search) but has no nameserver, which the caller reports.
Result<ResolvConf> parse_resolv_conf(std::string_view text, std::string_view source);
// Reads and parses; an unreadable file is "/etc/resolv.conf: cannot read: No such file or directory".
Result<ResolvConf> read_resolv_conf(const std::filesystem::path& file);

}  // namespace kp::drivers::dns
