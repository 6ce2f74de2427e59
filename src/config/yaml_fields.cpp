#include "config/yaml_fields.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace kp::config {
namespace {

// yaml-cpp marks are 0-based and -1 when unknown.
int line_of(const YAML::Node& node) {
  try {
    const int line = node.Mark().line;
    return line >= 0 ? line + 1 : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

std::string location(const std::string& file, int line) {
  return line > 0 ? fmt::format("{}:{}: ", file, line) : fmt::format("{}: ", file);
}

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (std::string_view word : words) {
    if (!out.empty()) {
      out += ", ";
    }
    out += word;
  }
  return out;
}

std::string_view quantity_noun(Quantity quantity) {
  switch (quantity) {
    case Quantity::duration:
      return "a duration";
    case Quantity::rate:
      return "a rate";
    case Quantity::ratio:
      return "a ratio";
    case Quantity::bandwidth:
      return "a bandwidth";
    case Quantity::count:
      return "a count";
    case Quantity::size:
      return "a size";
  }
  return "a value";
}

// The unit parsers explain what they expected (`not a duration: "fast" (use e.g. 250us, 1.5s, 2m)`); that
// hint is worth keeping after our own "got" echo. Empty when the message does not have that shape.
std::string hint_of(const Error& error, std::string_view text) {
  const std::string quoted = fmt::format("\"{}\" (", text);
  const std::size_t at = error.message.find(quoted);
  if (at == std::string::npos || error.message.empty() || error.message.back() != ')') {
    return {};
  }
  return " " + error.message.substr(at + quoted.size() - 1);
}

std::unexpected<Error> fail_unit(const YamlField& field, Quantity quantity, const Error& error) {
  return field.fail(
      fmt::format("not {}, got {}{}", quantity_noun(quantity), field.echo(), hint_of(error, field.text())));
}

// Scalars only: a unit parser must never see "a mapping" as text.
Result<std::string> scalar_for(const YamlField& field, Quantity quantity) {
  if (!field.is_scalar()) {
    return field.fail_got(fmt::format("not {}", quantity_noun(quantity)));
  }
  return field.text();
}

}  // namespace

YamlField::YamlField(YAML::Node node, std::string file, std::string path, int line)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)), line_(line) {
  if (line_ <= 0) {
    line_ = line_of(node_);
  }
}

bool YamlField::is_null() const {
  return !node_.IsDefined() || node_.IsNull();
}
bool YamlField::is_scalar() const {
  return node_.IsDefined() && node_.IsScalar();
}
bool YamlField::is_map() const {
  return node_.IsDefined() && node_.IsMap();
}
bool YamlField::is_list() const {
  return node_.IsDefined() && node_.IsSequence();
}

std::string YamlField::text() const {
  return is_scalar() ? node_.Scalar() : std::string();
}

std::string YamlField::echo() const {
  if (is_scalar()) {
    return fmt::format("\"{}\"", node_.Scalar());
  }
  if (is_map()) {
    return "a mapping";
  }
  if (is_list()) {
    return "a list";
  }
  return "nothing";
}

std::unexpected<Error> YamlField::fail(std::string_view message) const {
  std::string text = location(file_, line_);
  if (!path_.empty()) {
    text += path_;
    text += ": ";
  }
  text += message;
  return std::unexpected(Error{ErrorKind::input, std::move(text)});
}

std::unexpected<Error> YamlField::fail_got(std::string_view message) const {
  return fail(fmt::format("{}, got {}", message, echo()));
}

Result<std::vector<YamlField>> YamlField::items() const {
  if (!is_list()) {
    return fail_got("must be a list");
  }
  std::vector<YamlField> out;
  out.reserve(node_.size());
  for (std::size_t index = 0; index < node_.size(); ++index) {
    out.emplace_back(node_[index], file_, fmt::format("{}[{}]", path_, index));
  }
  return out;
}

Result<YamlMap> YamlMap::open_any(const YamlField& field) {
  if (!field.is_map()) {
    return field.fail_got("must be a mapping");
  }
  YamlMap map(field);
  for (auto entry : field.node()) {
    const YamlField key(entry.first, field.file(), field.path());
    if (!key.is_scalar() || key.text().empty()) {
      return key.fail_got("keys must be plain names");
    }
    const std::string name = key.text();
    for (const auto& [seen, value] : map.entries_) {
      if (seen == name) {
        return key.fail(fmt::format("duplicate key \"{}\"", name));
      }
    }
    const std::string path = field.path().empty() ? name : fmt::format("{}.{}", field.path(), name);
    // The key's line: yaml-cpp marks an empty value on the line after it, and a nested block starts below it.
    map.entries_.emplace_back(name, YamlField(entry.second, field.file(), path, key.line()));
  }
  return map;
}

