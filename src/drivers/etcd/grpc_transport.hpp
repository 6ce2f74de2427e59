#pragma once

// KvTransport over the etcd v3 gRPC API: each worker owns a completion queue and the calls of its slots,
// spread over its share of the connections (connection c belongs to worker c % workers), reusing each
// slot's messages (protobuf keeps their memory).

#include <string>

#include "drivers/etcd/client.hpp"
#include "drivers/etcd/transport.hpp"

namespace kp::drivers::etcd {

// `value`: every Put's value; `serializable`: Range consistency. The connections must outlive the
// transports it makes.
TransportFactory grpc_transport_factory(const Connections& connections, std::string value, bool serializable);

}  // namespace kp::drivers::etcd
