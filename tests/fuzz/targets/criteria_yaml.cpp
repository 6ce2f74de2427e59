// Criteria YAML (`--criteria FILE`): config::parse_criteria, and the tier selection a run applies to it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/criteria.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kp::Result<kp::config::Criteria> criteria = kp::config::parse_criteria(text, "fuzz.yaml");
  if (criteria) {
    (void)criteria->active_rows(kp::config::TierSelection{});
  }
  return 0;
}
