// fio's JSON output (the storage phase's agent reads the file fio wrote): parse_fio_output, and what the
// phase reads from each job.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "drivers/storage/fio_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace storage = kp::drivers::storage;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kp::Result<storage::FioOutput> output = storage::parse_fio_output(text, "fio output fuzz.json");
  if (output) {
    for (const storage::FioJobResult& job : output->jobs) {
      (void)storage::job_label(job);
      (void)job.read.clat.percentile_ns(99);
      (void)job.write.clat.percentile_ns(99.9);
      (void)output->find(job.name);
    }
  }
  return 0;
}
