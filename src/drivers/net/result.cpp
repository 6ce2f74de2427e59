#include "drivers/net/result.hpp"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kp::drivers::net {
namespace {

using nlohmann::json;

double seconds(Duration duration) {
  return std::chrono::duration<double>(duration).count();
}

Duration from_seconds(double value) {
  return Duration(static_cast<std::int64_t>(std::llround(value * 1e9)));
}

// Longer than any measurement kubeproof makes (a soak is a day), short enough that sums of a few such times
// stay far inside Duration's range: a result line beyond it is not from a kubeproof agent.
constexpr double kMaxSeconds = 1e8;
// Nanosecond figures the line carries as numbers must fit a Duration's int64 count.
constexpr double kMaxNanoseconds = 9.2e18;

json cpu_json(const CpuUse& cpu) {
  return json{{"user_s", seconds(cpu.user)},
              {"system_s", seconds(cpu.system)},
              {"window_s", seconds(cpu.window)},
              {"utilization", cpu.utilization()}};
}

json series_json(const std::vector<SecondSnapshot>& series) {
  json list = json::array();
  for (const SecondSnapshot& s : series) {
    list.push_back(json{{"second", s.second}, {"count", s.count}, {"p50_ns", s.p50}, {"p99_ns", s.p99}});
  }
  return list;
}

// Field readers: every failure names the field's path, so a truncated or foreign line is easy to place.
class Reader {
 public:
  explicit Reader(const json& root) : root_(root) {}

  Result<const json*> at(std::string_view path, bool allow_null = false) const {
    const json* node = &root_;
    std::size_t start = 0;
    while (start <= path.size()) {
      const std::size_t dot = path.find('.', start);
      const std::string key(
          path.substr(start, dot == std::string_view::npos ? path.size() - start : dot - start));
      if (!node->is_object()) {
        return missing(path);
      }
      auto found = node->find(key);
      if (found == node->end()) {
        return missing(path);
      }
      node = &*found;
      if (dot == std::string_view::npos) {
        break;
      }
      start = dot + 1;
    }
    if (node->is_null() && !allow_null) {
      return missing(path);
    }
    return node;
  }

  Result<double> number(std::string_view path) const {
    Result<const json*> node = at(path);
    if (!node) {
      return std::unexpected(node.error());
    }
    if (!(*node)->is_number()) {
      return wrong(path, "a number");
    }
    return (*node)->get<double>();
  }

  // A duration in seconds: finite, >= 0 and below kMaxSeconds, so that it converts to a Duration exactly.
  Result<Duration> seconds(std::string_view path) const {
    Result<double> value = number(path);
    if (!value) {
      return std::unexpected(value.error());
    }
    if (!std::isfinite(*value) || *value < 0 || *value >= kMaxSeconds) {
      return wrong(path, fmt::format("a number of seconds from 0 to {:g}, got {}", kMaxSeconds, *value));
    }
    return from_seconds(*value);
  }

  // A whole figure (a second's index, nanoseconds) that must fit an int64.
  Result<std::int64_t> whole(std::string_view path) const {
    Result<double> value = number(path);
    if (!value) {
      return std::unexpected(value.error());
    }
    if (!std::isfinite(*value) || *value < 0 || *value >= kMaxNanoseconds) {
      return wrong(path, fmt::format("a number from 0 to {:g}, got {}", kMaxNanoseconds, *value));
    }
    return static_cast<std::int64_t>(*value);
  }

  Result<std::uint64_t> count(std::string_view path) const {
    Result<const json*> node = at(path);
    if (!node) {
      return std::unexpected(node.error());
    }
    if (!(*node)->is_number_unsigned()) {
      return wrong(path, "a whole number");
    }
    return (*node)->get<std::uint64_t>();
  }

  Result<bool> boolean(std::string_view path) const {
    Result<const json*> node = at(path);
    if (!node) {
      return std::unexpected(node.error());
    }
    if (!(*node)->is_boolean()) {
      return wrong(path, "true or false");
    }
    return (*node)->get<bool>();
  }

