#pragma once

// Reading a results folder's report.json back (`kubeproof report`): the document, checked to be a kubeproof
// report of the one schema version this build writes. Every failure is one input error naming the file and
// what is wrong with it (exit 2).

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace kp::report {

// `path`: a results folder (its report.json is read) or a report.json file.
Result<nlohmann::ordered_json> load_report_json(const std::filesystem::path& path);

}  // namespace kp::report
