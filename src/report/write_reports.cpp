#include <sys/stat.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "report/report_text.hpp"
#include "report/run_report.hpp"

namespace kp::report {
namespace {

// A profile name becomes part of a folder name: keep it to safe characters.
std::string folder_safe(std::string_view text) {
  std::string out;
  for (char c : text) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                c == '_' || c == '.';
    out += safe ? c : '_';
  }
  return out.empty() ? std::string("run") : out;
}

// mkdir() either creates the folder or fails with EEXIST, so two runs started in the same second cannot end
// up writing into the same folder.
Result<std::filesystem::path> make_unique_folder(const std::filesystem::path& root, const std::string& base) {
  constexpr int kMaxAttempts = 1000;
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    std::filesystem::path folder = root / (attempt == 1 ? base : fmt::format("{}-{}", base, attempt));
    if (::mkdir(folder.c_str(), 0755) == 0) {
      return folder;
    }
    if (errno != EEXIST) {
      return fail(ErrorKind::io, fmt::format("{}: cannot create the results folder: {}", folder.string(),
                                             std::strerror(errno)));
    }
  }
  return fail(ErrorKind::io, fmt::format("{}: {} results folders named {}-N exist already", root.string(),
                                         kMaxAttempts, base));
}

}  // namespace

Result<std::filesystem::path> create_report_folder(const RunReport& report,
                                                   const std::filesystem::path& results_root) {
  std::error_code error;
  std::filesystem::create_directories(results_root, error);
  if (error) {
    return fail(ErrorKind::io, fmt::format("{}: cannot create the results folder: {}", results_root.string(),
                                           error.message()));
  }
  WallTime stamp = detail::is_set(report.meta.started) ? report.meta.started : report.meta.finished;
  std::string base = fmt::format("{}-{}", detail::compact_utc(stamp), folder_safe(report.meta.profile));
  return make_unique_folder(results_root, base);
}

Result<void> write_reports_into(const RunReport& report, const std::filesystem::path& folder) {
  struct Output {
    std::string_view name;
    std::string contents;
  };
  const std::string json = render_json(report);
  const Output outputs[] = {
      {"report.json", json},
      {"report.html", render_html(nlohmann::ordered_json::parse(json))},
      {"junit.xml", render_junit(report)},
      {"summary.md", render_markdown(report)},
      {"metrics.prom", render_prometheus(report)},
  };
  for (const Output& output : outputs) {
    Result<void> written = write_file_atomically(folder / output.name, output.contents);
    if (!written) {
      return std::unexpected(written.error());
    }
  }
  return {};
}

Result<std::filesystem::path> write_reports(const RunReport& report,
                                            const std::filesystem::path& results_root) {
  Result<std::filesystem::path> folder = create_report_folder(report, results_root);
  if (!folder) {
    return std::unexpected(folder.error());
  }
  if (Result<void> written = write_reports_into(report, *folder); !written) {
    return std::unexpected(written.error());
  }
  return *folder;
}

}  // namespace kp::report
