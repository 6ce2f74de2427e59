#include "prom/prometheus_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

namespace kp::prom {
namespace {

constexpr std::size_t kEchoLimit = 80;

// Error messages echo the offending text, shortened so one bad line cannot flood a terminal.
std::string echo(std::string_view text) {
  if (text.size() <= kEchoLimit) {
    return std::string(text);
  }
  return std::string(text.substr(0, kEchoLimit)) + "...";
}

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}
bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_left(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) {
    text.remove_prefix(1);
  }
  return text;
}

std::string_view trim(std::string_view text) {
  text = trim_left(text);
  while (!text.empty() && (is_blank(text.back()) || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// Reads a metric or label name at the front of `text`; empty when there is none.
std::string_view take_name(std::string_view& text) {
  if (text.empty() || !is_name_start(text.front())) {
    return {};
  }
  std::size_t end = 1;
  while (end < text.size() && is_name_char(text[end])) {
    ++end;
  }
  std::string_view name = text.substr(0, end);
  text.remove_prefix(end);
  return name;
}

std::string_view take_token(std::string_view& text) {
  text = trim_left(text);
  std::size_t end = 0;
  while (end < text.size() && !is_blank(text[end])) {
    ++end;
  }
  std::string_view token = text.substr(0, end);
  text.remove_prefix(end);
  return token;
}

// The format's float: Go's ParseFloat syntax, including "+Inf", "-Inf" and "NaN".
std::optional<double> parse_float(std::string_view text) {
  if (text == "+Inf" || text == "Inf" || text == "+inf" || text == "inf") {
    return std::numeric_limits<double>::infinity();
  }
  if (text == "-Inf" || text == "-inf") {
    return -std::numeric_limits<double>::infinity();
  }
  if (text == "NaN" || text == "nan") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::optional<MetricType> parse_type(std::string_view text) {
  if (text == "counter") {
    return MetricType::counter;
  }
  if (text == "gauge") {
    return MetricType::gauge;
  }
  if (text == "histogram") {
    return MetricType::histogram;
  }
  if (text == "summary") {
    return MetricType::summary;
  }
  if (text == "untyped") {
    return MetricType::untyped;
  }
  return std::nullopt;
}

// HELP text escapes: "\\" and "\n".
std::string unescape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '\\' || text[i + 1] == 'n')) {
      out.push_back(text[i + 1] == 'n' ? '\n' : '\\');
      ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

class Parser {
 public:
  Result<Exposition> parse(std::string_view text) {
    int line_number = 0;
    while (!text.empty()) {
      std::size_t newline = text.find('\n');
      std::string_view line = text.substr(0, newline);
      text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
      ++line_number;
      line_ = line_number;
      std::string_view content = trim(line);
      if (content.empty()) {
        continue;
      }
      Result<void> result = content.front() == '#' ? comment(content) : sample(content);
      if (!result) {
        return std::unexpected(result.error());
      }
    }
    return std::move(page_);
  }

 private:
  std::unexpected<Error> error(std::string message) const {
    return fail(ErrorKind::protocol, fmt::format("line {}: {}", line_, message));
  }

  Family& family_named(std::string_view name) {
    auto found = index_.find(std::string(name));
    if (found != index_.end()) {
      return page_.families[found->second];
    }
    index_.emplace(std::string(name), page_.families.size());
    page_.families.push_back(
        Family{.name = std::string(name), .type = MetricType::untyped, .help = {}, .samples = {}});
    return page_.families.back();
  }

  Result<void> comment(std::string_view content) {
    std::string_view rest = content.substr(1);
    std::string_view keyword = take_token(rest);
    if (keyword != "HELP" && keyword != "TYPE") {
      return {};  // a plain comment
    }
    rest = trim_left(rest);
    std::string_view name = take_name(rest);
    if (name.empty() || (!rest.empty() && !is_blank(rest.front()))) {
      return error(fmt::format("{} without a metric name: \"{}\"", keyword, echo(content)));
    }
    rest = trim_left(rest);
    if (keyword == "HELP") {
      family_named(name).help = unescape_help(rest);
      return {};
    }
    std::optional<MetricType> type = parse_type(rest);
    if (!type) {
      return error(fmt::format("unknown metric type \"{}\" for \"{}\"", echo(rest), name));
    }
    Family& family = family_named(name);
    if (typed_.contains(family.name)) {
      return error(fmt::format("second TYPE line for \"{}\"", name));
    }
    if (!family.samples.empty()) {
      return error(fmt::format("TYPE line for \"{}\" after its samples", name));
    }
    typed_.insert(family.name);
    family.type = *type;
    return {};
  }

  // The family a sample belongs to: histograms and summaries own their _bucket/_sum/_count series.
  Family& family_of(std::string_view sample_name) {
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (sample_name.size() > suffix.size() && sample_name.ends_with(suffix)) {
        std::string_view base = sample_name.substr(0, sample_name.size() - suffix.size());
        auto found = index_.find(std::string(base));
        if (found != index_.end()) {
          Family& family = page_.families[found->second];
          bool owns = family.type == MetricType::histogram ||
                      (family.type == MetricType::summary && suffix != "_bucket");
          if (owns) {
            return family;
          }
        }
      }
    }
    return family_named(sample_name);
  }

  Result<void> sample(std::string_view content) {
    std::string_view rest = content;
    std::string_view name = take_name(rest);
    if (name.empty()) {
      return error(fmt::format("expected a metric name, got \"{}\"", echo(content)));
    }
    Sample sample{.name = std::string(name), .labels = {}, .value = 0, .timestamp_ms = std::nullopt};
    if (!rest.empty() && rest.front() == '{') {
      rest.remove_prefix(1);
      Result<void> labels = parse_labels(rest, sample, content);
      if (!labels) {
        return labels;
      }
    }
    if (!rest.empty() && !is_blank(rest.front())) {
      return error(fmt::format("unexpected \"{}\" after the name of \"{}\"", echo(rest), name));
    }
    std::string_view value_text = take_token(rest);
    if (value_text.empty()) {
      return error(fmt::format("missing value for \"{}\"", name));
    }
    std::optional<double> value = parse_float(value_text);
    if (!value) {
      return error(fmt::format("bad sample value \"{}\" for \"{}\"", echo(value_text), name));
    }
    sample.value = *value;
    std::string_view timestamp_text = take_token(rest);
    if (!timestamp_text.empty()) {
      std::int64_t timestamp = 0;
      auto [end, ec] =
          std::from_chars(timestamp_text.data(), timestamp_text.data() + timestamp_text.size(), timestamp);
      if (ec != std::errc{} || end != timestamp_text.data() + timestamp_text.size()) {
        return error(fmt::format("bad timestamp \"{}\" for \"{}\"", echo(timestamp_text), name));
      }
      sample.timestamp_ms = timestamp;
    }
    if (!trim(rest).empty()) {
      return error(fmt::format("unexpected \"{}\" after the sample of \"{}\"", echo(trim(rest)), name));
    }
    family_of(name).samples.push_back(std::move(sample));
    return {};
  }

  // After the '{': label="value" pairs separated by commas (a trailing comma is allowed), then '}'.
  Result<void> parse_labels(std::string_view& rest, Sample& sample, std::string_view content) {
    while (true) {
      rest = trim_left(rest);
      if (!rest.empty() && rest.front() == '}') {
        rest.remove_prefix(1);
        return {};
      }
      std::string_view label = take_name(rest);
      if (label.empty()) {
        return error(fmt::format("expected a label name in \"{}\"", echo(content)));
      }
      rest = trim_left(rest);
      if (rest.empty() || rest.front() != '=') {
        return error(fmt::format("expected '=' after label \"{}\" in \"{}\"", label, echo(content)));
      }
      rest.remove_prefix(1);
      rest = trim_left(rest);
      if (rest.empty() || rest.front() != '"') {
        return error(fmt::format("expected a quoted value for label \"{}\" in \"{}\"", label, echo(content)));
      }
      rest.remove_prefix(1);
      std::string value;
      bool closed = false;
      while (!rest.empty()) {
        char c = rest.front();
        rest.remove_prefix(1);
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (rest.empty()) {
            break;
          }
          char escaped = rest.front();
          rest.remove_prefix(1);
          if (escaped == 'n') {
            value.push_back('\n');
          } else if (escaped == '\\' || escaped == '"') {
            value.push_back(escaped);
          } else {
            return error(
                fmt::format("bad escape \"\\{}\" in label \"{}\" of \"{}\"", escaped, label, echo(content)));
          }
          continue;
        }
        value.push_back(c);
      }
      if (!closed) {
        return error(fmt::format("unterminated value of label \"{}\" in \"{}\"", label, echo(content)));
      }
      for (const Label& existing : sample.labels) {
        if (existing.first == label) {
          return error(fmt::format("duplicate label \"{}\" in \"{}\"", label, echo(content)));
        }
      }
      sample.labels.emplace_back(std::string(label), std::move(value));
      rest = trim_left(rest);
      if (!rest.empty() && rest.front() == ',') {
        rest.remove_prefix(1);
        continue;
      }
      if (!rest.empty() && rest.front() == '}') {
        continue;
      }
      return error(fmt::format("unterminated label set in \"{}\"", echo(content)));
    }
  }

  Exposition page_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::set<std::string, std::less<>> typed_;
  int line_ = 0;
};

bool matches(const Sample& sample, const Labels& match) {
  for (const auto& [name, value] : match) {
    std::optional<std::string_view> actual = sample.label(name);
    if (!actual || *actual != value) {
      return false;
    }
  }
  return true;
}

std::string describe(std::string_view family, const Labels& match) {
  if (match.empty()) {
    return fmt::format("\"{}\"", family);
  }
  std::string labels;
  for (const auto& [name, value] : match) {
    labels += fmt::format("{}{}=\"{}\"", labels.empty() ? "" : ",", name, value);
  }
  return fmt::format("\"{}{{{}}}\"", family, labels);
}

}  // namespace

