#pragma once

// Reading user YAML into typed values with messages people can act on: every error names the file and line,
// the field path as the user wrote it ("phases[2].load") and echoes the bad value:
//   plans/x.yaml:14: phases[2].load: must be within 70%..100% for a load test, got "50%"
// yaml-cpp reports problems by throwing; nothing declared here lets an exception out.
// Plans and criteria use it; phase drivers use it to validate their `settings` (see PhasePlan::path).

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/units.hpp"

namespace kp::config {

// A YAML node together with where it is: the file name as the user gave it, the field path and the line.
class YamlField {
 public:
  // `line` is 1-based; 0 takes the node's own mark (and stays 0 when yaml-cpp has none).
  YamlField(YAML::Node node, std::string file, std::string path, int line = 0);

  const YAML::Node& node() const { return node_; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  int line() const { return line_; }

  bool is_null() const;
  bool is_scalar() const;
  bool is_map() const;
  bool is_list() const;

  // The scalar as written ("500ms"); empty for anything else.
  std::string text() const;
  // What an error echoes after "got": `"500ms"` for a scalar, `a mapping`, `a list` or `nothing`.
  std::string echo() const;

  // "file:line: path: message"
  std::unexpected<Error> fail(std::string_view message) const;
  // "file:line: path: message, got "value""
  std::unexpected<Error> fail_got(std::string_view message) const;

  // The elements of a list, with paths "path[0]", "path[1]", ...; fails unless this is a list.
  Result<std::vector<YamlField>> items() const;

 private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
  int line_ = 0;
};

// A mapping whose keys were checked: no unknown key, no key twice, every key a plain string.
class YamlMap {
 public:
  // Fails when `field` is not a mapping, or has a key that is not in `allowed` (the message lists them) or a
  // key twice.
  static Result<YamlMap> open(const YamlField& field, std::initializer_list<std::string_view> allowed);
  // Any key is allowed (user-chosen names such as tier names); duplicates are still errors.
  static Result<YamlMap> open_any(const YamlField& field);

  const YamlField& field() const { return field_; }
  // The value of `key`; its line is the key's line, its path "<map path>.<key>".
  std::optional<YamlField> get(std::string_view key) const;
  // Like get, but a missing key is an error: "file:line: path: missing key "target"".
  Result<YamlField> require(std::string_view key) const;
  // Every entry in file order.
  const std::vector<std::pair<std::string, YamlField>>& entries() const { return entries_; }

 private:
  explicit YamlMap(YamlField field) : field_(std::move(field)) {}

  YamlField field_;
  std::vector<std::pair<std::string, YamlField>> entries_;
};

// Parses YAML text into the root field (path ""). A syntax error becomes "file:line: <yaml-cpp's message>".
Result<YamlField> parse_yaml(std::string_view text, const std::string& name_for_errors);

// Reads a whole file; a missing or unreadable file gives "file: cannot read: <reason>" (ErrorKind::input).
Result<std::string> read_text_file(const std::string& file);

// Typed readers. Each fails with the field's location and echoes the value.
Result<std::string> read_string(const YamlField& field);  // a non-empty scalar
Result<bool> read_bool(const YamlField& field);           // true | false
// One of `choices`: "must be one of: a, b, c, got "d"".
Result<std::string> read_choice(const YamlField& field, std::initializer_list<std::string_view> choices);
// A value with units in the quantity's base unit ("not a duration, got "fast"").
Result<double> read_quantity(const YamlField& field, Quantity quantity);
Result<Duration> read_duration(const YamlField& field);
Result<Rate> read_rate(const YamlField& field);
Result<Bandwidth> read_bandwidth(const YamlField& field);
Result<Ratio> read_ratio(const YamlField& field);

}  // namespace kp::config
