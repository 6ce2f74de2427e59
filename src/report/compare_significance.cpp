#include "report/compare_significance.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <utility>
#include <vector>

namespace kp::report {
namespace {

// A histogram's values by rank: for each non-empty bucket in value order, the count of values up to and
// including it and the value Histogram::value_at_percentile reports for a rank in it.
class RankLadder {
 public:
  explicit RankLadder(const Histogram& histogram) {
    const nlohmann::json json = histogram.to_json();
    const std::int64_t max = histogram.max();
    std::uint64_t seen = histogram.underflow_count();
    if (seen > 0) {
      steps_.emplace_back(seen, static_cast<double>(std::min<std::int64_t>(0, max)));
    }
    std::vector<std::pair<std::size_t, std::uint64_t>> buckets;
    for (const auto& bucket : json.at("buckets")) {
      buckets.emplace_back(bucket.at(0).get<std::size_t>(), bucket.at(1).get<std::uint64_t>());
    }
    std::sort(buckets.begin(), buckets.end());
    for (const auto& [index, count] : buckets) {
      seen += count;
      steps_.emplace_back(seen, static_cast<double>(std::min(Histogram::highest_equivalent(index), max)));
    }
    if (histogram.overflow_count() > 0) {
      seen += histogram.overflow_count();
      steps_.emplace_back(seen, static_cast<double>(max));
    }
    count_ = seen;
  }

  std::uint64_t count() const { return count_; }

  // The value of the `rank`-th smallest (1-based).
  double at_rank(std::uint64_t rank) const {
    auto found = std::lower_bound(steps_.begin(), steps_.end(), rank,
                                  [](const auto& step, std::uint64_t r) { return step.first < r; });
    return found == steps_.end() ? steps_.back().second : found->second;
  }

 private:
  std::vector<std::pair<std::uint64_t, double>> steps_;
  std::uint64_t count_ = 0;
};

// One bootstrap replicate of the quantile at `rank` among n: the rank-th smallest of n draws with replacement
// is the value at rank ceil(n * V), V ~ Beta(rank, n + 1 - rank).
class QuantileResampler {
 public:
  QuantileResampler(const Histogram& histogram, double percentile)
      : ladder_(histogram),
        rank_(percentile_rank(percentile, ladder_.count())),
        below_(static_cast<double>(rank_)),
        above_(static_cast<double>(ladder_.count() + 1 - rank_)) {}

  double observed() const { return ladder_.at_rank(rank_); }

  double draw(std::mt19937_64& random) {
    const double x = below_(random);
    const double y = above_(random);
    const double share = x / (x + y);
    const auto n = ladder_.count();
    auto rank = static_cast<std::uint64_t>(std::ceil(share * static_cast<double>(n)));
    return ladder_.at_rank(std::clamp<std::uint64_t>(rank, 1, n));
  }

 private:
  RankLadder ladder_;
  std::uint64_t rank_;
  std::gamma_distribution<double> below_;
  std::gamma_distribution<double> above_;
};

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

}  // namespace

std::optional<double> percentile_of_metric(std::string_view metric) {
  const std::size_t dot = metric.rfind('.');
  std::string_view last = dot == std::string_view::npos ? metric : metric.substr(dot + 1);
  if (last.size() < 2 || last[0] != 'p') {
    return std::nullopt;
  }
  std::string digits;
  for (char c : last.substr(1)) {
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (c != '_') {
      return std::nullopt;
    }
  }
  // "p50", "p99": a whole percent; "p999", "p99_9": 99.9 (digits after the first two are decimals).
  double value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size() || digits.size() < 2) {
    return std::nullopt;
  }
  value /= std::pow(10.0, static_cast<double>(digits.size() - 2));
  if (!(value > 0 && value < 100)) {
    return std::nullopt;
  }
  return value;
}

std::optional<QuantileDifference> bootstrap_quantile_difference(const Histogram& a, const Histogram& b,
                                                                double percentile,
                                                                const BootstrapOptions& options,
                                                                std::string_view salt) {
  if (a.count() == 0 || b.count() == 0 || options.resamples < 1) {
    return std::nullopt;
  }
  QuantileResampler from_a(a, percentile);
  QuantileResampler from_b(b, percentile);
  std::seed_seq seed{options.seed, fnv1a(salt)};
  std::mt19937_64 random(seed);

  std::vector<double> differences;
  differences.reserve(static_cast<std::size_t>(options.resamples));
  for (int i = 0; i < options.resamples; ++i) {
    const double resampled_a = from_a.draw(random);
    differences.push_back(from_b.draw(random) - resampled_a);
  }
  std::sort(differences.begin(), differences.end());

  const double tail = (1.0 - options.confidence) / 2;
  const auto last = differences.size() - 1;
  const auto low = std::min(last, static_cast<std::size_t>(std::floor(tail * static_cast<double>(last))));
  const auto high =
      std::min(last, static_cast<std::size_t>(std::ceil((1 - tail) * static_cast<double>(last))));
  const auto at_or_below = static_cast<double>(std::upper_bound(differences.begin(), differences.end(), 0.0) -
                                               differences.begin());
  const auto at_or_above =
      static_cast<double>(differences.end() - std::lower_bound(differences.begin(), differences.end(), 0.0));

  QuantileDifference out;
  out.percentile = percentile;
  out.a = from_a.observed();
  out.b = from_b.observed();
  out.low = differences[low];
  out.high = differences[high];
  out.p_value =
      std::min(1.0, 2 * std::min(at_or_below, at_or_above) / static_cast<double>(differences.size()));
  out.significant = out.low > 0 || out.high < 0;
  return out;
}

}  // namespace kp::report
