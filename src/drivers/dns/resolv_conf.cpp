#include "drivers/dns/resolv_conf.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "config/yaml_fields.hpp"

namespace kp::drivers::dns {
namespace {

constexpr std::size_t kMaxNameservers = 3;  // glibc's MAXNS
constexpr int kMaxNdots = 15;               // glibc's RES_MAXNDOTS

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) {
      ++i;
    }
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
      ++i;
    }
    if (i > start) {
      words.push_back(line.substr(start, i - start));
    }
  }
  return words;
}

std::string without_dot(std::string_view domain) {
  while (domain.size() > 1 && domain.ends_with('.')) {
    domain.remove_suffix(1);
  }
  return std::string(domain);
}

}  // namespace

std::optional<std::string> ResolvConf::pod_namespace() const {
  if (search.size() < 2) {
    return std::nullopt;
  }
  const std::string& first = search[0];
  const std::string& second = search[1];
  if (!second.starts_with("svc.") || second.size() <= 4) {
    return std::nullopt;
  }
  const std::string suffix = "." + second;
  if (!first.ends_with(suffix) || first.size() <= suffix.size()) {
    return std::nullopt;
  }
  const std::string ns = first.substr(0, first.size() - suffix.size());
  if (ns.find('.') != std::string::npos) {
    return std::nullopt;
  }
  return ns;
}

std::optional<std::string> ResolvConf::cluster_domain() const {
  if (!pod_namespace()) {
    return std::nullopt;
  }
  return search[1].substr(4);
}

Result<ResolvConf> parse_resolv_conf(std::string_view text, std::string_view source) {
  ResolvConf conf;
  std::size_t line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    const std::vector<std::string_view> words = words_of(line);
    if (words.empty() || words[0].starts_with('#') || words[0].starts_with(';')) {
      continue;
    }
    const std::string_view keyword = words[0];
    if (keyword == "nameserver") {
      if (words.size() < 2) {
        return fail(ErrorKind::input,
                    fmt::format("{}:{}: nameserver without an address", source, line_number));
      }
      if (conf.nameservers.size() < kMaxNameservers) {
        conf.nameservers.emplace_back(words[1]);
      }
    } else if (keyword == "search" || keyword == "domain") {
      conf.search.clear();
      for (std::size_t i = 1; i < words.size(); ++i) {
        if (words[i].starts_with('#') || words[i].starts_with(';')) {
          break;
        }
        conf.search.push_back(without_dot(words[i]));
      }
      if (keyword == "domain" && conf.search.size() > 1) {
        conf.search.resize(1);
      }
    } else if (keyword == "options") {
      for (std::size_t i = 1; i < words.size(); ++i) {
        if (!words[i].starts_with("ndots:")) {
          continue;
        }
        const std::string_view value = words[i].substr(6);
        int ndots = 0;
        auto [end_ptr, error] = std::from_chars(value.data(), value.data() + value.size(), ndots);
        if (error != std::errc() || end_ptr != value.data() + value.size() || ndots < 0) {
          return fail(ErrorKind::input, fmt::format("{}:{}: options ndots: not a number, got \"{}\"", source,
                                                    line_number, value));
        }
        conf.ndots = std::min(ndots, kMaxNdots);
      }
    }
  }
  return conf;
}

Result<ResolvConf> read_resolv_conf(const std::filesystem::path& file) {
  Result<std::string> text = config::read_text_file(file.string());
  if (!text) {
    return std::unexpected(text.error());
  }
  return parse_resolv_conf(*text, file.string());
}

}  // namespace kp::drivers::dns