  Result<std::string> text(std::string_view path) const {
    Result<const json*> node = at(path);
    if (!node) {
      return std::unexpected(node.error());
    }
    if (!(*node)->is_string()) {
      return wrong(path, "a string");
    }
    return (*node)->get<std::string>();
  }

  Result<std::vector<double>> numbers(std::string_view path) const {
    Result<const json*> node = at(path);
    if (!node) {
      return std::unexpected(node.error());
    }
    if (!(*node)->is_array()) {
      return wrong(path, "a list");
    }
    std::vector<double> values;
    for (const json& item : **node) {
      if (!item.is_number()) {
        return wrong(path, "a list of numbers");
      }
      values.push_back(item.get<double>());
    }
    return values;
  }

  Result<Histogram> histogram(std::string_view path) const {
    Result<const json*> node = at(path);
    if (!node) {
      return std::unexpected(node.error());
    }
    Result<Histogram> histogram = Histogram::from_json(**node);
    if (!histogram) {
      return wrong(path, "a histogram (" + histogram.error().message + ")");
    }
    return histogram;
  }

  Result<CpuUse> cpu(std::string_view path) const {
    const std::string base(path);
    Result<Duration> user = seconds(base + ".user_s");
    Result<Duration> system = user ? seconds(base + ".system_s") : user;
    Result<Duration> window = system ? seconds(base + ".window_s") : system;
    if (!window) {
      return std::unexpected(window.error());
    }
    return CpuUse{*user, *system, *window};
  }

 private:
  static std::unexpected<Error> missing(std::string_view path) {
    return fail(ErrorKind::protocol, fmt::format("net-client result: \"{}\" is missing", path));
  }
  static std::unexpected<Error> wrong(std::string_view path, std::string_view what) {
    return fail(ErrorKind::protocol, fmt::format("net-client result: \"{}\" must be {}", path, what));
  }
  const json& root_;
};

// Runs the readers in order and stops at the first error (keeps result_from_json_line flat).
#define KP_READ(target, expression)             \
  do {                                          \
    auto kp_value = (expression);               \
    if (!kp_value) {                            \
      return std::unexpected(kp_value.error()); \
    }                                           \
    target = *kp_value;                         \
  } while (false)

}  // namespace

double CpuUse::utilization() const {
  return window > Duration::zero() ? seconds(total()) / seconds(window) : 0.0;
}

