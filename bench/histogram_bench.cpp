// record() runs on every request of every hot path; these numbers say what it costs.
// Goal: Histogram::record well under 5 ns per value on one core, with no allocation.

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "core/histogram.hpp"
#include "core/pacer.hpp"
#include "core/recorder.hpp"

namespace {

// Log-uniform latencies over 1 us .. 1 s, so every bucket size is exercised and branches stay honest.
std::vector<std::int64_t> latencies() {
  std::mt19937_64 random(1);
  std::uniform_real_distribution<double> exponent(std::log(1e3), std::log(1e9));
  std::vector<std::int64_t> values(1 << 16);
  for (auto& value : values) {
    value = std::llround(std::exp(exponent(random)));
  }
  return values;
}

void histogram_record(benchmark::State& state) {
  const std::vector<std::int64_t> values = latencies();
  kp::Histogram histogram;
  std::size_t i = 0;
  for (auto _ : state) {
    histogram.record(values[i]);
    i = (i + 1) & (values.size() - 1);
  }
  benchmark::DoNotOptimize(histogram.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(histogram_record);

void histogram_value_at_percentile(benchmark::State& state) {
  kp::Histogram histogram;
  for (std::int64_t value : latencies()) {
    histogram.record(value);
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(histogram.value_at_percentile(99.9));
  }
}
BENCHMARK(histogram_value_at_percentile);

void histogram_merge(benchmark::State& state) {
  kp::Histogram a;
  kp::Histogram b;
  for (std::int64_t value : latencies()) {
    b.record(value);
  }
  for (auto _ : state) {
    a.merge(b);
  }
  benchmark::DoNotOptimize(a.count());
}
BENCHMARK(histogram_merge);

void histogram_to_json(benchmark::State& state) {
  kp::Histogram histogram;
  for (std::int64_t value : latencies()) {
    histogram.record(value);
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(histogram.to_json());
  }
}
BENCHMARK(histogram_to_json);

void recorder_record(benchmark::State& state) {
  const std::vector<std::int64_t> values = latencies();
  const kp::TimePoint start{};
  kp::Recorder recorder(start);
  std::size_t i = 0;
  std::int64_t at = 0;
  for (auto _ : state) {
    // 100k values per second of fake time, so seconds are finished and compacted along the way.
    recorder.record("api.get", start + kp::Duration(at), values[i]);
    at += 10'000;
    i = (i + 1) & (values.size() - 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(recorder_record);

void pacer_next(benchmark::State& state) {
  kp::Pacer pacer(kp::Rate{100'000}, state.range(0) == 0 ? kp::Arrival::constant : kp::Arrival::poisson,
                  kp::TimePoint{});
  for (auto _ : state) {
    benchmark::DoNotOptimize(pacer.next());
  }
}
BENCHMARK(pacer_next)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
