#include "drivers/dns/settings.hpp"

#include <algorithm>
#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "config/yaml_fields.hpp"
#include "core/cpu_budget.hpp"
#include "drivers/dns/wire.hpp"

namespace kp::drivers::dns {
namespace {

using config::YamlField;
using config::YamlMap;

// IDs per socket are 65536; keep headroom for the quarantine of timed-out IDs.
constexpr std::uint64_t kMaxOutstandingPerClient = 60000;

Result<std::uint64_t> read_count(const YamlField& field, std::uint64_t minimum, std::uint64_t maximum) {
  if (!field.is_scalar()) {
    return field.fail_got("must be a whole number");
  }
  const std::string text = field.text();
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return field.fail_got("must be a whole number");
  }
  if (value < minimum || value > maximum) {
    return field.fail_got(fmt::format("must be within {}..{}", minimum, maximum));
  }
  return value;
}

Result<Duration> read_positive_duration(const YamlField& field) {
  Result<Duration> value = config::read_duration(field);
  if (value && value->count() <= 0) {
    return field.fail_got("must be > 0");
  }
  return value;
}

// Reads `key` into `target` when present; `reader` turns the field into the value.
template <typename T, typename Reader>
Result<void> optional_field(const YamlMap& map, std::string_view key, T& target, Reader reader) {
  std::optional<YamlField> field = map.get(key);
  if (!field) {
    return {};
  }
  auto value = reader(*field);
  if (!value) {
    return std::unexpected(value.error());
  }
  target = static_cast<T>(*value);
  return {};
}

}  // namespace