Result<YamlMap> YamlMap::open(const YamlField& field, std::initializer_list<std::string_view> allowed) {
  auto map = open_any(field);
  if (!map) {
    return map;
  }
  for (const auto& [name, value] : map->entries()) {
    bool known = false;
    for (std::string_view candidate : allowed) {
      known = known || candidate == name;
    }
    if (!known) {
      const YamlField at_key(YAML::Node(), field.file(), field.path(), value.line());
      return at_key.fail(fmt::format("unknown key \"{}\" (expected one of: {})", name, join(allowed)));
    }
  }
  return map;
}

std::optional<YamlField> YamlMap::get(std::string_view key) const {
  for (const auto& [name, value] : entries_) {
    if (name == key) {
      return value;
    }
  }
  return std::nullopt;
}

Result<YamlField> YamlMap::require(std::string_view key) const {
  if (auto value = get(key)) {
    return *value;
  }
  return field_.fail(fmt::format("missing key \"{}\"", key));
}

Result<YamlField> parse_yaml(std::string_view text, const std::string& name_for_errors) {
  try {
    return YamlField(YAML::Load(std::string(text)), name_for_errors, "");
  } catch (const YAML::Exception& error) {
    const int line = error.mark.line >= 0 ? error.mark.line + 1 : 0;
    return fail(ErrorKind::input, location(name_for_errors, line) + error.msg);
  } catch (const std::exception& error) {
    return fail(ErrorKind::input, location(name_for_errors, 0) + error.what());
  }
}

Result<std::string> read_text_file(const std::string& file) {
  // stdio rather than iostreams: errno then names the reason ("No such file or directory").
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!stream) {
    return fail(ErrorKind::input, fmt::format("{}: cannot read: {}", file, std::strerror(errno)));
  }
  std::string text;
  char buffer[8192];
  while (true) {
    const std::size_t got = std::fread(buffer, 1, sizeof buffer, stream.get());
    text.append(buffer, got);
    if (got < sizeof buffer) {
      break;
    }
  }
  if (std::ferror(stream.get()) != 0) {
    return fail(ErrorKind::input, fmt::format("{}: cannot read: {}", file, std::strerror(errno)));
  }
  return text;
}

Result<std::string> read_string(const YamlField& field) {
  if (!field.is_scalar() || field.text().empty()) {
    return field.fail_got("must be a non-empty string");
  }
  return field.text();
}

Result<bool> read_bool(const YamlField& field) {
  const std::string text = field.text();
  if (field.is_scalar() && text == "true") {
    return true;
  }
  if (field.is_scalar() && text == "false") {
    return false;
  }
  return field.fail_got("must be true or false");
}

Result<std::string> read_choice(const YamlField& field, std::initializer_list<std::string_view> choices) {
  if (field.is_scalar()) {
    for (std::string_view choice : choices) {
      if (field.text() == choice) {
        return std::string(choice);
      }
    }
  }
  return field.fail_got(fmt::format("must be one of: {}", join(choices)));
}

Result<double> read_quantity(const YamlField& field, Quantity quantity) {
  auto text = scalar_for(field, quantity);
  if (!text) {
    return std::unexpected(text.error());
  }
  auto value = parse_quantity(quantity, *text);
  if (!value) {
    return fail_unit(field, quantity, value.error());
  }
  return *value;
}

Result<Duration> read_duration(const YamlField& field) {
  auto text = scalar_for(field, Quantity::duration);
  if (!text) {
    return std::unexpected(text.error());
  }
  auto value = parse_duration(*text);
  if (!value) {
    return fail_unit(field, Quantity::duration, value.error());
  }
  return *value;
}

Result<Rate> read_rate(const YamlField& field) {
  auto text = scalar_for(field, Quantity::rate);
  if (!text) {
    return std::unexpected(text.error());
  }
  auto value = parse_rate(*text);
  if (!value) {
    return fail_unit(field, Quantity::rate, value.error());
  }
  return *value;
}

Result<Bandwidth> read_bandwidth(const YamlField& field) {
  auto text = scalar_for(field, Quantity::bandwidth);
  if (!text) {
    return std::unexpected(text.error());
  }
  auto value = parse_bandwidth(*text);
  if (!value) {
    return fail_unit(field, Quantity::bandwidth, value.error());
  }
  return *value;
}

Result<Ratio> read_ratio(const YamlField& field) {
  auto text = scalar_for(field, Quantity::ratio);
  if (!text) {
    return std::unexpected(text.error());
  }
  auto value = parse_ratio(*text);
  if (!value) {
    return fail_unit(field, Quantity::ratio, value.error());
  }
  return *value;
}

}  // namespace kp::config
