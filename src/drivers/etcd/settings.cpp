#include "drivers/etcd/settings.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "drivers/etcd/keys.hpp"

namespace kp::drivers::etcd {
namespace {

// Every key parse_settings accepts, in documentation order (listed in the unknown-key message).
constexpr std::string_view kKeys[] = {
    "endpoints",      "cacert",          "cert",       "key",
    "metrics_url",    "workload",        "read_ratio", "consistency",
    "key_size",       "value_size",      "key_space",  "sequential_keys",
    "key_prefix",     "connections",     "clients",    "threads",
    "rate",           "arrival",         "total",      "request_timeout",
    "failure_window", "metrics_timeout", "stress",     "from",
    "pods",
};

class Reader {
 public:
  Reader(std::string_view file, std::string_view path, Settings& settings)
      : file_(file), path_(path), settings_(settings) {}

  // "file:line: path.key: message", the plans' convention (config/yaml_fields.hpp).
  std::unexpected<Error> error(const YAML::Node& node, std::string_view key, std::string message) const {
    int line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
    std::string location = line > 0 ? fmt::format("{}:{}", file_, line) : std::string(file_);
    std::string field = key.empty() ? std::string(path_) : fmt::format("{}.{}", path_, key);
    return fail(ErrorKind::input, fmt::format("{}: {}: {}", location, field, message));
  }

  // The value as the kernel's readers take it: with this file, its line and the field path.
  config::YamlField field(const YAML::Node& node, std::string_view key) const {
    return config::YamlField(node, std::string(file_), fmt::format("{}.{}", path_, key));
  }

  Result<std::string> scalar(const YAML::Node& node, std::string_view key) const {
    if (!node.IsScalar()) {
      return error(node, key, "must be a single value");
    }
    return node.Scalar();
  }

  Result<std::uint64_t> count(const YAML::Node& node, std::string_view key, std::uint64_t minimum) const {
    Result<std::string> text = scalar(node, key);
    if (!text) {
      return std::unexpected(text.error());
    }
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc{} || end != text->data() + text->size()) {
      return error(node, key, fmt::format("not a whole number, got \"{}\"", *text));
    }
    if (value < minimum) {
      return error(node, key, fmt::format("must be >= {}, got \"{}\"", minimum, *text));
    }
    return value;
  }

  Result<int> small_count(const YAML::Node& node, std::string_view key, int minimum, int maximum) const {
    Result<std::uint64_t> value = count(node, key, static_cast<std::uint64_t>(minimum));
    if (!value) {
      return std::unexpected(value.error());
    }
    if (*value > static_cast<std::uint64_t>(maximum)) {
      return error(node, key, fmt::format("must be <= {}, got \"{}\"", maximum, node.Scalar()));
    }
    return static_cast<int>(*value);
  }

  Result<bool> boolean(const YAML::Node& node, std::string_view key) const {
    Result<std::string> text = scalar(node, key);
    if (!text) {
      return std::unexpected(text.error());
    }
    if (*text == "true") {
      return true;
    }
    if (*text == "false") {
      return false;
    }
    return error(node, key, fmt::format("must be true or false, got \"{}\"", *text));
  }

  Result<std::uint64_t> bytes(const YAML::Node& node, std::string_view key) const {
    Result<std::string> text = scalar(node, key);
    if (!text) {
      return std::unexpected(text.error());
    }
    Result<ByteSize> size = parse_byte_size(*text);
    if (!size) {
      return error(node, key, fmt::format("not a size, got \"{}\"", *text));
    }
    if (size->bytes == 0) {
      return error(node, key, fmt::format("must be > 0, got \"{}\"", *text));
    }
    return size->bytes;
  }

  Result<Duration> duration(const YAML::Node& node, std::string_view key) const {
    Result<std::string> text = scalar(node, key);
    if (!text) {
      return std::unexpected(text.error());
    }
    Result<Duration> value = parse_duration(*text);
    if (!value) {
      return error(node, key, fmt::format("not a duration, got \"{}\"", *text));
    }
    if (value->count() <= 0) {
      return error(node, key, fmt::format("must be > 0, got \"{}\"", *text));
    }
    return *value;
  }

  Result<std::string> path_or_text(const YAML::Node& node, std::string_view key) const {
    Result<std::string> text = scalar(node, key);
    if (text && text->empty()) {
      return error(node, key, "must not be empty");
    }
    return text;
  }

