#include "drivers/dns/queries.hpp"

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "config/yaml_fields.hpp"
#include "drivers/dns/wire.hpp"

namespace kp::drivers::dns {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

std::vector<std::string_view> split_blanks(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_blank(line[i])) {
      ++i;
    }
    std::size_t start = i;
    while (i < line.size() && !is_blank(line[i])) {
      ++i;
    }
    if (i > start) {
      words.push_back(line.substr(start, i - start));
    }
  }
  return words;
}

// Picks uniformly in [0, n) from the shared generator.
int pick(std::mt19937_64& random, int n) {
  return n <= 1 ? 0 : std::uniform_int_distribution<int>(0, n - 1)(random);
}

// The names asked come from the first `wanted` of `available` (all of them when wanted is 0 or more).
int asked(int wanted, int available) {
  return wanted > 0 ? std::min(wanted, available) : available;
}

}  // namespace

std::string with_cluster_domain(std::string_view line, std::string_view domain) {
  std::string out;
  for (std::size_t at = line.find(kClusterDomainToken); at != std::string_view::npos;
       at = line.find(kClusterDomainToken)) {
    out.append(line.substr(0, at));
    out.append(domain);
    line.remove_prefix(at + kClusterDomainToken.size());
  }
  out.append(line);
  return out;
}

Result<std::vector<QuerySpec>> parse_query_file(std::string_view text, std::string_view source) {
  std::vector<QuerySpec> queries;
  std::size_t line_number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    ++line_number;
    start = end + 1;
    std::vector<std::string_view> words = split_blanks(line);
    if (words.empty() || words.front().starts_with(';') || words.front().starts_with('#')) {
      if (end == text.size()) {
        break;
      }
      continue;
    }
    auto error = [&](const std::string& message) {
      return fail(ErrorKind::input, fmt::format("{}:{}: {}", source, line_number, message));
    };
    std::string shown(line);
    while (!shown.empty() && (shown.back() == '\r' || shown.back() == ' ' || shown.back() == '\t')) {
      shown.pop_back();
    }
    if (words.size() != 2) {
      return error(fmt::format("expected \"name TYPE\", got \"{}\"", shown));
    }
    Result<std::uint16_t> qtype = parse_type(words[1]);
    if (!qtype) {
      return error(qtype.error().message);
    }
    // Checked here so a bad name is reported with its line, not later when packets are prepared.
    if (Result<std::vector<std::uint8_t>> wire = encode_name(words[0]); !wire) {
      return error(wire.error().message);
    }
    queries.push_back(QuerySpec{std::string(words[0]), *qtype});
    if (end == text.size()) {
      break;
    }
  }
  if (queries.empty()) {
    return fail(ErrorKind::input, fmt::format("{}: no queries (only blank lines and comments)", source));
  }
  return queries;
}

Result<std::vector<QuerySpec>> read_query_file(const std::filesystem::path& file) {
  Result<std::string> text = config::read_text_file(file.string());
  if (!text) {
    return std::unexpected(text.error());
  }
  return parse_query_file(*text, file.string());
}

std::vector<QuerySpec> kubernetes_mix(const lab::ClusterShape& shape, std::size_t count, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  const std::vector<std::string> namespaces = lab::namespace_names(shape);
  std::vector<QuerySpec> mix;
  mix.reserve(count);
  const int services = asked(shape.asked_services_per_namespace, shape.services_per_namespace);
  const int externals = asked(shape.asked_external_names, shape.external_names);
  for (std::size_t i = 0; i < count; ++i) {
    const int ns = pick(random, shape.namespaces);
    const int service = pick(random, services);
    const int external = pick(random, externals);
    switch (i % 10) {
      case 0:
      case 1:
      case 2:
      case 3:
        mix.push_back({lab::service_fqdn(shape, ns, service), type::a});
        break;
      case 4:
        mix.push_back({fmt::format("kubernetes.default.svc.{}", shape.domain), type::a});
        break;
      case 5:
        mix.push_back({lab::service_fqdn(shape, ns, service), type::aaaa});
        break;
      case 6:
        mix.push_back({"_http._tcp." + lab::service_fqdn(shape, ns, service), type::srv});
        break;
      case 7:
        mix.push_back({lab::pod_fqdn(shape, ns,
                                     service * shape.pods_per_service + pick(random, shape.pods_per_service)),
                       type::a});
        break;
      case 8:
        mix.push_back({lab::external_fqdn(shape, external), type::a});
        break;
      default:
        mix.push_back({fmt::format("{}.{}.svc.{}", lab::external_fqdn(shape, external), namespaces.at(ns),
                                   shape.domain),
                       type::a});
        break;
    }
  }
  std::shuffle(mix.begin(), mix.end(), random);
  return mix;
}

std::vector<QuerySpec> kubernetes_application_mix(const lab::ClusterShape& shape, std::size_t count,
                                                  std::uint64_t seed) {
  std::mt19937_64 random(seed);
  const std::vector<std::string> namespaces = lab::namespace_names(shape);
  std::vector<QuerySpec> mix;
  mix.reserve(count);
  const int services = asked(shape.asked_services_per_namespace, shape.services_per_namespace);
  const int externals = asked(shape.asked_external_names, shape.external_names);
  for (std::size_t i = 0; i < count; ++i) {
    const int ns = pick(random, shape.namespaces);
    const int service = pick(random, services);
    switch (i % 10) {
      case 0:
      case 1:
      case 2:
        // The pod's own namespace is "default": a short name resolves at the first search step.
        mix.push_back({lab::service_name(service), type::a});
        break;
      case 3:
      case 4:
        mix.push_back({fmt::format("{}.{}", lab::service_name(service), namespaces.at(ns)), type::a});
        break;
      case 5:
        mix.push_back({"kubernetes.default", type::a});
        break;
      case 6:
        mix.push_back({lab::service_fqdn(shape, ns, service), type::a});
        break;
      case 7:
      case 8:
        mix.push_back({lab::external_fqdn(shape, pick(random, externals)), type::a});
        break;
      default:
        mix.push_back({lab::pod_fqdn(shape, ns,
                                     service * shape.pods_per_service + pick(random, shape.pods_per_service)),
                       type::a});
        break;
    }
  }
  std::shuffle(mix.begin(), mix.end(), random);
  return mix;
}

}  // namespace kp::drivers::dns
