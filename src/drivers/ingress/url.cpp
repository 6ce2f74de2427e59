#include "drivers/ingress/url.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace kp::drivers::ingress {

std::string Url::to_string() const {
  bool ipv6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}{}", tls ? "https" : "http", ipv6 ? "[" : "", host, ipv6 ? "]" : "", port,
                     target);
}

namespace {

// The URL as an error may quote it: user info ("user:password@") is a credential and shows as "***@".
std::string without_user_info(std::string_view text) {
  const std::size_t scheme = text.find("://");
  const std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t end = std::min(text.find_first_of("/?#", start), text.size());
  const std::size_t at = text.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < start) {
    return std::string(text);
  }
  return fmt::format("{}***{}", text.substr(0, start), text.substr(at));
}

}  // namespace

Result<Url> parse_url(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::usage, fmt::format("{}, got \"{}\"", why, without_user_info(text)));
  };
  Url url;
  std::string_view rest = text;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    url.tls = true;
  } else {
    return bad("not an http:// or https:// URL");
  }
  std::size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    url.target = rest[slash] == '/' ? std::string(rest.substr(slash)) : "/" + std::string(rest.substr(slash));
  }
  if (url.target.find_first_of(" \t\r\n#") != std::string::npos) {
    return bad("the URL's path has whitespace or a fragment");
  }
  if (authority.find('@') != std::string_view::npos) {
    return bad("user info in the URL is not supported");
  }
  std::string_view port_text;
  if (authority.starts_with("[")) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad("unterminated IPv6 address in the URL");
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return bad("unexpected text after the IPv6 address");
      }
      port_text = after.substr(1);
    }
  } else {
    std::size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
  }
  if (url.host.empty()) {
    return bad("the URL has no host");
  }
  url.port = url.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return bad("the URL's port must be 1..65535");
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  bool ipv6 = url.host.find(':') != std::string::npos;
  std::string host_part = ipv6 ? "[" + url.host + "]" : url.host;
  bool default_port = url.port == (url.tls ? 443 : 80);
  url.authority = default_port ? host_part : fmt::format("{}:{}", host_part, url.port);
  return url;
}

}  // namespace kp::drivers::ingress
