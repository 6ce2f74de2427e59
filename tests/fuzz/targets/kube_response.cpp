// A Kubernetes API server's (or a proxy's) answer to a request: the status code (first two bytes) and body,
// through json_result() as every call reads it, and a 2xx body further as a list page (take_list_page).
#include <cstddef>
#include <cstdint>
#include <string>

#include "kube/api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace kube = kp::kube;
  if (size < 2) {
    return 0;
  }
  kube::Response response;
  response.status = 100 + (data[0] << 8 | data[1]) % 500;
  response.body.assign(reinterpret_cast<const char*>(data) + 2, size - 2);
  kube::ApiResult<kube::json> body = kube::json_result("GET", "/api/v1/pods", response);
  if (body) {
    kube::ListResult list;
    (void)kube::take_list_page(std::move(*body), "/api/v1/pods", list);
  } else {
    (void)body.error().error.message;
  }
  return 0;
}
