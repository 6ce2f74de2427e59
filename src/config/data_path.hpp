#pragma once

// Where the files shipped with the tool (criteria/default.yaml, plans/*.yaml) are found at run time.

#include <filesystem>
#include <string_view>

namespace kp::config {

// The first of these that exists, for a path relative to the data root such as "criteria/default.yaml":
//   1. <exe dir>/../share/kubeproof/<relative>       (an installed binary)
//   2. <KP_SOURCE_DIR>/<relative>                      (when the build defines KP_SOURCE_DIR)
//   3. <an ancestor of the exe dir>/<relative>         (a binary in a build folder inside the source tree)
// Otherwise `relative` itself, so the error that follows names the file that was looked for.
std::filesystem::path find_data_file(std::string_view relative);

}  // namespace kp::config
