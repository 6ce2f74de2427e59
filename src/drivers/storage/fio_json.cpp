#include "drivers/storage/fio_json.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kp::drivers::storage {
namespace {

using Json = nlohmann::json;

std::unexpected<Error> protocol_error(std::string message) {
  return fail(ErrorKind::protocol, std::move(message));
}

// nlohmann's messages start with "[json.exception.parse_error.101] parse error at line 3, column 1: "; the
// part after the position is what a person needs.
std::string short_reason(std::string_view what) {
  if (const std::size_t colon = what.find(": "); colon != std::string_view::npos) {
    what.remove_prefix(colon + 2);
  }
  return std::string(what);
}

// Replays the text through nlohmann's SAX interface only to say *where* it broke: the job being read (fio's
// jobname, seen before the break) and the field path inside it.
class Locator final : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_unsigned(number_unsigned_t) override { return scalar(); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool string(string_t& value) override {
    if (stack_.size() == 3 && stack_[0].key == "jobs" && stack_[1].array && stack_[2].key == "jobname") {
      job_names_[static_cast<std::size_t>(stack_[1].index)] = value;
    }
    return scalar();
  }
  bool start_object(std::size_t) override {
    element();
    stack_.push_back(Frame{});
    return true;
  }
  bool key(string_t& value) override {
    stack_.back().key = value;
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    value_done();
    return true;
  }
  bool start_array(std::size_t) override {
    element();
    stack_.push_back(Frame{.array = true, .index = -1, .key = {}});
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    value_done();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& error) override {
    // nlohmann counts the offending character (or the end of input) as read: the offset is one less.
    position_ = position > 0 ? position - 1 : 0;
    reason_ = short_reason(error.what());
    return false;
  }

  std::size_t position() const { return position_; }
  const std::string& reason() const { return reason_; }

  // `inside jobs[1] "randwrite-4k" at write.clat_ns.percentile`, or `at jobs` outside a job.
  std::string where() const {
    std::size_t first = 0;
    std::string out;
    if (stack_.size() >= 2 && stack_[0].key == "jobs" && stack_[1].array && stack_[1].index >= 0) {
      const auto index = static_cast<std::size_t>(stack_[1].index);
      auto name = job_names_.find(index);
      out = name != job_names_.end() ? fmt::format("inside jobs[{}] \"{}\"", index, name->second)
                                     : fmt::format("inside jobs[{}]", index);
      first = 2;
    }
    std::string path;
    for (std::size_t i = first; i < stack_.size(); ++i) {
      if (stack_[i].array) {
        path += stack_[i].index >= 0 ? fmt::format("[{}]", stack_[i].index) : "";
      } else if (!stack_[i].key.empty()) {
        path += (path.empty() ? "" : ".") + stack_[i].key;
      }
    }
    if (!path.empty()) {
      out += (out.empty() ? "at " : " at ") + path;
    }
    return out;
  }

 private:
  struct Frame {
    bool array = false;
    std::int64_t index = -1;  // arrays: the element being read
    std::string key;          // objects: the last key read
  };

  // A value starts: in a list it is the next element.
  bool element() {
    if (!stack_.empty() && stack_.back().array) {
      ++stack_.back().index;
    }
    return true;
  }
  // A value ended: its key no longer describes where the parser is.
  void value_done() {
    if (!stack_.empty() && !stack_.back().array) {
      stack_.back().key.clear();
    }
  }
  bool scalar() {
    element();
    value_done();
    return true;
  }

  std::vector<Frame> stack_;
  std::map<std::size_t, std::string> job_names_;
  std::size_t position_ = 0;
  std::string reason_;
};

// What an error echoes for a value of the wrong kind: its JSON, shortened.
std::string echo(const Json& value) {
  std::string text = value.dump();
  if (text.size() > 40) {
    text = text.substr(0, 37) + "...";
  }
  return text;
}

// Reads fields of one object; messages are "<source>: <job>: <prefix><key>: <problem>".
class Fields {
 public:
  Fields(std::string_view source, std::string job, std::string prefix)
      : source_(source), job_(std::move(job)), prefix_(std::move(prefix)) {}

