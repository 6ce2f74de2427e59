// The measurements file of `kubeproof evaluate`: cli::parse_measurements, the function load_measurements()
// calls (its source is compiled into this target: kp_cli would bring every phase along).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/measurements_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kp::cli::parse_measurements(text, "fuzz.json");
  return 0;
}