std::string to_json_line(const ClientResult& r) {
  auto p = [&](double percentile) {
    return double(r.latency.corrected.value_at_percentile(percentile)) / 1e9;
  };
  json line{
      {"kind", kClientResultKind},
      {"version", kClientResultVersion},
      {"test", to_json(r.spec)},
      {"server", r.server},
      {"server_hold_s", seconds(r.server_hold)},
      {"complete", r.complete},
      {"cancelled", r.cancelled},
      {"error", r.error},
      {"measured_s", seconds(r.measured)},
      {"throughput",
       {{"bits_per_second", r.throughput_bps},
        {"source", r.throughput_source},
        {"sender_bits_per_second", r.sender_bps},
        {"per_second_bps", r.per_second_bps},
        {"bytes_sent", r.bytes_sent},
        {"datagrams_sent", r.datagrams_sent},
        {"datagrams_received", r.datagrams_received},
        {"loss_ratio", r.loss_ratio}}},
      {"transactions",
       {{"count", r.transactions},
        {"total", r.transactions_total},
        {"rate", r.transaction_rate},
        {"per_second", r.per_second_tps},
        {"timeouts", r.timeouts}}},
      {"latency",
       {{"p50_s", p(50)},
        {"p90_s", p(90)},
        {"p99_s", p(99)},
        {"p999_s", p(99.9)},
        {"max_s", double(r.latency.corrected.max()) / 1e9},
        {"mean_s", r.latency.corrected.mean() / 1e9},
        {"uncorrected_p99_s", double(r.latency.uncorrected.value_at_percentile(99)) / 1e9},
        {"corrected", r.latency.corrected.to_json()},
        {"uncorrected", r.latency.uncorrected.to_json()},
        {"per_second", series_json(r.latency_series)}}},
      {"open_loop", r.pacer ? json{{"sends", r.pacer->sends},
                                   {"late_sends", r.pacer->late_sends},
                                   {"late_fraction", r.pacer->late_fraction()},
                                   {"max_lag_s", seconds(r.pacer->max_lag)}}
                            : json(nullptr)},
      {"send_account", r.sends ? json{{"due", r.sends->due},
                                      {"sent", r.sends->sent},
                                      {"queued_for_server", r.sends->queued_for_server},
                                      {"unsent_for_server", r.sends->unsent_for_server},
                                      {"own_lateness", r.sends->own_lateness.to_json()}}
                               : json(nullptr)},
      {"retransmits", r.retransmits},
      {"cpu",
       {{"client", cpu_json(r.client_cpu)},
        {"server", r.server_cpu ? cpu_json(*r.server_cpu) : json(nullptr)}}},
  };
  if (r.server_report) {
    // The server's own counters, as it sent them (the control protocol's form).
    json report = json::parse(encode(ResultMessage{*r.server_report}))["report"];
    line["server_report"] = std::move(report);
  } else {
    line["server_report"] = nullptr;
  }
  return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ClientResult> result_from_json_line(std::string_view text) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return fail(ErrorKind::protocol, "net-client result: not a JSON object");
  }
  try {
    Reader in(root);
    ClientResult r;
    std::string kind;
    KP_READ(kind, in.text("kind"));
    if (kind != kClientResultKind) {
      return fail(ErrorKind::protocol,
                  fmt::format("net-client result: kind \"{}\", expected \"{}\"", kind, kClientResultKind));
    }
    std::uint64_t version = 0;
    KP_READ(version, in.count("version"));
    if (version != kClientResultVersion) {
      return fail(ErrorKind::protocol,
                  fmt::format("net-client result: version {} is not supported", version));
    }
    const json* test = nullptr;
    KP_READ(test, in.at("test"));
    KP_READ(r.spec, spec_from_json(*test));
    KP_READ(r.server, in.text("server"));
    KP_READ(r.server_hold, in.seconds("server_hold_s"));
    KP_READ(r.complete, in.boolean("complete"));
    KP_READ(r.cancelled, in.boolean("cancelled"));
    KP_READ(r.error, in.text("error"));
    KP_READ(r.measured, in.seconds("measured_s"));
    KP_READ(r.throughput_bps, in.number("throughput.bits_per_second"));
    KP_READ(r.throughput_source, in.text("throughput.source"));
    KP_READ(r.sender_bps, in.number("throughput.sender_bits_per_second"));
    KP_READ(r.per_second_bps, in.numbers("throughput.per_second_bps"));
    KP_READ(r.bytes_sent, in.count("throughput.bytes_sent"));
    KP_READ(r.datagrams_sent, in.count("throughput.datagrams_sent"));
    KP_READ(r.datagrams_received, in.count("throughput.datagrams_received"));
    KP_READ(r.loss_ratio, in.number("throughput.loss_ratio"));
    KP_READ(r.transactions, in.count("transactions.count"));
    KP_READ(r.transactions_total, in.count("transactions.total"));
    KP_READ(r.transaction_rate, in.number("transactions.rate"));
    KP_READ(r.per_second_tps, in.numbers("transactions.per_second"));
    KP_READ(r.timeouts, in.count("transactions.timeouts"));
    KP_READ(r.latency.corrected, in.histogram("latency.corrected"));
    KP_READ(r.latency.uncorrected, in.histogram("latency.uncorrected"));
    const json* series = nullptr;
    KP_READ(series, in.at("latency.per_second"));
    if (!series->is_array()) {
      return fail(ErrorKind::protocol, "net-client result: \"latency.per_second\" must be a list");
    }
    for (const json& item : *series) {
      Reader second(item);
      SecondSnapshot s;
      KP_READ(s.second, second.whole("second"));
      KP_READ(s.count, second.count("count"));
      KP_READ(s.p50, second.whole("p50_ns"));
      KP_READ(s.p99, second.whole("p99_ns"));
      s.rate = double(s.count);
      r.latency_series.push_back(s);
    }
    const json* open_loop = nullptr;
    KP_READ(open_loop, in.at("open_loop", /*allow_null=*/true));
    if (!open_loop->is_null()) {
      PacerStats stats;
      KP_READ(stats.sends, in.count("open_loop.sends"));
      KP_READ(stats.late_sends, in.count("open_loop.late_sends"));
      KP_READ(stats.max_lag, in.seconds("open_loop.max_lag_s"));
      r.pacer = std::move(stats);
    }
    // The agent's cgroup throttling over the run (cli/agent_command.cpp adds "cpu_budget"); absent when the
    // line came from elsewhere, null when the agent had no quota accounting.
    if (root.contains("cpu_budget") && root["cpu_budget"].is_object() &&
        root["cpu_budget"].contains("throttling") && root["cpu_budget"]["throttling"].is_object()) {
      CpuThrottling throttling;
      KP_READ(throttling.periods, in.count("cpu_budget.throttling.periods"));
      KP_READ(throttling.throttled, in.count("cpu_budget.throttling.throttled"));
      KP_READ(throttling.throttled_time, in.seconds("cpu_budget.throttling.throttled_s"));
      r.throttling = throttling;
    }
    // Absent in a result from an older agent: nothing is known about its own lateness.
    if (root.contains("send_account") && !root["send_account"].is_null()) {
      SendAccount account;
      KP_READ(account.due, in.count("send_account.due"));
      KP_READ(account.sent, in.count("send_account.sent"));
      KP_READ(account.queued_for_server, in.count("send_account.queued_for_server"));
      KP_READ(account.unsent_for_server, in.count("send_account.unsent_for_server"));
      KP_READ(account.own_lateness, in.histogram("send_account.own_lateness"));
      r.sends = std::move(account);
    }
    KP_READ(r.retransmits, in.count("retransmits"));
    KP_READ(r.client_cpu, in.cpu("cpu.client"));
    const json* server_cpu = nullptr;
    KP_READ(server_cpu, in.at("cpu.server", /*allow_null=*/true));
    if (!server_cpu->is_null()) {
      CpuUse cpu;
      KP_READ(cpu, in.cpu("cpu.server"));
      r.server_cpu = cpu;
    }
    const json* report = nullptr;
    KP_READ(report, in.at("server_report", /*allow_null=*/true));
    if (!report->is_null()) {
      json message{{"type", "result"}, {"report", *report}};
      Result<ControlMessage> decoded = decode(message.dump());
      if (!decoded) {
        return fail(ErrorKind::protocol, "net-client result: server_report: " + decoded.error().message);
      }
      r.server_report = std::get<ResultMessage>(*decoded).report;
    }
    return r;
  } catch (const json::exception& e) {
    return fail(ErrorKind::protocol, fmt::format("net-client result: {}", e.what()));
  }
}