  std::unexpected<Error> error(std::string_view key, std::string_view problem) const {
    std::string field = prefix_ + std::string(key);
    if (field.empty()) {
      return protocol_error(fmt::format("{}: {}: {}", source_, job_, problem));
    }
    if (job_.empty()) {
      return protocol_error(fmt::format("{}: {}: {}", source_, field, problem));
    }
    return protocol_error(fmt::format("{}: {}: {}: {}", source_, job_, field, problem));
  }

  Fields nested(std::string_view key) const {
    return Fields(source_, job_, prefix_ + std::string(key) + ".");
  }

  Result<const Json*> member(const Json& object, std::string_view key) const {
    auto found = object.find(key);
    if (found == object.end()) {
      return error(key, "missing");
    }
    return &*found;
  }

  Result<const Json*> object(const Json& parent, std::string_view key) const {
    Result<const Json*> value = member(parent, key);
    if (value && !(*value)->is_object()) {
      return error(key, fmt::format("must be an object, got {}", echo(**value)));
    }
    return value;
  }

  Result<double> number(const Json& parent, std::string_view key) const {
    Result<const Json*> value = member(parent, key);
    if (!value) {
      return std::unexpected(value.error());
    }
    if (!(*value)->is_number() || !std::isfinite((*value)->get<double>())) {
      return error(key, fmt::format("must be a number, got {}", echo(**value)));
    }
    return (*value)->get<double>();
  }

  Result<std::uint64_t> count(const Json& parent, std::string_view key) const {
    Result<double> value = number(parent, key);
    if (!value) {
      return std::unexpected(value.error());
    }
    // 2^64 is exact as a double; anything at or above it would overflow the cast.
    if (*value < 0 || *value != std::floor(*value) || *value >= 18446744073709551616.0) {
      return error(key, fmt::format("must be a whole number >= 0, got {}", echo(parent.at(key))));
    }
    return static_cast<std::uint64_t>(*value);
  }

  // fio's job error is an errno: a whole number that fits an int.
  Result<int> error_code(const Json& parent, std::string_view key) const {
    Result<double> value = number(parent, key);
    if (!value) {
      return std::unexpected(value.error());
    }
    if (*value != std::floor(*value) || *value < std::numeric_limits<int>::min() ||
        *value > std::numeric_limits<int>::max()) {
      return error(key, fmt::format("must be an error number, got {}", echo(parent.at(key))));
    }
    return static_cast<int>(*value);
  }

