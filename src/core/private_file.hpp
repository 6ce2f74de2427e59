#pragma once

// Files only their owner may read: kubeconfigs and tokens kubeproof writes, and its temporary work files
// (issue 18). The file is created 0600 (and an existing one is set to 0600 before anything is written), so
// its contents are never readable by others, not even for a moment and whatever the umask.

#include <filesystem>
#include <string_view>

#include "core/error.hpp"

namespace kp {

// Creates or truncates `file` with mode 0600 and writes `text`. An ErrorKind::io error names the file.
Result<void> write_private_file(const std::filesystem::path& file, std::string_view text);

}  // namespace kp