std::string_view to_string(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
    case MetricType::summary:
      return "summary";
    case MetricType::untyped:
      return "untyped";
  }
  return "?";
}

std::optional<std::string_view> Sample::label(std::string_view wanted) const {
  for (const auto& [name, value] : labels) {
    if (name == wanted) {
      return value;
    }
  }
  return std::nullopt;
}

const Family* Exposition::find(std::string_view name) const {
  for (const Family& family : families) {
    if (family.name == name) {
      return &family;
    }
  }
  return nullptr;
}

Result<Exposition> parse_text(std::string_view text) {
  return Parser().parse(text);
}

Result<HistogramSnapshot> histogram(const Exposition& page, std::string_view family_name,
                                    const Labels& match) {
  const Family* family = page.find(family_name);
  if (family == nullptr) {
    return fail(ErrorKind::protocol, fmt::format("no metric {} on the page", describe(family_name, match)));
  }
  if (family->type != MetricType::histogram) {
    return fail(ErrorKind::protocol,
                fmt::format("\"{}\" is a {}, not a histogram", family_name, to_string(family->type)));
  }
  std::string bucket_name = std::string(family_name) + "_bucket";
  std::string sum_name = std::string(family_name) + "_sum";
  std::string count_name = std::string(family_name) + "_count";
  std::map<double, double> buckets;  // upper bound -> cumulative count, summed over matching series
  HistogramSnapshot snapshot;
  bool any = false;
  for (const Sample& sample : family->samples) {
    if (!matches(sample, match)) {
      continue;
    }
    any = true;
    if (sample.name == bucket_name) {
      std::optional<std::string_view> le = sample.label("le");
      if (!le) {
        return fail(ErrorKind::protocol,
                    fmt::format("histogram \"{}\" has a bucket without an \"le\" label", family_name));
      }
      std::optional<double> bound = parse_float(*le);
      if (!bound || std::isnan(*bound)) {
        return fail(ErrorKind::protocol,
                    fmt::format("histogram \"{}\" has a bucket with a bad \"le\" value \"{}\"", family_name,
                                echo(*le)));
      }
      buckets[*bound] += sample.value;
    } else if (sample.name == sum_name) {
      snapshot.sum += sample.value;
    } else if (sample.name == count_name) {
      snapshot.count += sample.value;
    }
  }
  if (!any) {
    return fail(ErrorKind::protocol, fmt::format("no metric {} on the page", describe(family_name, match)));
  }
  if (buckets.empty() || !std::isinf(buckets.rbegin()->first)) {
    return fail(ErrorKind::protocol, fmt::format("histogram \"{}\" has no +Inf bucket", family_name));
  }
  for (const auto& [bound, count] : buckets) {
    snapshot.buckets.push_back(Bucket{.upper_bound = bound, .cumulative_count = count});
  }
  return snapshot;
}