 private:
  std::string_view source_;
  std::string job_;
  std::string prefix_;
};

std::optional<double> parse_double(std::string_view text) {
  double value = 0;
  auto [end, code] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (code != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// A status dump's jobs need their bins only (fio_series.hpp); the final document's also the Histogram.
enum class Detail { result, status };

Result<LatencyStats> read_latency(const Json& object, const Fields& fields, Detail detail) {
  LatencyStats stats;
  Result<std::uint64_t> samples = fields.count(object, "N");
  if (!samples) {
    return std::unexpected(samples.error());
  }
  stats.samples = *samples;
  for (auto [key, target] : {std::pair<std::string_view, double*>{"min", &stats.min_ns},
                             {"max", &stats.max_ns},
                             {"mean", &stats.mean_ns}}) {
    Result<double> value = fields.number(object, key);
    if (!value) {
      return std::unexpected(value.error());
    }
    *target = *value;
  }
  if (auto percentiles = object.find("percentile"); percentiles != object.end()) {
    if (!percentiles->is_object()) {
      return fields.error("percentile", fmt::format("must be an object, got {}", echo(*percentiles)));
    }
    for (const auto& [key, value] : percentiles->items()) {
      std::optional<double> percent = parse_double(key);
      if (!percent || *percent < 0 || *percent > 100) {
        return fields.error("percentile", fmt::format("key must be a percentage, got \"{}\"", key));
      }
      if (!value.is_number() || value.get<double>() < 0) {
        return fields.error(fmt::format("percentile[\"{}\"]", key),
                            fmt::format("must be a number >= 0, got {}", echo(value)));
      }
      stats.percentiles.emplace_back(*percent, value.get<double>());
    }
    std::ranges::sort(stats.percentiles);
  }
  if (auto bins = object.find("bins"); bins != object.end()) {
    if (!bins->is_object()) {
      return fields.error("bins", fmt::format("must be an object, got {}", echo(*bins)));
    }
    Histogram histogram;
    // Their sum is the histogram's count: past 2^64 it would wrap, and the exact sum of values overflow.
    std::uint64_t binned = 0;
    for (const auto& [key, value] : bins->items()) {
      std::int64_t ns = 0;
      auto [end, code] = std::from_chars(key.data(), key.data() + key.size(), ns);
      if (code != std::errc{} || end != key.data() + key.size() || ns < 0) {
        return fields.error("bins", fmt::format("key must be a latency in ns, got \"{}\"", key));
      }
      if (!value.is_number_unsigned()) {
        return fields.error(fmt::format("bins[\"{}\"]", key),
                            fmt::format("must be a count, got {}", echo(value)));
      }
      if (__builtin_add_overflow(binned, value.get<std::uint64_t>(), &binned)) {
        return fields.error("bins", "the counts add up to more than 2^64");
      }
      if (detail == Detail::result) {
        histogram.record(ns, value.get<std::uint64_t>());
      }
      stats.bins.emplace_back(ns, value.get<std::uint64_t>());
    }
    std::ranges::sort(stats.bins);
    if (detail == Detail::result) {
      stats.histogram = std::move(histogram);
    }
  }
  return stats;
}

Result<DirectionStats> read_direction(const Json& job, std::string_view key, const Fields& job_fields,
                                      Detail detail) {
  Result<const Json*> object = job_fields.object(job, key);
  if (!object) {
    return std::unexpected(object.error());
  }
  const Fields fields = job_fields.nested(key);
  DirectionStats stats;
  for (auto [name, target] : {std::pair<std::string_view, std::uint64_t*>{"io_bytes", &stats.io_bytes},
                              {"total_ios", &stats.total_ios},
                              {"runtime", &stats.runtime_ms}}) {
    Result<std::uint64_t> value = fields.count(**object, name);
    if (!value) {
      return std::unexpected(value.error());
    }
    *target = *value;
  }
  for (auto [name, target] :
       {std::pair<std::string_view, double*>{"iops", &stats.iops}, {"bw_bytes", &stats.bw_bytes}}) {
    Result<double> value = fields.number(**object, name);
    if (!value) {
      return std::unexpected(value.error());
    }
    *target = *value;
  }
  if (!(*object)->contains("clat_ns") && (*object)->contains("clat")) {
    return fields.error("clat_ns",
                        "missing (this looks like fio 2.x output; kubeproof needs fio 3 or newer)");
  }
  Result<const Json*> clat = fields.object(**object, "clat_ns");
  if (!clat) {
    return std::unexpected(clat.error());
  }
  Result<LatencyStats> latency = read_latency(**clat, fields.nested("clat_ns"), detail);
  if (!latency) {
    return std::unexpected(latency.error());
  }
  stats.clat = std::move(*latency);
  return stats;
}

Result<FioJobResult> read_job(const Json& job, std::size_t index, std::string_view source, Detail detail) {
  const Fields anonymous(source, fmt::format("jobs[{}]", index), "");
  if (!job.is_object()) {
    return anonymous.error("", fmt::format("must be an object, got {}", echo(job)));
  }
  FioJobResult result;
  result.index = index;
  Result<const Json*> name = anonymous.member(job, "jobname");
  if (!name) {
    return std::unexpected(name.error());
  }
  if (!(*name)->is_string() || (*name)->get<std::string>().empty()) {
    return anonymous.error("jobname", fmt::format("must be a non-empty string, got {}", echo(**name)));
  }
  result.name = (*name)->get<std::string>();
  const Fields fields(source, job_label(result), "");
  Result<int> error = fields.error_code(job, "error");
  if (!error) {
    return std::unexpected(error.error());
  }
  result.error = *error;
  Result<DirectionStats> read = read_direction(job, "read", fields, detail);
  if (!read) {
    return std::unexpected(read.error());
  }
  result.read = std::move(*read);
  Result<DirectionStats> write = read_direction(job, "write", fields, detail);
  if (!write) {
    return std::unexpected(write.error());
  }
  result.write = std::move(*write);
  if (auto sync = job.find("sync"); sync != job.end()) {
    const Fields sync_fields = fields.nested("sync");
    if (!sync->is_object()) {
      return fields.error("sync", fmt::format("must be an object, got {}", echo(*sync)));
    }
    Result<const Json*> latency_object = sync_fields.object(*sync, "lat_ns");
    if (!latency_object) {
      return std::unexpected(latency_object.error());
    }
    Result<LatencyStats> latency = read_latency(**latency_object, sync_fields.nested("lat_ns"), detail);
    if (!latency) {
      return std::unexpected(latency.error());
    }
    result.sync = std::move(*latency);
  }
  return result;
}

}  // namespace

std::optional<double> LatencyStats::percentile_ns(double percent) const {
  for (const auto& [at, value] : percentiles) {
    // fio prints six decimals ("99.000000"), so equality within a rounding step is exact enough.
    if (std::fabs(at - percent) < 1e-6) {
      return value;
    }
  }
  return std::nullopt;
}

const FioJobResult* FioOutput::find(std::string_view name) const {
  for (const FioJobResult& job : jobs) {
    if (job.name == name) {
      return &job;
    }
  }
  return nullptr;
}

std::string job_label(const FioJobResult& job) {
  return fmt::format("jobs[{}] \"{}\"", job.index, job.name);
}

namespace {

// Where the documents are: fio's JSON documents start with '{' at the start of a line; anything else at the
// top level is one of its lines. A document that never closes (fio killed while writing) is the last one.
struct Split {
  std::vector<std::pair<std::size_t, std::size_t>> documents;  // [begin, end) of each, in order
  bool last_cut_short = false;                                 // the last one never closed
  std::vector<std::string> messages;
};

Split split_documents(std::string_view text) {
  Split out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t first = text.find_first_not_of(" \t\r", start);
    if (first != std::string_view::npos && text[first] == '{') {
      // Scan to the brace that closes it, minding strings (a job name may hold a brace).
      int depth = 0;
      bool in_string = false;
      bool escaped = false;
      std::size_t i = first;
      for (; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
          if (escaped) {
            escaped = false;
          } else if (c == '\\') {
            escaped = true;
          } else if (c == '"') {
            in_string = false;
          }
          continue;
        }
        if (c == '"') {
          in_string = true;
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if (c == '}' || c == ']') {
          if (--depth == 0) {
            break;
          }
        }
      }
      if (i >= text.size()) {
        out.documents.emplace_back(first, text.size());
        out.last_cut_short = true;
        return out;
      }
      out.documents.emplace_back(first, i + 1);
      start = i + 1;
      continue;
    }
    std::size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end;
    std::string_view line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    if (!line.empty()) {
      out.messages.emplace_back(line);
    }
    start = end + 1;
  }
  return out;
}

struct Document {
  std::string fio_version;
  std::int64_t timestamp_ms = 0;
  std::vector<FioJobResult> jobs;
};

// One document that parsed as JSON: its version, timestamp and jobs.
Result<Document> read_document(const Json& root, std::string_view source, Detail detail) {
  Document out;
  // Every document starts with '{', so one that parsed is an object.
  const Fields top(source, "", "");
  if (auto version = root.find("fio version"); version != root.end() && version->is_string()) {
    out.fio_version = version->get<std::string>();
  }
  if (auto stamp = root.find("timestamp_ms"); stamp != root.end() && stamp->is_number_integer()) {
    out.timestamp_ms = stamp->get<std::int64_t>();
  }
  Result<const Json*> jobs = top.member(root, "jobs");
  if (!jobs) {
    return std::unexpected(jobs.error());
  }
  if (!(*jobs)->is_array()) {
    return top.error("jobs", fmt::format("must be a list, got {}", echo(**jobs)));
  }
  for (std::size_t index = 0; index < (*jobs)->size(); ++index) {
    Result<FioJobResult> job = read_job((**jobs)[index], index, source, detail);
    if (!job) {
      return std::unexpected(job.error());
    }
    out.jobs.push_back(std::move(*job));
  }
  return out;
}

}  // namespace

Result<FioOutput> parse_fio_output(std::string_view text, std::string_view source) {
  FioOutput output;
  // fio writes its own diagnostics into the output file around the JSON; they are the best explanation
  // of a failure, so they are kept rather than skipped.
  Split split = split_documents(text);
  output.messages = std::move(split.messages);
  if (split.documents.empty()) {
    if (output.messages.empty()) {
      return protocol_error(fmt::format("{}: empty (fio wrote no JSON)", source));
    }
    std::string said;
    for (const std::string& message : output.messages) {
      said += (said.empty() ? "" : " | ") + message;
    }
    return protocol_error(fmt::format("{}: fio wrote no JSON; it said: {}", source, said));
  }

  // The result: the last document, whole. A cut-short one, or anything after it (fio ends with its result),
  // is where the message points.
  const auto [start, end] = split.documents.back();
  const bool after = text.find_first_not_of(" \t\r\n", end) != std::string_view::npos;
  const std::string_view body =
      text.substr(start, split.last_cut_short || after ? std::string_view::npos : end - start);
  Json root = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    Locator locator;
    Json::sax_parse(body, &locator);
    const std::string where = locator.where();
    return protocol_error(fmt::format("{}: truncated or not JSON at byte {}{}: {}", source,
                                      start + locator.position(), where.empty() ? "" : ", " + where,
                                      locator.reason()));
  }
  Result<Document> final_document = read_document(root, source, Detail::result);
  if (!final_document) {
    return std::unexpected(final_document.error());
  }
  output.fio_version = std::move(final_document->fio_version);
  output.timestamp_ms = final_document->timestamp_ms;
  output.jobs = std::move(final_document->jobs);

