#include "drivers/etcd/client.hpp"

#include <fstream>
#include <mutex>
#include <sstream>

#include <absl/synchronization/mutex.h>
#include <fmt/format.h>
#include <grpc/support/time.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "drivers/etcd/keys.hpp"
#include "etcd_rpc.grpc.pb.h"

namespace kp::drivers::etcd {
namespace {

// A relative gRPC deadline: gRPC adds it to its own monotonic clock, so no wall-clock time is read here.
gpr_timespec after(Duration timeout) {
  return gpr_time_from_nanos(timeout.count(), GPR_TIMESPAN);
}

Result<std::string> read_file(const std::filesystem::path& file, std::string_view flag) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return fail(ErrorKind::input, fmt::format("etcd {}: cannot read \"{}\"", flag, file.string()));
  }
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string strip_scheme(std::string_view endpoint) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (endpoint.starts_with(scheme)) {
      endpoint.remove_prefix(scheme.size());
    }
  }
  return std::string(endpoint);
}

const char* code_name(int code) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  return code >= 0 && code < 17 ? kNames[code] : "?";
}

ErrorKind kind_of(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return ErrorKind::timeout;
    case grpc::StatusCode::UNAVAILABLE:
      return ErrorKind::network;
    case grpc::StatusCode::CANCELLED:
      return ErrorKind::cancelled;
    default:
      return ErrorKind::protocol;
  }
}

// Debian builds abseil without NDEBUG, so every absl::Mutex (each of gRPC's locks, several per call) keeps
// absl's lock-order graph for deadlock detection: a global lock, graph updates on every acquisition and stack
// traces on new edges. It is a debugging aid, and it cost the etcd client 3-4 % of its CPU (abseil's share
// went from 5-7 % to 2-3 %: bench/RESULTS.md, issue 20). Process-wide, set once before the first channel.
void stop_mutex_deadlock_detection() {
  static std::once_flag once;
  std::call_once(once, [] { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); });
}

}  // namespace

std::string describe_status(int code, const std::string& message) {
  std::string line = message;
  std::replace(line.begin(), line.end(), '\n', ' ');
  return fmt::format("{}: {}", code_name(code), line);
}