  Result<void> read(std::string_view key, const YAML::Node& value) {
    Settings& s = settings_;
    auto assign = [](auto& target, auto result) -> Result<void> {
      if (!result) {
        return std::unexpected(result.error());
      }
      target = *result;
      return {};
    };
    if (key == "endpoints") {
      s.endpoints.clear();
      if (value.IsScalar()) {
        s.endpoints.push_back(value.Scalar());
      } else if (value.IsSequence() && value.size() > 0) {
        for (const YAML::Node& item : value) {
          if (!item.IsScalar() || item.Scalar().empty()) {
            return error(item, key, "each endpoint must be \"host:port\" or \"https://host:port\"");
          }
          s.endpoints.push_back(item.Scalar());
        }
      } else {
        return error(value, key, "must be an endpoint or a non-empty list of endpoints");
      }
      for (const std::string& endpoint : s.endpoints) {
        std::string_view rest = endpoint;
        for (std::string_view scheme : {"http://", "https://"}) {
          if (rest.starts_with(scheme)) {
            rest.remove_prefix(scheme.size());
          }
        }
        std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
          return error(value, key,
                       fmt::format("must be \"host:port\" or \"https://host:port\", got \"{}\"", endpoint));
        }
      }
      return {};
    }
    if (key == "cacert") {
      return assign(s.tls.ca_file, path_or_text(value, key));
    }
    if (key == "cert") {
      return assign(s.tls.cert_file, path_or_text(value, key));
    }
    if (key == "key") {
      return assign(s.tls.key_file, path_or_text(value, key));
    }
    if (key == "metrics_url") {
      Result<std::string> url = path_or_text(value, key);
      if (url && !url->starts_with("http://") && !url->starts_with("https://")) {
        return error(value, key, fmt::format("must start with http:// or https://, got \"{}\"", *url));
      }
      return assign(s.metrics_url, url);
    }
    if (key == "workload") {
      Result<std::string> text = scalar(value, key);
      if (!text) {
        return std::unexpected(text.error());
      }
      static const std::map<std::string, Workload, std::less<>> kWorkloads = {
          {"write", Workload::write},
          {"read", Workload::read},
          {"mixed", Workload::mixed},
          {"write-then-read", Workload::write_then_read}};
      auto found = kWorkloads.find(*text);
      if (found == kWorkloads.end()) {
        return error(value, key,
                     fmt::format("must be write, read, mixed or write-then-read, got \"{}\"", *text));
      }
      s.workload = found->second;
      return {};
    }
    if (key == "read_ratio") {
      Result<std::string> text = scalar(value, key);
      if (!text) {
        return std::unexpected(text.error());
      }
      Result<Ratio> ratio = parse_ratio(*text);
      if (!ratio || ratio->fraction < 0 || ratio->fraction > 1) {
        return error(value, key, fmt::format("must be a ratio within 0..100%, got \"{}\"", *text));
      }
      s.read_fraction = ratio->fraction;
      return {};
    }
    if (key == "consistency") {
      Result<std::string> text = scalar(value, key);
      if (!text) {
        return std::unexpected(text.error());
      }
      if (*text != "linearizable" && *text != "serializable") {
        return error(value, key, fmt::format("must be linearizable or serializable, got \"{}\"", *text));
      }
      s.serializable = *text == "serializable";
      return {};
    }
    if (key == "key_size") {
      return assign(s.key_size, bytes(value, key));
    }
    if (key == "value_size") {
      return assign(s.value_size, bytes(value, key));
    }
    if (key == "key_space") {
      return assign(s.key_space, count(value, key, 1));
    }
    if (key == "sequential_keys") {
      return assign(s.sequential_keys, boolean(value, key));
    }
    if (key == "key_prefix") {
      return assign(s.key_prefix, path_or_text(value, key));
    }
    if (key == "connections") {
      return assign(s.connections, small_count(value, key, 1, 1000));
    }
    if (key == "clients") {
      return assign(s.clients, small_count(value, key, 1, 100000));
    }
    if (key == "threads") {
      return assign(s.threads, small_count(value, key, 0, 256));
    }
    if (key == "rate") {
      // One reader for every phase and agent (load/rate_setting.hpp).
      return assign(s.rate, load::read_rate_setting(field(value, key)));
    }
    if (key == "arrival") {
      Result<std::string> text = scalar(value, key);
      if (!text) {
        return std::unexpected(text.error());
      }
      if (*text != "constant" && *text != "poisson") {
        return error(value, key, fmt::format("must be constant or poisson, got \"{}\"", *text));
      }
      s.arrival = *text == "poisson" ? Arrival::poisson : Arrival::constant;
      return {};
    }
    if (key == "total") {
      Result<std::uint64_t> total = count(value, key, 1);
      if (!total) {
        return std::unexpected(total.error());
      }
      s.total = *total;
      return {};
    }
    if (key == "request_timeout") {
      return assign(s.request_timeout, duration(value, key));
    }
    if (key == "failure_window") {
      return assign(s.failure_window, duration(value, key));
    }
    if (key == "metrics_timeout") {
      return assign(s.metrics_timeout, duration(value, key));
    }
    if (key == "stress") {
      return assign(s.stress, load::read_stress_settings(field(value, key)));
    }
    if (key == "from") {
      Result<std::string> text = scalar(value, key);
      if (!text) {
        return std::unexpected(text.error());
      }
      if (*text != "client" && *text != "control-plane-pod") {
        return error(value, key, fmt::format("must be client or control-plane-pod, got \"{}\"", *text));
      }
      s.from = *text == "client" ? Source::client : Source::control_plane_pod;
      return {};
    }
    if (key == "pods") {
      s.pods = value;
      s.pods_path = fmt::format("{}.{}", path_, key);
      return {};
    }
    return error(value, key, "unknown key");
  }