  for (std::size_t i = 0; i + 1 < split.documents.size(); ++i) {
    const auto [from, to] = split.documents[i];
    const std::string dump_source = fmt::format("{}: status dump {} (byte {})", source, i + 1, from);
    Json dump = Json::parse(text.substr(from, to - from), nullptr, /*allow_exceptions=*/false);
    if (dump.is_discarded()) {
      return protocol_error(fmt::format("{}: not JSON", dump_source));
    }
    Result<Document> status = read_document(dump, dump_source, Detail::status);
    if (!status) {
      return std::unexpected(status.error());
    }
    // A job that did nothing since the previous dump (not started, finished) adds nothing to the series: its
    // bins, the bulk of a dump, are not kept (a long run has thousands of dumps).
    if (!output.status.empty()) {
      for (FioJobResult& job : status->jobs) {
        auto before = std::ranges::find(output.status.back().jobs, job.name, &FioJobResult::name);
        if (before != output.status.back().jobs.end() && before->read.runtime_ms == job.read.runtime_ms &&
            before->write.runtime_ms == job.write.runtime_ms &&
            before->read.total_ios == job.read.total_ios && before->write.total_ios == job.write.total_ios) {
          job.read.clat.bins.clear();
          job.write.clat.bins.clear();
        }
      }
    }
    output.status.push_back(FioStatus{.timestamp_ms = status->timestamp_ms, .jobs = std::move(status->jobs)});
  }
  return output;
}

