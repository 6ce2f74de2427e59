#include "drivers/etcd/apiserver_view.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/units.hpp"

namespace kp::drivers::etcd {
namespace {

std::string seconds_text(double seconds) {
  if (!std::isfinite(seconds)) {
    return "n/a";
  }
  // Not a duration_cast: a histogram's quantile can be any finite number, beyond what a Duration holds.
  return format_quantity(Quantity::duration, seconds);
}

Result<EtcdRequestLatency> latency_of(const prom::Exposition& page, const prom::Labels& match,
                                      std::string operation, std::string type) {
  Result<prom::HistogramSnapshot> snapshot = prom::histogram(page, kApiserverEtcdFamily, match);
  if (!snapshot) {
    return std::unexpected(snapshot.error());
  }
  return EtcdRequestLatency{.operation = std::move(operation),
                            .type = std::move(type),
                            .count = snapshot->count,
                            .p50 = prom::histogram_quantile(0.5, snapshot->buckets),
                            .p99 = prom::histogram_quantile(0.99, snapshot->buckets)};
}

}  // namespace

Result<ApiserverEtcdView> apiserver_etcd_view(const prom::Exposition& page) {
  const prom::Family* family = page.find(kApiserverEtcdFamily);
  if (family == nullptr || family->type != prom::MetricType::histogram) {
    return fail(ErrorKind::protocol,
                fmt::format("the API server's /metrics has no {} histogram", kApiserverEtcdFamily));
  }
  ApiserverEtcdView view;
  Result<EtcdRequestLatency> all = latency_of(page, {}, "*", "*");
  if (!all) {
    return std::unexpected(all.error());
  }
  if (all->count <= 0) {
    return fail(ErrorKind::protocol, fmt::format("{} has no observations", kApiserverEtcdFamily));
  }
  view.all = std::move(*all);
  std::map<std::pair<std::string, std::string>, bool> seen;
  for (const prom::Sample& sample : family->samples) {
    if (!sample.name.ends_with("_count")) {
      continue;
    }
    const std::string operation(sample.label("operation").value_or(""));
    const std::string type(sample.label("type").value_or(""));
    if (!seen.emplace(std::pair{operation, type}, true).second) {
      continue;
    }
    Result<EtcdRequestLatency> one =
        latency_of(page, {{"operation", operation}, {"type", type}}, operation, type);
    if (one && one->count > 0) {
      view.series.push_back(std::move(*one));
    }
  }
  std::ranges::stable_sort(view.series, [](const EtcdRequestLatency& a, const EtcdRequestLatency& b) {
    return a.count > b.count;
  });
  return view;
}

std::vector<std::string> apiserver_etcd_notes(const ApiserverEtcdView& view, std::size_t top) {
  std::vector<std::string> notes;
  notes.push_back(fmt::format(
      "the API server's etcd requests ({} from its /metrics, since it started; informational, not judged): "
      "{:.0f} requests, P50 {}, P99 {}",
      kApiserverEtcdFamily, view.all.count, seconds_text(view.all.p50), seconds_text(view.all.p99)));
  for (std::size_t i = 0; i < view.series.size() && i < top; ++i) {
    const EtcdRequestLatency& s = view.series[i];
    notes.push_back(fmt::format("  {} {}: {:.0f} requests, P50 {}, P99 {}", s.operation, s.type, s.count,
                                seconds_text(s.p50), seconds_text(s.p99)));
  }
  if (view.series.size() > top) {
    notes.push_back(fmt::format("  ({} more operation/type series in {})", view.series.size() - top,
                                kApiserverEtcdFamily));
  }
  return notes;
}

}  // namespace kp::drivers::etcd
