#include "drivers/dns/load_json.hpp"

#include <limits>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

namespace kp::drivers::dns {
namespace {

using nlohmann::json;

// The counters by name, one table for both directions.
template <typename C, typename F>
void each_counter(C& c, F&& f) {
  f("sent", c.sent);
  f("responses", c.responses);
  f("nodata", c.nodata);
  f("lost", c.lost);
  f("connection_lost", c.connection_lost);
  f("send_errors", c.send_errors);
  f("refused_icmp", c.refused_icmp);
  f("truncated", c.truncated);
  f("tcp_retries", c.tcp_retries);
  f("unexpected_id", c.unexpected_id);
  f("mismatched", c.mismatched);
  f("malformed", c.malformed);
  f("id_exhausted", c.id_exhausted);
  f("window_full", c.window_full);
  f("lookups_started", c.lookups_started);
  f("lookups_answered", c.lookups_answered);
  f("lookups_negative", c.lookups_negative);
  f("lookups_failed", c.lookups_failed);
  f("lookups_lost", c.lookups_lost);
  f("lookups_abandoned", c.lookups_abandoned);
  f("walk_steps", c.walk_steps);
  f("walk_nxdomain", c.walk_nxdomain);
}

template <typename L, typename F>
void each_histogram(L& load, F&& f) {
  f("corrected", load.query_latency.corrected);
  f("uncorrected", load.query_latency.uncorrected);
  f("lookup", load.lookup_latency);
  f("pacer_lag", load.pacer.lag);
  f("own_lateness", load.own_lateness);
}

template <typename L, typename F>
void each_count(L& load, F&& f) {
  f("unsent_due", load.unsent_due);
  f("queued_for_server", load.queued_for_server);
  f("unsent_for_server", load.unsent_for_server);
  f("pacer_sends", load.pacer.sends);
  f("pacer_late_sends", load.pacer.late_sends);
}

Error bad(std::string_view field, std::string_view what) {
  return Error{ErrorKind::protocol, fmt::format("dns agent result: load.{}: {}", field, what)};
}

}  // namespace

json load_to_json(const LoadResult& load) {
  json counters = json::object();
  each_counter(load.counters, [&](const char* name, const std::uint64_t& value) { counters[name] = value; });
  counters["rcodes"] = load.counters.rcodes;
  json histograms = json::object();
  each_histogram(load, [&](const char* name, const Histogram& h) { histograms[name] = h.to_json(); });
  json out{{"counters", std::move(counters)}, {"histograms", std::move(histograms)}};
  each_count(load, [&](const char* name, const std::uint64_t& value) { out[name] = value; });
  out["pacer_max_lag_ns"] = load.pacer.max_lag.count();
  out["send_elapsed_ns"] = load.send_elapsed.count();
  out["elapsed_ns"] = load.elapsed.count();
  out["cancelled"] = load.cancelled;
  out["stopped_early"] = load.stopped_early;
  out["first_error"] = load.first_error;
  out["receive_buffer"] = load.receive_buffer;
  out["buffer_note"] = load.buffer_note;
  out["cpu_seconds"] = load.cpu_seconds;
  out["threads"] = load.threads;
  out["clients"] = load.clients;
  out["outstanding"] = load.outstanding;
  out["rate"] = load.rate ? json(load.rate->per_second) : json(nullptr);
  return out;
}

Result<LoadResult> load_from_json(const json& in) {
  if (!in.is_object()) {
    return std::unexpected(bad("", "not an object"));
  }
  LoadResult load;
  std::optional<Error> error;
  auto number = [&](const json& from, const char* name, auto& target) {
    using T = std::remove_reference_t<decltype(target)>;
    if (error) {
      return;
    }
    if (!from.contains(name) || !from[name].is_number()) {
      error = bad(name, "missing or not a number");
      return;
    }
    const json& value = from[name];
    if constexpr (std::is_integral_v<T>) {
      // get<T>() of a float, or of an integer beyond T, would convert unchecked: undefined for 1e300 or -1.5.
      const bool fits = value.is_number_unsigned()  ? std::in_range<T>(value.get<std::uint64_t>())
                        : value.is_number_integer() ? std::in_range<T>(value.get<std::int64_t>())
                                                    : false;
      if (!fits) {
        error =
            bad(name, fmt::format("must be an integer from {} to {}, got {}", std::numeric_limits<T>::min(),
                                  std::numeric_limits<T>::max(), value.dump()));
        return;
      }
    }
    target = value.get<T>();
  };
  const json& counters = in.contains("counters") ? in["counters"] : json();
  if (!counters.is_object()) {
    return std::unexpected(bad("counters", "missing"));
  }
  each_counter(load.counters, [&](const char* name, std::uint64_t& value) { number(counters, name, value); });
  if (!counters.contains("rcodes") || !counters["rcodes"].is_array() ||
      counters["rcodes"].size() != load.counters.rcodes.size()) {
    return std::unexpected(bad("counters.rcodes", "missing or not 16 counts"));
  }
  if (error) {
    return std::unexpected(*error);
  }
  for (std::size_t i = 0; i < load.counters.rcodes.size(); ++i) {
    const json& value = counters["rcodes"][i];
    if (!value.is_number_unsigned()) {
      return std::unexpected(bad(fmt::format("counters.rcodes[{}]", i), "not a count"));
    }
    load.counters.rcodes[i] = value.get<std::uint64_t>();
  }
  const json& histograms = in.contains("histograms") ? in["histograms"] : json();
  if (!histograms.is_object()) {
    return std::unexpected(bad("histograms", "missing"));
  }
  each_histogram(load, [&](const char* name, Histogram& h) {
    if (error) {
      return;
    }
    if (!histograms.contains(name)) {
      error = bad(fmt::format("histograms.{}", name), "missing");
      return;
    }
    Result<Histogram> parsed = Histogram::from_json(histograms[name]);
    if (!parsed) {
      error = bad(fmt::format("histograms.{}", name), parsed.error().message);
      return;
    }
    h = std::move(*parsed);
  });
  each_count(load, [&](const char* name, std::uint64_t& value) { number(in, name, value); });
  std::int64_t max_lag = 0;
  std::int64_t send_elapsed = 0;
  std::int64_t elapsed = 0;
  number(in, "pacer_max_lag_ns", max_lag);
  number(in, "send_elapsed_ns", send_elapsed);
  number(in, "elapsed_ns", elapsed);
  number(in, "receive_buffer", load.receive_buffer);
  number(in, "cpu_seconds", load.cpu_seconds);
  number(in, "threads", load.threads);
  number(in, "clients", load.clients);
  number(in, "outstanding", load.outstanding);
  if (error) {
    return std::unexpected(*error);
  }
  load.pacer.max_lag = Duration(max_lag);
  load.send_elapsed = Duration(send_elapsed);
  load.elapsed = Duration(elapsed);
  load.cancelled = in.value("cancelled", false);
  load.stopped_early = in.value("stopped_early", std::string());
  load.first_error = in.value("first_error", std::string());
  load.buffer_note = in.value("buffer_note", std::string());
  if (in.contains("rate") && in["rate"].is_number()) {
    load.rate = Rate{in["rate"].get<double>()};
  }
  return load;
}

}  // namespace kp::drivers::dns
