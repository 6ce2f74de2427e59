#include "drivers/api/server_sli.hpp"

#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "core/units.hpp"

namespace kp::drivers::api {
namespace {

using SeriesKey = std::tuple<std::string, std::string, std::string, std::string>;  // verb resource sub scope

// Buckets of one family, summed per series key (over group/version/component/dry_run).
std::map<SeriesKey, std::map<double, double>> buckets_by_series(const prom::Family& family) {
  std::map<SeriesKey, std::map<double, double>> series;
  for (const prom::Sample& sample : family.samples) {
    if (!sample.name.ends_with("_bucket")) {
      continue;
    }
    std::optional<std::string_view> le = sample.label("le");
    if (!le) {
      continue;
    }
    double bound = *le == "+Inf" ? std::numeric_limits<double>::infinity()
                                 : std::strtod(std::string(*le).c_str(), nullptr);
    SeriesKey key{std::string(sample.label("verb").value_or("")),
                  std::string(sample.label("resource").value_or("")),
                  std::string(sample.label("subresource").value_or("")),
                  std::string(sample.label("scope").value_or(""))};
    series[key][bound] += sample.value;
  }
  return series;
}

}  // namespace

std::string bucket_text(const ClassSli& sli) {
  auto seconds = [](double value) { return format_quantity(Quantity::duration, value); };
  if (std::isinf(sli.bucket_high)) {
    return fmt::format("above {}", seconds(sli.bucket_low));
  }
  if (sli.bucket_low <= 0) {
    return fmt::format("below {}", seconds(sli.bucket_high));
  }
  return fmt::format("between {} and {}", seconds(sli.bucket_low), seconds(sli.bucket_high));
}

Result<ServerSlis> compute_server_slis(const prom::Exposition& before, const prom::Exposition& after) {
  const prom::Family* after_family = after.find("apiserver_request_duration_seconds");
  if (after_family == nullptr) {
    return fail(ErrorKind::protocol, "/metrics has no apiserver_request_duration_seconds");
  }
  const prom::Family* before_family = before.find("apiserver_request_duration_seconds");
  auto after_series = buckets_by_series(*after_family);
  auto before_series = before_family != nullptr ? buckets_by_series(*before_family)
                                                : std::map<SeriesKey, std::map<double, double>>{};
  ServerSlis slis;
  for (const auto& [key, buckets] : after_series) {
    const auto& [verb, resource, subresource, scope] = key;
    if (verb == "WATCH" || verb == "WATCHLIST" || verb == "CONNECT") {
      continue;
    }
    ClassSli* target = nullptr;
    if (verb == "POST" || verb == "PUT" || verb == "PATCH" || verb == "DELETE") {
      target = &slis.mutating;
    } else if (verb == "GET" && scope == "resource") {
      target = &slis.readonly;
    } else if (verb == "LIST") {
      target = &slis.list;
    } else {
      continue;
    }
    std::vector<prom::Bucket> delta;
    auto previous = before_series.find(key);
    bool reset = false;
    for (const auto& [bound, count] : buckets) {
      double earlier = 0;
      if (previous != before_series.end()) {
        auto it = previous->second.find(bound);
        earlier = it != previous->second.end() ? it->second : 0;
      }
      if (count < earlier) {
        reset = true;
      }
      delta.push_back(prom::Bucket{bound, count - earlier});
    }
    if (reset) {
      slis.problems.push_back(
          fmt::format("{} {}: counters went down (apiserver restarted?)", verb, resource));
      continue;
    }
    double total = delta.empty() ? 0 : delta.back().cumulative_count;
    if (total <= 0) {
      continue;
    }
    target->count += total;
    double p99 = prom::histogram_quantile(0.99, delta);
    if (std::isnan(p99)) {
      continue;
    }
    if (!target->p99 || p99 > *target->p99) {
      target->p99 = p99;
      // histogram_quantile's bucket: the first whose cumulative count reaches 99 % of the total.
      double low = 0;
      for (const prom::Bucket& bucket : delta) {
        if (bucket.cumulative_count >= 0.99 * total) {
          target->bucket_low = low;
          target->bucket_high = bucket.upper_bound;
          break;
        }
        low = bucket.upper_bound;
      }
      target->worst =
          fmt::format("{} {}{} ({})", verb, resource, subresource.empty() ? "" : "/" + subresource, scope);
    }
  }
  return slis;
}

}  // namespace kp::drivers::api
