// A kubeconfig (`--kubeconfig FILE`): load_rest_config reads it from a file, so each input is written to one
// (a private directory per process, so parallel jobs do not share it) and loaded exactly as a run loads it:
// parse, merge, choose the context, resolve relative paths, check the files it names. summarize() too.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "kube/kubeconfig.hpp"

namespace {

const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "kp-fuzz-kubeconfig-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::abort();
    }
    return std::filesystem::path(pattern);
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path file = work_dir() / "config";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  kp::kube::LoadOptions options;
  options.kubeconfig = file;
  options.kubeconfig_env = "";
  options.home = work_dir();
  options.service_host = "";
  options.service_port = "";
  options.service_account_dir = work_dir() / "no-serviceaccount";
  (void)kp::kube::load_rest_config(options);
  (void)kp::kube::summarize({file});
  return 0;
}
