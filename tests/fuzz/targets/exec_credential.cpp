// An exec credential plugin's stdout (client.authentication.k8s.io ExecCredential): parse_exec_credential,
// for both API versions a kubeconfig may ask for (the first byte chooses).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/credentials.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view version =
      (data[0] & 1) != 0 ? "client.authentication.k8s.io/v1" : "client.authentication.k8s.io/v1beta1";
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)kp::kube::parse_exec_credential(text, version);
  return 0;
}
