// The workload a run asks and the counts it returns: building the prepared queries, merging workers' results.

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "drivers/dns/load_engine.hpp"

namespace kp::drivers::dns {

Result<Workload> build_workload(const std::vector<QuerySpec>& specs,
                                const std::optional<ResolverConfig>& resolver, const QueryOptions& options) {
  Workload workload;
  workload.walk = resolver.has_value();
  std::unordered_map<std::string, std::uint32_t> known;
  for (const QuerySpec& spec : specs) {
    std::vector<std::string> names =
        resolver ? search_candidates(spec.name, *resolver) : std::vector{spec.name};
    std::vector<std::uint32_t> lookup;
    for (const std::string& name : names) {
      std::string key = name;
      std::transform(key.begin(), key.end(), key.begin(),
                     [](char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch; });
      if (key.size() > 1 && key.ends_with('.')) {
        key.pop_back();
      }
      key += fmt::format("/{}", spec.type);
      auto [it, inserted] = known.try_emplace(key, static_cast<std::uint32_t>(workload.queries.size()));
      if (inserted) {
        Result<PreparedQuery> query = prepare_query(name, spec.type, options);
        if (!query) {
          return std::unexpected(query.error());
        }
        workload.queries.push_back(std::move(*query));
      }
      lookup.push_back(it->second);
    }
    if (lookup.empty()) {
      return fail(ErrorKind::input, fmt::format("query \"{}\": nothing to ask", spec.name));
    }
    workload.lookups.push_back(std::move(lookup));
  }
  if (workload.lookups.empty()) {
    return fail(ErrorKind::input, "no queries");
  }
  return workload;
}

void Counters::merge(const Counters& o) {
  sent += o.sent;
  responses += o.responses;
  for (std::size_t i = 0; i < rcodes.size(); ++i) {
    rcodes[i] += o.rcodes[i];
  }
  nodata += o.nodata;
  lost += o.lost;
  connection_lost += o.connection_lost;
  send_errors += o.send_errors;
  refused_icmp += o.refused_icmp;
  truncated += o.truncated;
  tcp_retries += o.tcp_retries;
  unexpected_id += o.unexpected_id;
  mismatched += o.mismatched;
  malformed += o.malformed;
  id_exhausted += o.id_exhausted;
  window_full += o.window_full;
  lookups_started += o.lookups_started;
  lookups_answered += o.lookups_answered;
  lookups_negative += o.lookups_negative;
  lookups_failed += o.lookups_failed;
  lookups_lost += o.lookups_lost;
  lookups_abandoned += o.lookups_abandoned;
  walk_steps += o.walk_steps;
  walk_nxdomain += o.walk_nxdomain;
}

double LoadResult::answered_per_second() const {
  const double seconds = elapsed_seconds();
  return seconds > 0 ? double(counters.answered()) / seconds : 0.0;
}

double LoadResult::responses_per_second() const {
  const double seconds = elapsed_seconds();
  return seconds > 0 ? double(counters.responses) / seconds : 0.0;
}

double LoadResult::achieved_share() const {
  const std::uint64_t due = counters.lookups_started + unsent_due;
  return !rate || due == 0 ? 1.0 : double(counters.lookups_started) / double(due);
}

void LoadResult::merge(const LoadResult& r) {
  counters.merge(r.counters);
  query_latency.merge(r.query_latency);
  lookup_latency.merge(r.lookup_latency);
  pacer.merge(r.pacer);
  unsent_due += r.unsent_due;
  queued_for_server += r.queued_for_server;
  unsent_for_server += r.unsent_for_server;
  own_lateness.merge(r.own_lateness);
  send_elapsed = std::max(send_elapsed, r.send_elapsed);
  elapsed = std::max(elapsed, r.elapsed);
  cancelled = cancelled || r.cancelled;
  cpu_seconds += r.cpu_seconds;
  if (first_error.empty()) {
    first_error = r.first_error;
  }
  if (receive_buffer == 0) {
    receive_buffer = r.receive_buffer;
  }
  if (buffer_note.empty()) {
    buffer_note = r.buffer_note;
  }
}

}  // namespace kp::drivers::dns
