#include "drivers/storage/settings.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "load/schedule.hpp"

namespace kp::drivers::storage {
namespace {

// fio refuses more; nobody needs more to saturate a device.
constexpr int kMaxIodepth = 4096;
constexpr int kMaxNumjobs = 256;
// Direct I/O needs whole logical blocks; 512 bytes is the smallest a Linux block device has.
constexpr std::uint64_t kDirectAlignment = 512;

Result<int> read_whole(const config::YamlField& field, int minimum, int maximum) {
  const std::string text = field.text();
  int value = 0;
  const char* end = text.data() + text.size();
  auto [stop, code] = std::from_chars(text.data(), end, value);
  if (!field.is_scalar() || text.empty() || code != std::errc{} || stop != end || value < minimum ||
      value > maximum) {
    return field.fail_got(fmt::format("must be a whole number within {}..{}", minimum, maximum));
  }
  return value;
}

Result<std::uint64_t> read_bytes(const config::YamlField& field, std::uint64_t minimum) {
  Result<double> bytes = config::read_quantity(field, Quantity::size);
  if (!bytes) {
    return std::unexpected(bytes.error());
  }
  if (*bytes != std::floor(*bytes) || *bytes < static_cast<double>(minimum)) {
    return field.fail_got(fmt::format("must be a whole number of bytes >= {}", minimum));
  }
  // The bytes themselves from the exact parse: the double rounds 18446744073709551615 up to 2^64, which no
  // uint64 holds (casting it is undefined), and loses the last digits of anything above 2^53.
  Result<ByteSize> exact = parse_byte_size(field.text());
  if (!exact) {
    return field.fail_got(fmt::format("must be a whole number of bytes >= {}", minimum));
  }
  return exact->bytes;
}

Result<Duration> read_duration_at_least(const config::YamlField& field, Duration minimum) {
  Result<Duration> value = config::read_duration(field);
  if (!value) {
    return value;
  }
  if (*value < minimum) {
    return field.fail_got(fmt::format("must be at least {}", format_duration(minimum)));
  }
  return value;
}

Result<std::filesystem::path> read_path(const config::YamlField& field) {
  Result<std::string> text = config::read_string(field);
  if (!text) {
    return std::unexpected(text.error());
  }
  if (text->find('\n') != std::string::npos || text->find('\0') != std::string::npos) {
    return field.fail_got("must be a path on one line");
  }
  return std::filesystem::path(*text);
}

// A list, or for flags a single comma-separated scalar ("1,4,16").
Result<std::vector<config::YamlField>> list_items(const config::YamlField& field) {
  if (field.is_list()) {
    return field.items();
  }
  if (!field.is_scalar() || field.text().empty()) {
    return field.fail_got("must be a list");
  }
  std::vector<config::YamlField> items;
  const std::string text = field.text();
  std::string_view rest = text;
  while (true) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') {
      item.remove_prefix(1);
    }
    while (!item.empty() && item.back() == ' ') {
      item.remove_suffix(1);
    }
    items.emplace_back(YAML::Node(std::string(item)), field.file(), field.path(), field.line());
    if (comma == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(comma + 1);
  }
  return items;
}

Result<std::vector<Workload>> read_workloads(const config::YamlField& field) {
  Result<std::vector<config::YamlField>> items = list_items(field);
  if (!items) {
    return std::unexpected(items.error());
  }
  if (items->empty()) {
    return field.fail_got("must name at least one workload");
  }
  std::vector<Workload> chosen;
  for (const config::YamlField& item : *items) {
    std::optional<Workload> workload = parse_workload(item.text());
    if (!item.is_scalar() || !workload) {
      return item.fail_got("must be one of: randread, randwrite, seqwrite, seqread, etcd_fsync");
    }
    if (std::ranges::find(chosen, *workload) != chosen.end()) {
      return item.fail_got("is listed twice");
    }
    chosen.push_back(*workload);
  }
  // Run order is the seed's, whatever order the list gives.
  std::vector<Workload> ordered;
  for (Workload workload : kAllWorkloads) {
    if (std::ranges::find(chosen, workload) != chosen.end()) {
      ordered.push_back(workload);
    }
  }
  return ordered;
}

Result<std::vector<int>> read_depths(const config::YamlField& field) {
  Result<std::vector<config::YamlField>> items = list_items(field);
  if (!items) {
    return std::unexpected(items.error());
  }
  std::vector<int> depths;
  for (const config::YamlField& item : *items) {
    Result<int> depth = read_whole(item, 1, kMaxIodepth);
    if (!depth) {
      return std::unexpected(depth.error());
    }
    depths.push_back(*depth);
  }
  std::ranges::sort(depths);
  depths.erase(std::unique(depths.begin(), depths.end()), depths.end());
  return depths;
}

template <typename T>
Result<void> assign(T& target, Result<T> value) {
  if (!value) {
    return std::unexpected(value.error());
  }
  target = std::move(*value);
  return {};
}

}  // namespace

