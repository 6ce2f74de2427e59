#pragma once

// Target URLs for the HTTP generator: http:// and https:// only, with an optional port, path and query.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace kp::drivers::ingress {

struct Url {
  bool tls = false;
  std::string host;          // without brackets for an IPv6 literal
  std::uint16_t port = 0;    // 80 or 443 unless given
  std::string target = "/";  // path and query, as sent in the request line
  std::string authority;     // host[:port] as the Host header wants it (port only when not the default)

  std::string to_string() const;
};

// "http://127.0.0.1:8080/small.txt" -> Url. Errors echo the text: `not an http:// or https:// URL, got "x"`.
Result<Url> parse_url(std::string_view text);

}  // namespace kp::drivers::ingress
