#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "drivers/dns/load_engine.hpp"

namespace kp::drivers::dns {

std::string_view to_string(Protocol protocol) {
  return protocol == Protocol::udp ? "udp" : "tcp";
}

Result<ServerAddress> parse_server(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::input, fmt::format("server \"{}\": {}", text, why));
  };
  std::string host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return bad("missing ']'");
    }
    host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) {
        return bad("expected ':port' after ']'");
      }
      port_text = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    std::size_t colon = text.find(':');
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  } else {
    host = std::string(text);  // IPv4 without port, or a bare IPv6 address
  }
  unsigned port = 53;
  if (!port_text.empty()) {
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return bad("port must be 1..65535");
    }
  }
  ServerAddress server;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&server.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&server.address);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    server.length = sizeof(sockaddr_in);
    server.text = fmt::format("{}:{}", host, port);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    server.length = sizeof(sockaddr_in6);
    server.text = fmt::format("[{}]:{}", host, port);
  } else {
    return bad("not an IP address (a DNS server is given by address, e.g. 10.96.0.10 or 127.0.0.1:5353)");
  }
  return server;
}

}  // namespace kp::drivers::dns
