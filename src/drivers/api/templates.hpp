#pragma once

// Object templates as kube-burner writes them: multi-document YAML with Go-template placeholders
// {{.Iteration}}, {{.Replica}}, {{.JobName}}, {{.UUID}} / {{.RunID}} (both the run id) and {{.Namespace}}.
// Only these plain field references are supported (no pipelines, conditionals or functions); anything else
// between {{ }} is an error naming the placeholder, so a template never reaches the server half-expanded.

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace kp::drivers::api {

struct TemplateValues {
  int iteration = 0;
  int replica = 0;
  std::string job_name;
  std::string run_id;
  std::string ns;
};

// Replaces the placeholders. `name_for_errors` names the template in messages.
Result<std::string> expand(std::string_view text, const TemplateValues& values,
                           std::string_view name_for_errors);

// Parses (already expanded) multi-document YAML into JSON objects, typed as YAML 1.2 core schema reads plain
// scalars (42 -> number, true -> bool, null/~ -> null; quoted scalars stay strings). Empty documents are
// skipped; a document that is not a mapping with apiVersion, kind and metadata.name (or generateName) is an
// error naming the template and the document's index.
Result<std::vector<nlohmann::json>> parse_objects(std::string_view yaml, std::string_view name_for_errors);

}  // namespace kp::drivers::api
