#pragma once

// Connections to etcd. One gRPC channel is one TCP (or TLS) connection: channels get a local subchannel pool
// so gRPC does not fold equal channels into one connection; many clients (concurrent calls, HTTP/2 streams)
// share a channel, as in etcd's benchmark (--conns x --clients).

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "core/error.hpp"
#include "core/units.hpp"
#include "drivers/etcd/settings.hpp"

namespace etcdserverpb {
class StatusResponse;
}

namespace kp::drivers::etcd {

struct Connections {
  std::vector<std::shared_ptr<grpc::Channel>> channels;  // channel i goes to endpoints[i % endpoints.size()]
  std::vector<std::string> targets;                      // the endpoint of each channel, for messages
};

// Opens `count` channels over `endpoints` (TLS when any endpoint is https:// or TLS files are given). Reads
// the TLS files now: a missing or unreadable file is an input error naming it. Does not wait for the
// connections.
Result<Connections> open_connections(const std::vector<std::string>& endpoints, const TlsFiles& tls,
                                     int count);

// Waits until the channel is connected, up to `timeout`; a network error naming the target otherwise.
Result<void> wait_connected(const std::shared_ptr<grpc::Channel>& channel, const std::string& target,
                            Duration timeout);

struct MemberStatus {
  std::string version;
  std::uint64_t member_id = 0;
  std::uint64_t leader = 0;  // 0: the member knows no leader
  std::uint64_t raft_term = 0;
  std::int64_t db_size = 0;
  std::vector<std::string> errors;  // alarms ("NOSPACE") reported by the member
};

// Maintenance.Status on one channel, bounded by `timeout`.
Result<MemberStatus> member_status(const std::shared_ptr<grpc::Channel>& channel, const std::string& target,
                                   Duration timeout);

struct ClusterMember {
  std::uint64_t id = 0;
  std::string name;
  std::vector<std::string> client_urls;
  bool learner = false;
};

// Cluster.MemberList on one channel, bounded by `timeout`: the cluster's size, whatever endpoints were given.
Result<std::vector<ClusterMember>> member_list(const std::shared_ptr<grpc::Channel>& channel,
                                               const std::string& target, Duration timeout);

// KV.DeleteRange over every key with `prefix`; returns how many keys were deleted.
Result<std::int64_t> delete_prefix(const std::shared_ptr<grpc::Channel>& channel, const std::string& prefix,
                                   Duration timeout);

// KV.Range count_only over every key with `prefix`.
Result<std::int64_t> count_prefix(const std::shared_ptr<grpc::Channel>& channel, const std::string& prefix,
                                  Duration timeout);

// A gRPC status as one line: "UNAVAILABLE: failed to connect to all addresses".
std::string describe_status(int code, const std::string& message);

}  // namespace kp::drivers::etcd
