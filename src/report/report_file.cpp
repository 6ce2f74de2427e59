#include "report/report_file.hpp"

#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "report/run_report.hpp"

namespace kp::report {

Result<nlohmann::ordered_json> load_report_json(const std::filesystem::path& path) {
  std::error_code error;
  const bool folder = std::filesystem::is_directory(path, error);
  const std::filesystem::path file = folder ? path / "report.json" : path;
  if (!std::filesystem::exists(file, error)) {
    return fail(ErrorKind::input, folder ? fmt::format("{}: no report.json in this folder", path.string())
                                         : fmt::format("{}: no such file or folder", path.string()));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return fail(ErrorKind::input, fmt::format("{}: cannot be read", file.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(text.str(), nullptr, false);
  if (json.is_discarded()) {
    return fail(ErrorKind::input, fmt::format("{}: not valid JSON", file.string()));
  }
  if (!json.is_object() || json.value("schema", std::string()) != "kubeproof.report") {
    return fail(ErrorKind::input,
                fmt::format("{}: schema: must be \"kubeproof.report\", got {}", file.string(),
                            json.is_object() && json.contains("schema") ? json.at("schema").dump() : "none"));
  }
  const auto version = json.find("schema_version");
  if (version == json.end() || !version->is_number_integer() ||
      version->get<long long>() != kReportSchemaVersion) {
    return fail(ErrorKind::input, fmt::format("{}: schema_version: this kubeproof reads version {}, got {}",
                                              file.string(), kReportSchemaVersion,
                                              version == json.end() ? std::string("none") : version->dump()));
  }
  return json;
}

}  // namespace kp::report
