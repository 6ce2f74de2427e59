#include "config/data_path.hpp"

#include <system_error>

namespace kp::config {
namespace {

bool is_file(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

}  // namespace

std::filesystem::path find_data_file(std::string_view relative) {
  const std::filesystem::path rel(relative);
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::filesystem::path exe_dir = error ? std::filesystem::path() : exe.parent_path();

  if (!exe_dir.empty()) {
    const std::filesystem::path installed = (exe_dir / ".." / "share" / "kubeproof" / rel).lexically_normal();
    if (is_file(installed)) {
      return installed;
    }
  }
#ifdef KP_SOURCE_DIR
  const std::filesystem::path source = std::filesystem::path(KP_SOURCE_DIR) / rel;
  if (is_file(source)) {
    return source;
  }
#endif
  // A build folder usually sits inside the source tree (build/, build-config/): walk up to the checkout.
  for (std::filesystem::path dir = exe_dir; !dir.empty(); dir = dir.parent_path()) {
    if (is_file(dir / rel)) {
      return dir / rel;
    }
    if (dir == dir.root_path()) {
      break;
    }
  }
  return rel;
}

}  // namespace kp::config