 private:
  std::string_view file_;
  std::string_view path_;
  Settings& settings_;
};

}  // namespace

std::string_view to_string(Workload workload) {
  switch (workload) {
    case Workload::write:
      return "write";
    case Workload::read:
      return "read";
    case Workload::mixed:
      return "mixed";
    case Workload::write_then_read:
      return "write-then-read";
  }
  return "?";
}

Result<Settings> parse_settings(const YAML::Node& node, std::string_view file, std::string_view path) {
  Settings settings;
  if (!node || node.IsNull()) {
    return settings;
  }
  Reader reader(file, path, settings);
  if (!node.IsMap()) {
    return reader.error(node, "", "must be a mapping of settings");
  }
  for (const auto& entry : node) {
    std::string key = entry.first.Scalar();
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      std::string known;
      for (std::string_view each : kKeys) {
        known += (known.empty() ? "" : ", ") + std::string(each);
      }
      // Points at the key's own line, so a typo is easy to find.
      return reader.error(entry.first, key, fmt::format("unknown key (known: {})", known));
    }
    if (Result<void> read = reader.read(key, entry.second); !read) {
      return std::unexpected(read.error());
    }
  }
  return settings;
}

Result<void> validate(const Settings& settings, std::string_view where) {
  auto error = [&](std::string_view key, std::string message) {
    return fail(ErrorKind::input, fmt::format("{}.{}: {}", where, key, message));
  };
  std::size_t needed = min_key_size(settings.key_prefix, settings.key_space);
  if (settings.key_size < needed) {
    return error("key_size",
                 fmt::format("must be at least {} bytes to hold key_prefix \"{}\" and key_space {}, got "
                             "\"{}\"",
                             needed, settings.key_prefix, settings.key_space, settings.key_size));
  }
  if (settings.key_size > 1024 * 1024) {
    return error("key_size", fmt::format("must be at most 1MiB, got \"{}\"", settings.key_size));
  }
  // etcd's default request size limit is 1.5 MiB.
  if (settings.value_size > 1536 * 1024) {
    return error("value_size", fmt::format("must be at most 1.5MiB (etcd's request limit), got \"{}\"",
                                           settings.value_size));
  }
  if (settings.clients < settings.connections) {
    return error("clients", fmt::format("must be >= connections ({}), got \"{}\"", settings.connections,
                                        settings.clients));
  }
  if (!settings.tls.cert_file.empty() && settings.tls.key_file.empty()) {
    return error("key", fmt::format("is required with cert \"{}\"", settings.tls.cert_file.string()));
  }
  if (!settings.tls.key_file.empty() && settings.tls.cert_file.empty()) {
    return error("cert", fmt::format("is required with key \"{}\"", settings.tls.key_file.string()));
  }
  if (settings.from == Source::control_plane_pod) {
    return {};  // the certificate paths are the control-plane node's, not this machine's
  }
  for (const auto& [name, file] :
       {std::pair<std::string_view, const std::filesystem::path&>{"cacert", settings.tls.ca_file},
        {"cert", settings.tls.cert_file},
        {"key", settings.tls.key_file}}) {
    std::error_code ignored;
    if (!file.empty() && !std::filesystem::is_regular_file(file, ignored)) {
      return error(name, fmt::format("no such file, got \"{}\"", file.string()));
    }
  }
  return {};
}

}  // namespace kp::drivers::etcd