Result<Settings> parse_settings(const YAML::Node& node, const std::string& file, const std::string& path,
                                const std::filesystem::path& base_dir) {
  Settings s;
  YamlField root(node, file, path);
  if (root.is_null()) {
    return s;
  }
  Result<YamlMap> opened = YamlMap::open(root, {"server",
                                                "protocol",
                                                "queries",
                                                "resolver",
                                                "namespace",
                                                "search",
                                                "ndots",
                                                "cluster_domain",
                                                "rate",
                                                "arrival",
                                                "outstanding",
                                                "clients",
                                                "threads",
                                                "total",
                                                "timeout",
                                                "edns",
                                                "tcp_on_truncation",
                                                "failure_window",
                                                "late_tolerance",
                                                "unbound_control",
                                                "metrics_url",
                                                "stats_timeout",
                                                "stress",
                                                "agents",
                                                "external_names",
                                                "pods"});
  if (!opened) {
    return std::unexpected(opened.error());
  }
  const YamlMap& map = *opened;
  std::vector<Result<void>> results;
  auto check = [&](Result<void> result) -> bool {
    if (!result) {
      results.push_back(std::move(result));
      return false;
    }
    return true;
  };
  auto address = [](const YamlField& field) -> Result<std::string> {
    Result<std::string> text = config::read_string(field);
    if (text && !parse_server(*text)) {
      return field.fail_got(
          "must be an IP address with an optional port (10.96.0.10, 127.0.0.1:5353, [::1]:53)");
    }
    return text;
  };
  bool ok = check(optional_field(map, "server", s.server, address)) &&
            check(optional_field(map, "protocol", s.protocol,
                                 [](const YamlField& field) -> Result<Protocol> {
                                   Result<std::string> choice = config::read_choice(field, {"udp", "tcp"});
                                   if (!choice) {
                                     return std::unexpected(choice.error());
                                   }
                                   return *choice == "udp" ? Protocol::udp : Protocol::tcp;
                                 })) &&
            check(optional_field(map, "queries", s.queries,
                                 [&](const YamlField& field) -> Result<std::string> {
                                   Result<std::string> text = config::read_string(field);
                                   if (!text || *text == kBuiltinMix) {
                                     return text;
                                   }
                                   std::filesystem::path query_file(*text);
                                   if (query_file.is_relative()) {
                                     query_file = (base_dir / query_file).lexically_normal();
                                   }
                                   return query_file.string();
                                 })) &&
            check(optional_field(map, "resolver", s.pod_resolver,
                                 [](const YamlField& field) -> Result<bool> {
                                   Result<std::string> choice = config::read_choice(field, {"direct", "pod"});
                                   if (!choice) {
                                     return std::unexpected(choice.error());
                                   }
                                   return *choice == "pod";
                                 })) &&
            check(optional_field(map, "namespace", s.pod_namespace, config::read_string)) &&
            check(optional_field(map, "search", s.search,
                                 [](const YamlField& field) -> Result<std::vector<std::string>> {
                                   Result<std::vector<YamlField>> items = field.items();
                                   if (!items) {
                                     return std::unexpected(items.error());
                                   }
                                   std::vector<std::string> domains;
                                   for (const YamlField& item : *items) {
                                     Result<std::string> domain = config::read_string(item);
                                     if (!domain) {
                                       return std::unexpected(domain.error());
                                     }
                                     domains.push_back(*domain);
                                   }
                                   return domains;
                                 })) &&
            check(optional_field(map, "ndots", s.ndots,
                                 [](const YamlField& field) { return read_count(field, 0, 15); })) &&
            check(optional_field(map, "cluster_domain", s.cluster_domain, config::read_string));
  if (ok && map.get("cluster_domain")) {
    s.cluster_domain_given = true;
    s.cluster_domain_source = "the plan's cluster_domain";
  }
  if (ok) {
    if (std::optional<YamlField> rate = map.get("rate")) {
      Result<load::RateSetting> value = load::read_rate_setting(*rate);
      if (!value) {
        return std::unexpected(value.error());
      }
      s.rate = *value;
    }
    if (std::optional<YamlField> stress = map.get("stress")) {
      Result<load::StressSettings> value = load::read_stress_settings(*stress);
      if (!value) {
        return std::unexpected(value.error());
      }
      s.stress = *value;
    }
  }
  ok =
      ok &&
      check(optional_field(map, "arrival", s.arrival,
                           [](const YamlField& field) -> Result<Arrival> {
                             Result<std::string> choice = config::read_choice(field, {"constant", "poisson"});
                             if (!choice) {
                               return std::unexpected(choice.error());
                             }
                             return *choice == "poisson" ? Arrival::poisson : Arrival::constant;
                           })) &&
      check(optional_field(map, "outstanding", s.outstanding,
                           [](const YamlField& field) { return read_count(field, 1, 1'000'000); })) &&
      check(optional_field(map, "clients", s.clients,
                           [](const YamlField& field) { return read_count(field, 1, 10'000); })) &&
      check(optional_field(map, "threads", s.threads,
                           [](const YamlField& field) { return read_count(field, 0, 256); })) &&
      check(optional_field(map, "total", s.total,
                           [](const YamlField& field) -> Result<std::optional<std::uint64_t>> {
                             Result<std::uint64_t> value =
                                 read_count(field, 1, std::numeric_limits<std::uint64_t>::max());
                             if (!value) {
                               return std::unexpected(value.error());
                             }
                             return std::optional<std::uint64_t>(*value);
                           })) &&
      check(optional_field(map, "timeout", s.timeout, read_positive_duration)) &&
      check(optional_field(map, "edns", s.edns,
                           [](const YamlField& field) -> Result<std::optional<std::uint16_t>> {
                             if (field.is_scalar() && field.text() == "false") {
                               return std::optional<std::uint16_t>();
                             }
                             Result<std::uint64_t> size = read_count(field, 512, 65535);
                             if (!size) {
                               return field.fail_got(
                                   "must be a UDP payload size within 512..65535, or false");
                             }
                             return std::optional<std::uint16_t>(static_cast<std::uint16_t>(*size));
                           })) &&
      check(optional_field(map, "tcp_on_truncation", s.tcp_on_truncation, config::read_bool)) &&
      check(optional_field(map, "failure_window", s.failure_window, read_positive_duration)) &&
      check(optional_field(map, "late_tolerance", s.late_tolerance, read_positive_duration)) &&
      check(optional_field(map, "unbound_control", s.unbound_control, address)) &&
      check(optional_field(map, "metrics_url", s.metrics_url,
                           [](const YamlField& field) -> Result<std::string> {
                             Result<std::string> url = config::read_string(field);
                             if (url && !url->starts_with("http://") && !url->starts_with("https://")) {
                               return field.fail_got("must start with http:// or https://");
                             }
                             return url;
                           })) &&
      check(optional_field(map, "stats_timeout", s.stats_timeout, read_positive_duration)) &&
      check(optional_field(map, "agents", s.agents,
                           [](const YamlField& field) { return read_count(field, 1, 1000); })) &&
      check(optional_field(map, "external_names", s.external_names,
                           [](const YamlField& field) -> Result<std::vector<std::string>> {
                             Result<std::vector<YamlField>> items = field.items();
                             if (!items) {
                               return std::unexpected(items.error());
                             }
                             std::vector<std::string> names;
                             for (const YamlField& item : *items) {
                               Result<std::string> name = config::read_string(item);
                               if (!name) {
                                 return std::unexpected(name.error());
                               }
                               if (!encode_name(*name)) {
                                 return item.fail_got("not a DNS name");
                               }
                               names.push_back(*name);
                             }
                             return names;
                           }));
  if (ok) {
    if (std::optional<YamlField> pods = map.get("pods")) {
      s.pods = pods->node();
    }
  }
  if (!ok) {
    return std::unexpected(results.front().error());
  }
  if (!s.unbound_control.empty() && !s.metrics_url.empty()) {
    return map.field().fail("give unbound_control or metrics_url, not both (one server's cache statistics)");
  }
  if (std::optional<YamlField> outstanding = map.get("outstanding");
      outstanding && s.outstanding > kMaxOutstandingPerClient * static_cast<std::uint64_t>(s.clients)) {
    return outstanding->fail_got(
        fmt::format("must be at most {} per client ({} clients): DNS IDs are 16 bits",
                    kMaxOutstandingPerClient, s.clients));
  }
  if (!s.pod_resolver) {
    for (std::string_view key : {"namespace", "search", "ndots"}) {
      if (std::optional<YamlField> field = map.get(key)) {
        return field->fail("only applies with resolver: pod");
      }
    }
  }
  return s;
}

Result<void> validate(const Settings& settings, std::string_view where) {
  if (settings.outstanding > kMaxOutstandingPerClient * static_cast<std::uint64_t>(settings.clients)) {
    return fail(ErrorKind::input,
                fmt::format("{}: outstanding {} is more than {} per client ({} clients): DNS IDs are 16 bits",
                            where, settings.outstanding, kMaxOutstandingPerClient, settings.clients));
  }
  if (!settings.unbound_control.empty() && !settings.metrics_url.empty()) {
    return fail(ErrorKind::input, fmt::format("{}: give unbound_control or metrics_url, not both", where));
  }
  if (settings.queries != kBuiltinMix && settings.inline_queries.empty()) {
    // Read it now: a bad line is an input error before anything runs, naming the file and line.
    if (Result<std::vector<QuerySpec>> queries = read_query_file(settings.queries); !queries) {
      return std::unexpected(queries.error());
    }
  }
  return {};
}

Result<std::vector<QuerySpec>> load_queries(const Settings& settings) {
  if (!settings.inline_queries.empty()) {
    return settings.inline_queries;
  }
  if (settings.queries == kBuiltinMix) {
    lab::ClusterShape shape;
    shape.domain = settings.cluster_domain;
    return settings.pod_resolver ? kubernetes_application_mix(shape) : kubernetes_mix(shape);
  }
  return read_query_file(settings.queries);
}

std::optional<ResolverConfig> resolver_config(const Settings& settings) {
  if (!settings.pod_resolver) {
    return std::nullopt;
  }
  ResolverConfig config = pod_resolver(settings.pod_namespace, settings.cluster_domain);
  if (!settings.search.empty() || settings.search_given) {
    config.search = settings.search;
  }
  config.ndots = settings.ndots;
  return config;
}

load::CapacityRef dns_capacity(const config::Capacity& capacity) {
  return load::capacity_ref("capacity.dns_qps", capacity.dns_qps, "QPS");
}

Result<RunShape> shape_run(const Settings& settings, const config::Capacity& capacity, double load,
                           Duration duration, config::TestType type, std::string where) {
  Result<load::Schedule> schedule =
      load::resolve_schedule(load::ScheduleInput{.rate = settings.rate,
                                                 .capacity = dns_capacity(capacity),
                                                 .load = load,
                                                 .type = type,
                                                 .duration = duration,
                                                 .stress = settings.stress,
                                                 .where = std::move(where),
                                                 .owner = "the dns phase"});
  if (!schedule) {
    return std::unexpected(schedule.error());
  }
  RunShape shape;
  shape.schedule = std::move(*schedule);
  shape.notes = shape.schedule.notes;
  LoadOptions& o = shape.load;
  o.protocol = settings.protocol;
  o.rate = shape.schedule.rate();
  o.arrival = settings.arrival;
  o.outstanding = settings.outstanding;
  o.clients = settings.clients;
  const int cores = usable_cpus();  // the container's CPU quota, not the host's cores
  o.threads = std::min(settings.threads == 0 ? cores : settings.threads, settings.clients);
  o.duration = duration;
  o.total = settings.total;
  o.timeout = settings.timeout;
  o.failure_window = settings.failure_window;
  o.tcp_on_truncation = settings.tcp_on_truncation;
  o.late_tolerance = settings.late_tolerance;
  if (settings.pod_resolver) {
    shape.notes.push_back(
        "pod resolver mode: the rate counts application lookups, each one to several queries");
  }
  return shape;
}

}  // namespace kp::drivers::dns
