#include "core/cpu_budget.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace kp {
namespace {

namespace fs = std::filesystem;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

template <typename T>
std::optional<T> number(std::string_view text) {
  text = trim(text);
  T value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return parts;
    }
    text.remove_prefix(at + 1);
  }
}

std::optional<std::string> read_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

fs::path under(const fs::path& root, std::string_view absolute) {
  return root / fs::path(absolute).relative_path();
}

// The process's cgroup for the CPU controller: its version and its path inside that hierarchy.
struct OwnCgroup {
  int version = 0;
  std::string path;
};

OwnCgroup own_cgroup(std::string_view proc_self_cgroup) {
  OwnCgroup v2;
  for (std::string_view line : split(proc_self_cgroup, '\n')) {
    // "hierarchy-id:controller,list:path"; the path may itself hold ':'.
    const std::size_t first = line.find(':');
    const std::size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) {
      continue;
    }
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string_view path = line.substr(second + 1);
    if (line.substr(0, first) == "0" && controllers.empty()) {
      v2 = OwnCgroup{2, std::string(path)};
      continue;
    }
    for (std::string_view controller : split(controllers, ',')) {
      if (controller == "cpu") {
        return OwnCgroup{1, std::string(path)};
      }
    }
  }
  return v2;
}

// Where the hierarchy is mounted (mount point, and the cgroup path that mount shows as its root).
struct Mount {
  std::string point;
  std::string root;
};