Result<double> scalar(const Exposition& page, std::string_view family_name, const Labels& match) {
  const Family* family = page.find(family_name);
  if (family == nullptr) {
    return fail(ErrorKind::protocol, fmt::format("no metric {} on the page", describe(family_name, match)));
  }
  if (family->type == MetricType::histogram || family->type == MetricType::summary) {
    return fail(ErrorKind::protocol,
                fmt::format("\"{}\" is a {}, not a counter or gauge", family_name, to_string(family->type)));
  }
  double total = 0;
  bool any = false;
  for (const Sample& sample : family->samples) {
    if (sample.name == family_name && matches(sample, match)) {
      total += sample.value;
      any = true;
    }
  }
  if (!any) {
    return fail(ErrorKind::protocol, fmt::format("no metric {} on the page", describe(family_name, match)));
  }
  return total;
}

Result<HistogramSnapshot> difference(const HistogramSnapshot& after, const HistogramSnapshot& before) {
  if (after.buckets.size() != before.buckets.size()) {
    return fail(ErrorKind::protocol,
                fmt::format("histogram buckets changed between scrapes ({} then {} buckets)",
                            before.buckets.size(), after.buckets.size()));
  }
  HistogramSnapshot diff;
  diff.sum = after.sum - before.sum;
  diff.count = after.count - before.count;
  for (std::size_t i = 0; i < after.buckets.size(); ++i) {
    if (after.buckets[i].upper_bound != before.buckets[i].upper_bound) {
      return fail(ErrorKind::protocol,
                  fmt::format("histogram buckets changed between scrapes (le {} then {})",
                              before.buckets[i].upper_bound, after.buckets[i].upper_bound));
    }
    double delta = after.buckets[i].cumulative_count - before.buckets[i].cumulative_count;
    if (delta < 0) {
      return fail(
          ErrorKind::protocol,
          fmt::format(
              "histogram counts went down between scrapes (le {}: {} then {}); did the server restart?",
              after.buckets[i].upper_bound, before.buckets[i].cumulative_count,
              after.buckets[i].cumulative_count));
    }
    diff.buckets.push_back(Bucket{.upper_bound = after.buckets[i].upper_bound, .cumulative_count = delta});
  }
  if (diff.count < 0) {
    return fail(ErrorKind::protocol, "histogram count went down between scrapes; did the server restart?");
  }
  return diff;
}