#undef KP_READ

std::string summary(const ClientResult& r) {
  std::string text;
  if (is_stream(r.spec.scenario)) {
    text = fmt::format("{} {} ({})", to_string(r.spec.scenario),
                       format_quantity(Quantity::bandwidth, r.throughput_bps),
                       r.throughput_source.empty() ? "no data" : r.throughput_source);
    if (r.spec.scenario == Scenario::tcp_stream) {
      text += fmt::format(", {} retransmits", r.retransmits);
    } else {
      text += fmt::format(", loss {:.3f} %", r.loss_ratio * 100);
    }
  } else {
    auto us = [&](double percentile) {
      return double(r.latency.corrected.value_at_percentile(percentile)) / 1e3;
    };
    text =
        fmt::format("{} {:.0f} transactions/s, P50 {:.1f} us, P90 {:.1f} us, P99 {:.1f} us, P99.9 {:.1f} us",
                    to_string(r.spec.scenario), r.transaction_rate, us(50), us(90), us(99), us(99.9));
    if (r.timeouts > 0) {
      text += fmt::format(", {} timeouts", r.timeouts);
    }
  }
  text += fmt::format(", client CPU {:.2f}", r.client_cpu.utilization());
  if (r.server_cpu) {
    text += fmt::format(", server CPU {:.2f}", r.server_cpu->utilization());
  }
  if (!r.complete) {
    text += fmt::format(" (incomplete: {})", r.error);
  }
  return text;
}

}  // namespace kp::drivers::net
