#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "cli/soak.hpp"
#include "report/report_reader.hpp"

namespace kp::cli {

Result<ResumePoint> load_resume_point(const std::filesystem::path& folder) {
  Result<report::RunReport> read = report::load_report(folder);
  if (!read) {
    return fail(ErrorKind::usage, fmt::format("--resume {}: {}", folder.string(), read.error().message));
  }
  if (read->meta.command != "soak" || !read->soak) {
    return fail(ErrorKind::usage,
                fmt::format("--resume {}: not a soak (its report.json is from `kubeproof {}`)",
                            folder.string(), read->meta.command));
  }
  const eval::Verdict overall = read->evaluation.overall;
  if (read->soak->finished) {
    // A soak that ran its course (whatever its verdict) has nothing left to run. A checkpoint's verdict can
    // already be FAIL (a metric beyond Critical so far): that soak is not finished, and resumes.
    return fail(ErrorKind::usage, fmt::format("--resume {}: that soak has ended ({}); nothing to resume",
                                              folder.string(), eval::to_string(overall)));
  }
  return ResumePoint{folder, std::move(*read)};
}

Result<std::string> soak_digest(const std::filesystem::path& plan_file, const RunOptions& options) {
  std::ifstream in(plan_file, std::ios::binary);
  if (!in) {
    return fail(ErrorKind::input, fmt::format("{}: cannot read the plan", plan_file.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string what = text.str();
  std::vector<std::string> only = options.only;
  std::ranges::sort(only);
  what += fmt::format("\n--target={}\n--only={}\n--continue-on-fail={}\n--duration-scale={}\n--criteria={}\n",
                      options.target, fmt::join(only, ","), options.continue_on_fail, options.duration_scale,
                      options.criteria_file);
  what += fmt::format("--tier={}\n--cluster-size={}\n--pod-images={}\n", options.tiers.storage_tier,
                      options.tiers.cluster_size, options.tiers.pod_images);
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a, 64 bits: a fingerprint, not a defence
  for (unsigned char c : what) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", hash);
}

}  // namespace kp::cli
