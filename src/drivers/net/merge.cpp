#include "drivers/net/merge.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace kp::drivers::net {
namespace {

void add_series(std::vector<double>& into, const std::vector<double>& from) {
  if (into.size() < from.size()) {
    into.resize(from.size(), 0.0);
  }
  for (std::size_t i = 0; i < from.size(); ++i) {
    into[i] += from[i];
  }
}

CpuUse add_cpu(const CpuUse& a, const CpuUse& b) {
  // Cores add up: two agents each using one core for the window are 2.0 over the (longest) window.
  return CpuUse{
      .user = a.user + b.user, .system = a.system + b.system, .window = std::max(a.window, b.window)};
}

}  // namespace

Result<std::vector<TestSpec>> split_spec(const TestSpec& spec, int n) {
  if (n < 1) {
    return fail(ErrorKind::internal, fmt::format("split_spec: {} agents", n));
  }
  if (spec.streams < n) {
    return fail(ErrorKind::input,
                fmt::format("{} agents cannot share {} stream{}: every agent needs at least one", n,
                            spec.streams, spec.streams == 1 ? "" : "s"));
  }
  std::vector<TestSpec> parts;
  for (int i = 0; i < n; ++i) {
    TestSpec part = spec;
    part.streams = spec.streams / n + (i < spec.streams % n ? 1 : 0);
    // Each agent's share of the rate follows its share of the streams, so every stream is paced alike.
    if (spec.rate) {
      part.rate = Rate{spec.rate->per_second * part.streams / spec.streams};
    }
    if (spec.bandwidth) {
      part.bandwidth = Bandwidth{spec.bandwidth->bits_per_second * part.streams / spec.streams};
    }
    if (spec.total) {
      part.total = std::max<std::uint64_t>(1, *spec.total * static_cast<std::uint64_t>(part.streams) /
                                                  static_cast<std::uint64_t>(spec.streams));
    }
    parts.push_back(part);
  }
  return parts;
}

Result<ClientResult> merge_results(const std::vector<ClientResult>& results) {
  if (results.empty()) {
    return fail(ErrorKind::internal, "merge_results: no results");
  }
  if (results.size() == 1) {
    return results.front();
  }
  ClientResult out = results.front();
  out.spec.streams = 0;
  std::optional<double> rate;
  std::optional<double> bandwidth;
  out.throughput_bps = 0;
  out.sender_bps = 0;
  out.per_second_bps.clear();
  out.per_second_tps.clear();
  out.bytes_sent = out.datagrams_sent = out.datagrams_received = 0;
  out.transactions = out.transactions_total = out.timeouts = out.retransmits = 0;
  out.transaction_rate = 0;
  out.latency = LatencyRecorder{};
  out.latency_series.clear();  // per-second P99s cannot be merged from their summaries; the histograms can
  out.pacer.reset();
  out.sends.reset();
  out.client_cpu = CpuUse{};
  out.server_cpu.reset();
  out.server_report.reset();
  out.complete = true;
  out.cancelled = false;
  out.error.clear();
  out.measured = Duration::zero();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const ClientResult& r = results[i];
    if (r.spec.scenario != out.spec.scenario) {
      return fail(ErrorKind::internal, fmt::format("merge_results: agent {} ran {}, agent 0 ran {}", i,
                                                   to_string(r.spec.scenario), to_string(out.spec.scenario)));
    }
    out.spec.streams += r.spec.streams;
    if (r.spec.rate) {
      rate = rate.value_or(0) + r.spec.rate->per_second;
    }
    if (r.spec.bandwidth) {
      bandwidth = bandwidth.value_or(0) + r.spec.bandwidth->bits_per_second;
    }
    out.throughput_bps += r.throughput_bps;
    out.sender_bps += r.sender_bps;
    if (r.throughput_source != out.throughput_source) {
      out.throughput_source = "receiver and sender (acked), per agent";
    }
    add_series(out.per_second_bps, r.per_second_bps);
    add_series(out.per_second_tps, r.per_second_tps);
    out.bytes_sent += r.bytes_sent;
    out.datagrams_sent += r.datagrams_sent;
    out.datagrams_received += r.datagrams_received;
    out.transactions += r.transactions;
    out.transactions_total += r.transactions_total;
    out.transaction_rate += r.transaction_rate;
    out.timeouts += r.timeouts;
    out.retransmits += r.retransmits;
    out.latency.merge(r.latency);
    if (r.pacer) {
      if (!out.pacer) {
        out.pacer = PacerStats{};
      }
      out.pacer->merge(*r.pacer);
    }
    if (r.sends) {
      if (!out.sends) {
        out.sends = SendAccount{};
      }
      out.sends->merge(*r.sends);
    }
    out.client_cpu = add_cpu(out.client_cpu, r.client_cpu);
    if (r.server_cpu) {
      out.server_cpu = add_cpu(out.server_cpu.value_or(CpuUse{}), *r.server_cpu);
    }
    // The window the merged figures cover is the shortest any agent measured: a longer one only adds data.
    out.measured = i == 0 ? r.measured : std::min(out.measured, r.measured);
    out.cancelled = out.cancelled || r.cancelled;
    if (!r.complete) {
      if (out.complete) {
        out.error = fmt::format("agent {}: {}", i, r.error);
      }
      out.complete = false;
    }
  }
  if (rate) {
    out.spec.rate = Rate{*rate};
  }
  if (bandwidth) {
    out.spec.bandwidth = Bandwidth{*bandwidth};
  }
  if (out.datagrams_sent > 0) {
    out.loss_ratio = 1.0 - double(out.datagrams_received) / double(out.datagrams_sent);
  }
  return out;
}

std::string agent_summary(const std::string& agent, const std::string& node, const ClientResult& result) {
  return fmt::format("{}{} -> {}: {}", agent, node.empty() ? "" : " on " + node, result.server,
                     summary(result));
}

}  // namespace kp::drivers::net
