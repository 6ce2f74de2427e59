#pragma once

// The lab's two "pods" for the network phase: two network namespaces joined by a veth pair, each with an
// address in a private /24 that exists only inside them, plus a "ClusterIP": a third address that the
// client namespace DNATs (nftables, as kube-proxy's nftables mode does) to the server's address and port,
// so pod-to-pod and pod-to-service are both measured on this host.
//
//   client ns kp-a: kp-veth-a 10.237.0.1/24, route 10.237.1.10/32 via kp-veth-a,
//                   nat output: 10.237.1.10:80 (tcp, udp) -> 10.237.0.2:7410
//   server ns kp-b: kp-veth-b 10.237.0.2/24
//
// Network namespaces are not processes, so they are not a ServiceSpec: `lab up/down/status` call these
// functions beside the services. State lives in <state_dir>/netns/ (netns.json, ruleset.nft); it is written
// before anything is created, so `down` can remove a half-made lab too. `down` is idempotent and removes
// only namespaces this state dir recorded. Creating namespaces needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace kp::lab {

struct NetnsLayout {
  std::string client_ns = "kp-a";
  std::string server_ns = "kp-b";
  std::string client_if = "kp-veth-a";
  std::string server_if = "kp-veth-b";
  std::string client_ip = "10.237.0.1";
  std::string server_ip = "10.237.0.2";
  int prefix_length = 24;
  std::string service_ip = "10.237.1.10";  // outside the pods' /24, as a service CIDR is
  std::uint16_t service_port = 80;
  std::uint16_t server_port = 7410;  // where the DNAT rule sends it: the agent's default port

  std::string server_endpoint() const;   // "10.237.0.2:7410"
  std::string service_endpoint() const;  // "10.237.1.10:80"
  friend bool operator==(const NetnsLayout&, const NetnsLayout&) = default;
};

struct NetnsRecord {
  NetnsLayout layout;
  std::string nat = "nftables";
  bool complete = false;  // false while being created (or if `up` died half-way)
};

// Names: 1..15 characters of [A-Za-z0-9_.-] (an interface name's limit), all four distinct; addresses IPv4,
// the two pods in one /prefix, the service address outside it. ErrorKind::usage naming the field.
Result<void> validate(const NetnsLayout& layout);

// The nftables ruleset loaded in the client namespace.
std::string nft_ruleset(const NetnsLayout& layout);

// Creates the namespaces, the veth pair, the addresses, the route and the DNAT rule. ErrorKind::unavailable
// when not root or `ip`/`nft` is missing (naming the Debian package); ErrorKind::usage when a namespace of
// that name exists but is not recorded here, or this state dir already has one up. On a failure half-way,
// removes what it made.
Result<NetnsRecord> netns_up(const std::filesystem::path& state_dir, const NetnsLayout& layout, Clock& clock);

// Removes the recorded namespaces (which takes the veth pair and the rules with them) and the state. Lines
// for people: what was removed, or "network namespaces: not set up". Idempotent.
Result<std::vector<std::string>> netns_down(const std::filesystem::path& state_dir, Clock& clock);

struct NetnsStatus {
  std::optional<NetnsRecord> record;  // absent: not set up in this state dir
  bool healthy = false;               // both namespaces exist, the veth ends are up, the DNAT table is there
  std::string detail;                 // "up: kp-a 10.237.0.1 <-> kp-b 10.237.0.2, service 10.237.1.10:80 ..."
};
NetnsStatus netns_status(const std::filesystem::path& state_dir, Clock& clock);

// <state_dir>/netns/netns.json; nullopt when absent.
Result<std::optional<NetnsRecord>> read_netns_record(const std::filesystem::path& state_dir);

// The record of a complete lab, for the network phase. ErrorKind::unavailable with the reason (so the phase
// is SKIPPED) when it is not set up or a namespace has gone.
Result<NetnsRecord> netns_for_phase(const std::filesystem::path& state_dir);

// "/run/netns/<name>": where `ip netns` keeps a named namespace (a setns() target).
std::filesystem::path netns_path(std::string_view name);

}  // namespace kp::lab
