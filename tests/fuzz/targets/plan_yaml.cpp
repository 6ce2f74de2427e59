// Plan YAML (`kubeproof run --plan FILE`): config::parse_plan, the function load_plan() calls.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kp::config::parse_plan(text, "fuzz.yaml");
  return 0;
}
