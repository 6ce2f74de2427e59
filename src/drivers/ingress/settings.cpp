#include "drivers/ingress/settings.hpp"

#include <cmath>
#include <regex>

#include <fmt/format.h>

#include "config/yaml_fields.hpp"
#include "drivers/ingress/url.hpp"

namespace kp::drivers::ingress {
namespace {

using config::YamlField;
using config::YamlMap;

Result<int> read_int(const YamlField& field, int minimum, int maximum) {
  Result<double> value = config::read_quantity(field, Quantity::count);
  if (!value || *value != std::floor(*value) || *value < minimum || *value > maximum) {
    return field.fail_got(fmt::format("must be a whole number within {}..{}", minimum, maximum));
  }
  return static_cast<int>(*value);
}

}  // namespace

Result<Settings> parse_settings(const YAML::Node& node, const std::string& file, const std::string& path) {
  Settings settings;
  YamlField root(node, file, path);
  if (!node || root.is_null()) {
    return settings;
  }
  Result<YamlMap> map = YamlMap::open(root, {"url",
                                             "tls",
                                             "paths",
                                             "method",
                                             "body",
                                             "host",
                                             "headers",
                                             "insecure",
                                             "cacert",
                                             "server_name",
                                             "threads",
                                             "connections",
                                             "rate",
                                             "arrival",
                                             "timeout",
                                             "connection_rate",
                                             "connection_share",
                                             "io",
                                             "stress",
                                             "from",
                                             "agents",
                                             "ingress",
                                             "pods"});
  if (!map) {
    return std::unexpected(map.error());
  }
  for (const auto& [key, field] : map->entries()) {
    Result<void> ok;
    auto string_into = [&](std::string& target) -> Result<void> {
      Result<std::string> text = config::read_string(field);
      if (!text) {
        return std::unexpected(text.error());
      }
      target = *text;
      return {};
    };
    auto bool_into = [&](bool& target) -> Result<void> {
      Result<bool> value = config::read_bool(field);
      if (!value) {
        return std::unexpected(value.error());
      }
      target = *value;
      return {};
    };
    if (key == "url") {
      ok = string_into(settings.url);
      if (ok) {
        if (Result<Url> url = parse_url(settings.url); !url) {
          return field.fail_got("not an http:// or https:// URL");
        }
      }
    } else if (key == "tls") {
      ok = bool_into(settings.lab_tls);
    } else if (key == "paths") {
      Result<std::vector<YamlField>> items = field.items();
      if (!items) {
        return std::unexpected(items.error());
      }
      for (const YamlField& item : *items) {
        Result<std::string> text = config::read_string(item);
        if (!text) {
          return std::unexpected(text.error());
        }
        if (text->front() != '/' || text->find_first_of(" \t\r\n") != std::string::npos) {
          return item.fail_got("must start with / and have no whitespace");
        }
        settings.paths.push_back(*text);
      }
    } else if (key == "method") {
      ok = string_into(settings.method);
      if (ok && settings.method.find_first_of(" \t\r\n") != std::string::npos) {
        return field.fail_got("must be one token");
      }
    } else if (key == "body") {
      settings.body = field.text();
    } else if (key == "host") {
      ok = string_into(settings.host);
    } else if (key == "headers") {
      Result<YamlMap> headers = YamlMap::open_any(field);
      if (!headers) {
        return std::unexpected(headers.error());
      }
      for (const auto& [name, value] : headers->entries()) {
        if (!value.is_scalar() || value.text().find_first_of("\r\n") != std::string::npos) {
          return value.fail_got("must be a single-line value");
        }
        settings.headers.emplace_back(name, value.text());
      }
    } else if (key == "io") {
      Result<IoBackend> io = parse_io_backend("io", field.text());
      if (!io) {
        return field.fail_got("must be auto, epoll or uring");
      }
      settings.io = *io;
    } else if (key == "insecure") {
      ok = bool_into(settings.insecure);
    } else if (key == "cacert") {
      ok = string_into(settings.cacert);
    } else if (key == "server_name") {
      ok = string_into(settings.server_name);
    } else if (key == "threads") {
      Result<int> value = read_int(field, 0, 1024);
      if (!value) {
        return std::unexpected(value.error());
      }
      settings.threads = *value;
    } else if (key == "connections") {
      Result<int> value = read_int(field, 1, 1'000'000);
      if (!value) {
        return std::unexpected(value.error());
      }
      settings.connections = *value;
    } else if (key == "rate") {
      Result<load::RateSetting> rate = load::read_rate_setting(field);
      if (!rate) {
        return std::unexpected(rate.error());
      }
      settings.rate = *rate;
    } else if (key == "arrival") {
      Result<std::string> arrival = config::read_choice(field, {"constant", "poisson"});
      if (!arrival) {
        return std::unexpected(arrival.error());
      }
      settings.arrival = *arrival == "poisson" ? Arrival::poisson : Arrival::constant;
    } else if (key == "timeout") {
      Result<Duration> timeout = config::read_duration(field);
      if (!timeout) {
        return std::unexpected(timeout.error());
      }
      if (*timeout <= Duration::zero()) {
        return field.fail_got("must be > 0");
      }
      settings.timeout = *timeout;
    } else if (key == "connection_rate") {
      if (field.is_scalar() && field.text() == "off") {
        settings.connection_run = false;
      } else {
        Result<load::RateSetting> rate = load::read_rate_setting(field);
        if (!rate) {
          return field.fail_got(R"(not a rate > 0 (or "max", "capacity", "off"))");
        }
        settings.connection_rate = *rate;
      }
    } else if (key == "stress") {
      Result<load::StressSettings> stress = load::read_stress_settings(field);
      if (!stress) {
        return std::unexpected(stress.error());
      }
      settings.stress = *stress;
    } else if (key == "from") {
      Result<std::string> from = config::read_choice(field, {"cli", "pods"});
      if (!from) {
        return std::unexpected(from.error());
      }
      settings.from_pods = *from == "pods";
    } else if (key == "agents") {
      Result<int> value = read_int(field, 1, 1000);
      if (!value) {
        return std::unexpected(value.error());
      }
      settings.agents = *value;
    } else if (key == "ingress") {
      // [namespace/]name, both DNS labels/subdomains as the API names them.
      static const std::regex name(
          R"(^(?:([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)/)?([a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?)$)");
      std::smatch match;
      const std::string text = field.is_scalar() ? field.text() : std::string();
      if (!std::regex_match(text, match, name)) {
        return field.fail_got("must be an Ingress as [namespace/]name");
      }
      settings.ingress_namespace = match[1].str();
      settings.ingress = match[2].str();
    } else if (key == "pods") {
      settings.pods = field.node();
    } else if (key == "connection_share") {
      Result<Ratio> share = config::read_ratio(field);
      if (!share) {
        return std::unexpected(share.error());
      }
      if (!(share->fraction > 0 && share->fraction < 1)) {
        return field.fail_got("must be between 0% and 100% (exclusive)");
      }
      settings.connection_share = share->fraction;
    }
    if (!ok) {
      return std::unexpected(ok.error());
    }
  }
  return settings;
}

Result<Schedules> resolve_schedules(const Settings& settings, const config::Plan& plan,
                                    const config::PhasePlan& phase) {
  const Duration total = phase.duration;
  const Duration connection_share =
      settings.connection_run ? std::chrono::duration_cast<Duration>(total * settings.connection_share)
                              : Duration::zero();
  auto resolve = [&](const load::RateSetting& rate, load::CapacityRef capacity, Duration duration) {
    return load::resolve_schedule(load::ScheduleInput{.rate = rate,
                                                      .capacity = std::move(capacity),
                                                      .load = phase.load,
                                                      .type = plan.type,
                                                      .duration = duration,
                                                      .stress = settings.stress,
                                                      .where = config::phase_location(plan, phase),
                                                      .owner = "the ingress phase"});
  };
  Result<load::Schedule> requests =
      resolve(settings.rate, load::capacity_ref("capacity.ingress_rps", plan.capacity.ingress_rps, "RPS"),
              total - connection_share);
  if (!requests) {
    return std::unexpected(requests.error());
  }
  Schedules schedules{.requests = std::move(*requests), .connections = std::nullopt};
  if (settings.connection_run) {
    Result<load::Schedule> connections = resolve(
        settings.connection_rate,
        load::capacity_ref("capacity.ingress_connection_rate", plan.capacity.ingress_connection_rate, "/s"),
        connection_share);
    if (!connections) {
      return std::unexpected(connections.error());
    }
    schedules.connections = std::move(*connections);
  }
  return schedules;
}

}  // namespace kp::drivers::ingress