std::optional<Mount> hierarchy_mount(std::string_view mountinfo, int version) {
  for (std::string_view line : split(mountinfo, '\n')) {
    // "id parent major:minor root mount-point options [optional...] - fstype source super-options"
    const std::size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) {
      continue;
    }
    std::vector<std::string_view> head = split(line.substr(0, dash), ' ');
    std::vector<std::string_view> tail = split(line.substr(dash + 3), ' ');
    if (head.size() < 5 || tail.size() < 3) {
      continue;
    }
    if (version == 2 && tail[0] == "cgroup2") {
      return Mount{std::string(head[4]), std::string(head[3])};
    }
    if (version == 1 && tail[0] == "cgroup") {
      for (std::string_view option : split(tail[2], ',')) {
        if (option == "cpu") {
          return Mount{std::string(head[4]), std::string(head[3])};
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<double> quota_in(const fs::path& folder, int version) {
  if (version == 2) {
    std::optional<std::string> max = read_text(folder / "cpu.max");
    return max ? parse_cpu_max(*max) : std::nullopt;
  }
  std::optional<std::string> quota = read_text(folder / "cpu.cfs_quota_us");
  std::optional<std::string> period = read_text(folder / "cpu.cfs_period_us");
  return quota && period ? parse_cfs_quota(*quota, *period) : std::nullopt;
}

}  // namespace

std::optional<double> parse_cpu_max(std::string_view text) {
  std::vector<std::string_view> parts = split(trim(text), ' ');
  if (parts.size() != 2 || parts[0] == "max") {
    return std::nullopt;
  }
  std::optional<std::uint64_t> quota = number<std::uint64_t>(parts[0]);
  std::optional<std::uint64_t> period = number<std::uint64_t>(parts[1]);
  if (!quota || !period || *period == 0 || *quota == 0) {
    return std::nullopt;
  }
  return double(*quota) / double(*period);
}

std::optional<double> parse_cfs_quota(std::string_view quota_us, std::string_view period_us) {
  std::optional<std::int64_t> quota = number<std::int64_t>(quota_us);
  std::optional<std::int64_t> period = number<std::int64_t>(period_us);
  if (!quota || !period || *quota <= 0 || *period <= 0) {
    return std::nullopt;  // -1: no quota
  }
  return double(*quota) / double(*period);
}

std::optional<CpuStat> parse_cpu_stat(std::string_view text) {
  CpuStat stat;
  bool has_periods = false;
  for (std::string_view line : split(text, '\n')) {
    std::vector<std::string_view> parts = split(trim(line), ' ');
    if (parts.size() != 2) {
      continue;
    }
    std::optional<std::uint64_t> value = number<std::uint64_t>(parts[1]);
    if (!value) {
      continue;
    }
    if (parts[0] == "nr_periods") {
      stat.periods = *value;
      has_periods = true;
    } else if (parts[0] == "nr_throttled") {
      stat.throttled = *value;
    } else if (parts[0] == "throttled_usec") {
      stat.throttled_time = std::chrono::microseconds(*value);
    } else if (parts[0] == "throttled_time") {
      stat.throttled_time = std::chrono::nanoseconds(*value);
    }
  }
  if (!has_periods) {
    return std::nullopt;
  }
  return stat;
}

CpuThrottling throttling_between(const CpuStat& before, const CpuStat& after) {
  // Counters only grow; a smaller "after" means another cgroup was read: count nothing rather than wrap.
  CpuThrottling delta;
  delta.periods = after.periods >= before.periods ? after.periods - before.periods : 0;
  delta.throttled = after.throttled >= before.throttled ? after.throttled - before.throttled : 0;
  delta.throttled_time = after.throttled_time >= before.throttled_time
                             ? after.throttled_time - before.throttled_time
                             : Duration(0);
  return delta;
}

int CpuBudget::usable_cpus() const {
  int usable = static_cast<int>(std::max(1u, hardware_threads));
  if (quota_cpus) {
    usable = std::min(usable, static_cast<int>(std::ceil(*quota_cpus - 1e-9)));
  }
  return std::max(1, usable);
}

CpuBudget read_cpu_budget(const fs::path& root, unsigned hardware_threads) {
  CpuBudget budget;
  budget.hardware_threads =
      std::max(1u, hardware_threads != 0 ? hardware_threads : std::thread::hardware_concurrency());
  std::optional<std::string> cgroups = read_text(under(root, "/proc/self/cgroup"));
  std::optional<std::string> mountinfo = read_text(under(root, "/proc/self/mountinfo"));
  if (!cgroups || !mountinfo) {
    return budget;
  }
  const OwnCgroup own = own_cgroup(*cgroups);
  if (own.version == 0) {
    return budget;
  }
  std::optional<Mount> mount = hierarchy_mount(*mountinfo, own.version);
  if (!mount) {
    return budget;
  }
  // The cgroup's folder: its path relative to what the mount shows as root. Inside a cgroup namespace, or
  // when the path is not under the mount (a container without one), the mount itself is the process's cgroup.
  fs::path relative;
  if (own.path.starts_with(mount->root)) {
    relative = fs::path(own.path.substr(mount->root.size())).relative_path();
  }
  fs::path mount_point(mount->point);
  fs::path leaf = relative.empty() ? mount_point : mount_point / relative;
  std::error_code error;
  if (!fs::is_directory(under(root, leaf.string()), error)) {
    leaf = mount_point;
  }
  budget.cgroup_version = own.version;
  budget.cgroup = leaf.string();
  // The smallest quota from the leaf up to the mount: a pod-level limit binds every container in it.
  for (fs::path folder = leaf;; folder = folder.parent_path()) {
    std::optional<double> quota = quota_in(under(root, folder.string()), own.version);
    if (quota && (!budget.quota_cpus || *quota < *budget.quota_cpus)) {
      budget.quota_cpus = quota;
      budget.cgroup = folder.string();
    }
    if (folder == mount_point || folder == folder.parent_path() ||
        folder.string().size() <= mount_point.string().size()) {
      break;
    }
  }
  return budget;
}

std::optional<CpuStat> read_cpu_stat(const CpuBudget& budget, const fs::path& root) {
  if (budget.cgroup.empty()) {
    return std::nullopt;
  }
  std::optional<std::string> text = read_text(under(root, budget.cgroup) / "cpu.stat");
  return text ? parse_cpu_stat(*text) : std::nullopt;
}

int usable_cpus() {
  return read_cpu_budget().usable_cpus();
}

}  // namespace kp