Result<std::vector<FioStatus>> FioStatusStream::feed(std::string_view more) {
  pending_.append(more);
  const Split split = split_documents(pending_);
  std::vector<FioStatus> out;
  std::size_t keep_from = 0;
  for (std::size_t i = 0; i < split.documents.size(); ++i) {
    const auto [from, to] = split.documents[i];
    if (i + 1 == split.documents.size() && split.last_cut_short) {
      keep_from = from;  // still being written
      break;
    }
    ++documents_;
    const std::string source =
        fmt::format("{}: document {} (byte {})", source_, documents_, consumed_ + from);
    Json root = Json::parse(std::string_view(pending_).substr(from, to - from), nullptr,
                            /*allow_exceptions=*/false);
    if (root.is_discarded()) {
      return protocol_error(fmt::format("{}: not JSON", source));
    }
    Result<Document> document = read_document(root, source, Detail::status);
    if (!document) {
      return std::unexpected(document.error());
    }
    out.push_back(FioStatus{.timestamp_ms = document->timestamp_ms, .jobs = std::move(document->jobs)});
    keep_from = to;
  }
  if (split.documents.empty() || !split.last_cut_short) {
    // After the last whole document only fio's lines: keep a line that has not ended yet, since its start
    // decides whether it is a line or a document.
    const std::size_t newline = pending_.rfind('\n');
    const std::size_t line_start = newline == std::string::npos ? 0 : newline + 1;
    keep_from = std::max(keep_from, line_start);
  }
  consumed_ += keep_from;
  pending_.erase(0, keep_from);
  return out;
}

}  // namespace kp::drivers::storage