std::string_view to_string(Workload workload) {
  switch (workload) {
    case Workload::randread:
      return "randread";
    case Workload::randwrite:
      return "randwrite";
    case Workload::seqwrite:
      return "seqwrite";
    case Workload::seqread:
      return "seqread";
    case Workload::etcd_fsync:
      return "etcd_fsync";
  }
  return "?";
}

std::optional<Workload> parse_workload(std::string_view name) {
  for (Workload workload : kAllWorkloads) {
    if (to_string(workload) == name) {
      return workload;
    }
  }
  return std::nullopt;
}

bool Settings::runs(Workload workload) const {
  return std::ranges::find(workloads, workload) != workloads.end();
}

std::string size_label(std::uint64_t bytes) {
  if (bytes >= kGiB && bytes % kGiB == 0) {
    return fmt::format("{}g", bytes / kGiB);
  }
  if (bytes >= kMiB && bytes % kMiB == 0) {
    return fmt::format("{}m", bytes / kMiB);
  }
  if (bytes >= kKiB && bytes % kKiB == 0) {
    return fmt::format("{}k", bytes / kKiB);
  }
  return fmt::format("{}", bytes);
}

Result<void> read_setting(Settings& s, std::string_view key, const config::YamlField& value) {
  if (key == "volume") {
    return assign(s.volume, read_path(value));
  }
  if (key == "compare_to") {
    Result<std::filesystem::path> path = read_path(value);
    if (!path) {
      return std::unexpected(path.error());
    }
    s.compare_to = *path;
    return {};
  }
  if (key == "fio_binary") {
    return assign(s.fio_binary, config::read_string(value));
  }
  if (key == "workloads") {
    return assign(s.workloads, read_workloads(value));
  }
  if (key == "ioengine") {
    return assign(s.ioengine, config::read_choice(value, {"libaio", "io_uring", "psync", "sync", "pvsync",
                                                          "pvsync2", "posixaio"}));
  }
  if (key == "direct") {
    return assign(s.direct, config::read_bool(value));
  }
  if (key == "size") {
    return assign(s.size, read_bytes(value, 1));
  }
  if (key == "block_size") {
    return assign(s.block_size, read_bytes(value, 1));
  }
  if (key == "iodepth") {
    return assign(s.iodepth, read_whole(value, 1, kMaxIodepth));
  }
  if (key == "seq_block_size") {
    return assign(s.seq_block_size, read_bytes(value, 1));
  }
  if (key == "seq_iodepth") {
    return assign(s.seq_iodepth, read_whole(value, 1, kMaxIodepth));
  }
  if (key == "numjobs") {
    return assign(s.numjobs, read_whole(value, 1, kMaxNumjobs));
  }
  if (key == "runtime") {
    Result<Duration> runtime = read_duration_at_least(value, std::chrono::seconds(1));
    if (!runtime) {
      return std::unexpected(runtime.error());
    }
    s.runtime = *runtime;
    return {};
  }
  if (key == "ramp_time") {
    return assign(s.ramp_time, read_duration_at_least(value, Duration(0)));
  }
  if (key == "qd_sweep") {
    Result<std::vector<int>> depths = value.is_list() && value.node().size() == 0
                                          ? Result<std::vector<int>>(std::vector<int>{})
                                          : read_depths(value);
    if (!depths) {
      return std::unexpected(depths.error());
    }
    s.qd_sweep = std::move(*depths);
    return {};
  }
  if (key == "etcd_block_size") {
    return assign(s.etcd_block_size, read_bytes(value, 1));
  }
  if (key == "etcd_size") {
    return assign(s.etcd_size, read_bytes(value, 1));
  }
  if (key == "timeout") {
    Result<Duration> timeout = read_duration_at_least(value, std::chrono::seconds(1));
    if (!timeout) {
      return std::unexpected(timeout.error());
    }
    s.timeout = *timeout;
    return {};
  }
  if (key == "rate") {
    return assign(s.rate, load::read_rate_setting(value));
  }
  if (key == "stress") {
    Result<load::StressSettings> stress = load::read_stress_settings(value);
    if (!stress) {
      return std::unexpected(stress.error());
    }
    // The kernel's default steps are multiples of a rate capacity (100 %..200 %); storage's default ramp is
    // absolute depths, so only steps the plan wrote are kept.
    if (value.is_map() && value.node()["steps"]) {
      s.stress_steps = stress->steps;
    }
    s.stress_bisect = stress->bisect;
    return {};
  }
  return value.fail(fmt::format("unknown setting \"{}\"", key));
}