double histogram_quantile(double q, std::vector<Bucket> buckets) {
  if (std::isnan(q)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (q < 0) {
    return -std::numeric_limits<double>::infinity();
  }
  if (q > 1) {
    return std::numeric_limits<double>::infinity();
  }
  std::sort(buckets.begin(), buckets.end(),
            [](const Bucket& a, const Bucket& b) { return a.upper_bound < b.upper_bound; });
  if (buckets.empty() || !std::isinf(buckets.back().upper_bound) || buckets.back().upper_bound < 0) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  // Merge buckets with the same bound (they come from series that differ only in labels).
  std::vector<Bucket> merged;
  for (const Bucket& bucket : buckets) {
    if (!merged.empty() && merged.back().upper_bound == bucket.upper_bound) {
      merged.back().cumulative_count += bucket.cumulative_count;
    } else {
      merged.push_back(bucket);
    }
  }
  // Scrapes are not atomic, so cumulative counts can dip; PromQL raises them to the running maximum.
  double running = 0;
  for (Bucket& bucket : merged) {
    running = std::max(running, bucket.cumulative_count);
    bucket.cumulative_count = running;
  }
  if (merged.size() < 2) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  double observations = merged.back().cumulative_count;
  if (observations == 0) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  double rank = q * observations;
  // The first bucket (the +Inf one excluded from the search) whose count reaches the rank.
  std::size_t b = 0;
  while (b < merged.size() - 1 && merged[b].cumulative_count < rank) {
    ++b;
  }
  if (b == merged.size() - 1) {
    return merged[merged.size() - 2].upper_bound;
  }
  if (b == 0 && merged[0].upper_bound <= 0) {
    return merged[0].upper_bound;
  }
  double bucket_start = 0;
  double bucket_end = merged[b].upper_bound;
  double count = merged[b].cumulative_count;
  if (b > 0) {
    bucket_start = merged[b - 1].upper_bound;
    count -= merged[b - 1].cumulative_count;
    rank -= merged[b - 1].cumulative_count;
  }
  return bucket_start + (bucket_end - bucket_start) * (rank / count);
}

}  // namespace kp::prom
