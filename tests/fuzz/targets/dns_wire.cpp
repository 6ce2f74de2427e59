// A DNS response datagram as a server (or anything else on the port) sends it: the hot path's
// check_response() against a prepared query and the full reader parse_message().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "drivers/dns/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace dns = kp::drivers::dns;
  static const dns::PreparedQuery query = [] {
    kp::Result<dns::PreparedQuery> prepared =
        dns::prepare_query("kubernetes.default.svc.cluster.local.", dns::type::a);
    if (!prepared) {
      std::abort();
    }
    return *prepared;
  }();
  std::span<const std::uint8_t> message(data, size);
  (void)dns::read_header(message);
  (void)dns::check_response(message, query);
  kp::Result<dns::Message> parsed = dns::parse_message(message);
  if (parsed) {
    for (const dns::ResourceRecord& record : parsed->answers) {
      (void)dns::type_name(record.type);
    }
    (void)dns::rcode_name(parsed->header.rcode);
  }
  return 0;
}