Result<Connections> open_connections(const std::vector<std::string>& endpoints, const TlsFiles& tls,
                                     int count) {
  if (endpoints.empty()) {
    return fail(ErrorKind::input, "etcd: no endpoints given");
  }
  stop_mutex_deadlock_detection();
  bool use_tls = tls.enabled();
  for (const std::string& endpoint : endpoints) {
    use_tls = use_tls || endpoint.starts_with("https://");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (use_tls) {
    grpc::SslCredentialsOptions options;
    if (!tls.ca_file.empty()) {
      Result<std::string> ca = read_file(tls.ca_file, "cacert");
      if (!ca) {
        return std::unexpected(ca.error());
      }
      options.pem_root_certs = *ca;
    }
    if (!tls.cert_file.empty()) {
      Result<std::string> cert = read_file(tls.cert_file, "cert");
      if (!cert) {
        return std::unexpected(cert.error());
      }
      options.pem_cert_chain = *cert;
    }
    if (!tls.key_file.empty()) {
      Result<std::string> key = read_file(tls.key_file, "key");
      if (!key) {
        return std::unexpected(key.error());
      }
      options.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(options);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  Connections connections;
  for (int i = 0; i < count; ++i) {
    std::string target = strip_scheme(endpoints[static_cast<std::size_t>(i) % endpoints.size()]);
    grpc::ChannelArguments args;
    // A private subchannel pool per channel: one channel, one connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("kubeproof.connection", i);
    args.SetMaxReceiveMessageSize(-1);
    // Fail fast when the server is gone, rather than retrying behind the measurement's back.
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    connections.channels.push_back(grpc::CreateCustomChannel(target, credentials, args));
    connections.targets.push_back(target);
  }
  return connections;
}

Result<void> wait_connected(const std::shared_ptr<grpc::Channel>& channel, const std::string& target,
                            Duration timeout) {
  if (channel->WaitForConnected(after(timeout))) {
    return {};
  }
  // WaitForConnected tells no reason; a call on the failed channel does (gRPC keeps the last connection
  // error, e.g. "Ssl handshake failed ... CERTIFICATE_VERIFY_FAILED" for a server certificate that does not
  // verify).
  auto stub = etcdserverpb::Maintenance::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(after(std::chrono::seconds(1)));
  etcdserverpb::StatusRequest request;
  etcdserverpb::StatusResponse response;
  grpc::Status status = stub->Status(&context, request, &response);
  std::string why = status.ok() ? fmt::format("state {}", static_cast<int>(channel->GetState(false)))
                                : describe_status(status.error_code(), status.error_message());
  return fail(ErrorKind::network,
              fmt::format("etcd {}: cannot connect within {}: {}", target, format_duration(timeout), why));
}

Result<MemberStatus> member_status(const std::shared_ptr<grpc::Channel>& channel, const std::string& target,
                                   Duration timeout) {
  auto stub = etcdserverpb::Maintenance::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(after(timeout));
  etcdserverpb::StatusRequest request;
  etcdserverpb::StatusResponse response;
  grpc::Status status = stub->Status(&context, request, &response);
  if (!status.ok()) {
    return fail(kind_of(status.error_code()),
                fmt::format("etcd {}: Status: {}", target,
                            describe_status(status.error_code(), status.error_message())));
  }
  MemberStatus member;
  member.version = response.version();
  member.member_id = response.header().member_id();
  member.leader = response.leader();
  member.raft_term = response.raftterm();
  member.db_size = response.dbsize();
  member.errors.assign(response.errors().begin(), response.errors().end());
  return member;
}

Result<std::vector<ClusterMember>> member_list(const std::shared_ptr<grpc::Channel>& channel,
                                               const std::string& target, Duration timeout) {
  auto stub = etcdserverpb::Cluster::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(after(timeout));
  etcdserverpb::MemberListRequest request;
  etcdserverpb::MemberListResponse response;
  grpc::Status status = stub->MemberList(&context, request, &response);
  if (!status.ok()) {
    return fail(kind_of(status.error_code()),
                fmt::format("etcd {}: MemberList: {}", target,
                            describe_status(status.error_code(), status.error_message())));
  }
  std::vector<ClusterMember> members;
  for (const etcdserverpb::Member& each : response.members()) {
    members.push_back(ClusterMember{.id = each.id(),
                                    .name = each.name(),
                                    .client_urls = {each.clienturls().begin(), each.clienturls().end()},
                                    .learner = each.islearner()});
  }
  return members;
}

Result<std::int64_t> delete_prefix(const std::shared_ptr<grpc::Channel>& channel, const std::string& prefix,
                                   Duration timeout) {
  auto stub = etcdserverpb::KV::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(after(timeout));
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(prefix);
  request.set_range_end(prefix_range_end(prefix));
  etcdserverpb::DeleteRangeResponse response;
  grpc::Status status = stub->DeleteRange(&context, request, &response);
  if (!status.ok()) {
    return fail(kind_of(status.error_code()),
                fmt::format("etcd DeleteRange \"{}\": {}", prefix,
                            describe_status(status.error_code(), status.error_message())));
  }
  return response.deleted();
}

Result<std::int64_t> count_prefix(const std::shared_ptr<grpc::Channel>& channel, const std::string& prefix,
                                  Duration timeout) {
  auto stub = etcdserverpb::KV::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(after(timeout));
  etcdserverpb::RangeRequest request;
  request.set_key(prefix);
  request.set_range_end(prefix_range_end(prefix));
  request.set_count_only(true);
  etcdserverpb::RangeResponse response;
  grpc::Status status = stub->Range(&context, request, &response);
  if (!status.ok()) {
    return fail(kind_of(status.error_code()),
                fmt::format("etcd Range \"{}\": {}", prefix,
                            describe_status(status.error_code(), status.error_message())));
  }
  return response.count();
}

}  // namespace kp::drivers::etcd
