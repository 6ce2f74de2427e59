#include "drivers/dns/resolver.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "drivers/dns/wire.hpp"

namespace kp::drivers::dns {

ResolverConfig pod_resolver(std::string_view ns, std::string_view domain) {
  return ResolverConfig{
      .search = {fmt::format("{}.svc.{}", ns, domain), fmt::format("svc.{}", domain), std::string(domain)},
      .ndots = 5};
}

std::vector<std::string> search_candidates(std::string_view name, const ResolverConfig& config) {
  if (name.empty()) {
    return {};
  }
  if (name.ends_with('.')) {
    return {std::string(name.substr(0, name.size() - 1))};
  }
  const auto dots = static_cast<int>(std::count(name.begin(), name.end(), '.'));
  std::vector<std::string> candidates;
  bool tried_as_is = false;
  if (dots >= config.ndots) {
    candidates.emplace_back(name);
    tried_as_is = true;
  }
  bool root_on_list = false;
  for (std::string_view domain : config.search) {
    // glibc strips a leading dot of a search entry; an empty entry is the root: the name as is.
    if (domain.starts_with('.')) {
      domain.remove_prefix(1);
    }
    if (domain.ends_with('.')) {
      domain.remove_suffix(1);
    }
    if (domain.empty()) {
      // glibc asks the name as is at this point of the list, even if it already did.
      root_on_list = true;
      candidates.emplace_back(name);
      continue;
    }
    candidates.push_back(fmt::format("{}.{}", name, domain));
  }
  if (!tried_as_is && !root_on_list) {
    candidates.emplace_back(name);
  }
  return candidates;
}

bool walk_continues(int rcode_value, int answer_count) {
  return rcode_value == rcode::nxdomain || rcode_value == rcode::servfail ||
         (rcode_value == rcode::noerror && answer_count == 0);
}

}  // namespace kp::drivers::dns
