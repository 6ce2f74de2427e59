// Prometheus text exposition as scraped from etcd, the API server and CoreDNS: prom::parse_text, then what
// the phases compute from a page (histograms by family, their difference and quantiles, scalars).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "prom/prometheus_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kp::Result<kp::prom::Exposition> page = kp::prom::parse_text(text);
  if (!page) {
    return 0;
  }
  for (const kp::prom::Family& family : page->families) {
    if (family.type == kp::prom::MetricType::histogram) {
      kp::Result<kp::prom::HistogramSnapshot> after = kp::prom::histogram(*page, family.name);
      if (after) {
        (void)kp::prom::histogram_quantile(0.99, after->buckets);
        if (kp::Result<kp::prom::HistogramSnapshot> delta = kp::prom::difference(*after, *after)) {
          (void)kp::prom::histogram_quantile(0.5, delta->buckets);
        }
      }
    } else {
      (void)kp::prom::scalar(*page, family.name);
    }
  }
  return 0;
}