Result<void> check_settings(const Settings& s,
                            const std::function<config::YamlField(std::string_view key)>& field_of) {
  if (s.direct) {
    for (auto [key, bytes] : {std::pair<std::string_view, std::uint64_t>{"block_size", s.block_size},
                              {"seq_block_size", s.seq_block_size}}) {
      if (bytes % kDirectAlignment != 0) {
        return field_of(key).fail(
            fmt::format("must be a multiple of {} bytes for direct I/O, got {}", kDirectAlignment, bytes));
      }
    }
  }
  if (s.stress_steps && !s.stress_steps->empty() &&
      std::round(s.stress_steps->back() * s.iodepth) > kMaxIodepth) {
    return field_of("stress").fail(
        fmt::format("the last step, {:g}% of iodepth {}, is a depth of {:g}: above fio's {}",
                    s.stress_steps->back() * 100, s.iodepth, std::round(s.stress_steps->back() * s.iodepth),
                    kMaxIodepth));
  }
  const std::uint64_t largest = std::max(s.block_size, s.seq_block_size);
  if (s.size < largest) {
    return field_of("size").fail(
        fmt::format("must hold at least one block ({} bytes), got {} bytes", largest, s.size));
  }
  if (s.etcd_size < s.etcd_block_size) {
    return field_of("etcd_size")
        .fail(fmt::format("must hold at least one etcd_block_size ({} bytes), got {} bytes",
                          s.etcd_block_size, s.etcd_size));
  }
  // Appending "" gives both a trailing separator, so "/mnt/pv/" and "/mnt/pv" compare equal.
  if (s.compare_to && !s.volume.empty() &&
      (*s.compare_to / "").lexically_normal() == (s.volume / "").lexically_normal()) {
    return field_of("compare_to")
        .fail(fmt::format("must differ from the volume, got \"{}\" for both", s.compare_to->string()));
  }
  return {};
}

bool is_cluster_only_key(std::string_view key) {
  for (std::string_view cluster :
       {"storage_class", "emptydir_baseline", "volume_size", "agents", "bind_timeout", "image", "pods"}) {
    if (key == cluster) {
      return true;
    }
  }
  return false;
}

Result<Settings> parse_settings(const config::YamlField& field) {
  Settings settings;
  if (field.is_null()) {
    return settings;
  }
  Result<config::YamlMap> map = config::YamlMap::open(
      field,
      {"volume", "compare_to", "fio_binary", "workloads", "ioengine", "direct", "size", "block_size",
       "iodepth", "seq_block_size", "seq_iodepth", "numjobs", "runtime", "ramp_time", "qd_sweep",
       "etcd_block_size", "etcd_size", "timeout", "rate", "stress",
       // --target cluster only (cluster_plan.hpp reads them)
       "storage_class", "emptydir_baseline", "volume_size", "agents", "bind_timeout", "image", "pods"});
  if (!map) {
    return std::unexpected(map.error());
  }
  for (const auto& [key, value] : map->entries()) {
    if (is_cluster_only_key(key)) {
      continue;
    }
    if (Result<void> read = read_setting(settings, key, value); !read) {
      return std::unexpected(read.error());
    }
  }
  auto field_of = [&](std::string_view key) { return map->get(key).value_or(field); };
  if (Result<void> checked = check_settings(settings, field_of); !checked) {
    return std::unexpected(checked.error());
  }
  return settings;
}

}  // namespace kp::drivers::storage
