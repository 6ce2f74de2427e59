#include "drivers/storage/medium_notes.hpp"

#include <fmt/format.h>

namespace kp::drivers::storage {
namespace {

void warn(StorageResult& result, const ProgressFn& progress, std::string text) {
  if (progress) {
    progress(fmt::format("WARNING: {}", text));
  }
  result.warnings.push_back(std::move(text));
}

}  // namespace

void note_filesystems(StorageResult& result, const Settings& settings, const ProgressFn& progress) {
  result.volume_filesystem = filesystem_of(settings.volume);
  if (settings.compare_to) {
    result.compare_filesystem = filesystem_of(*settings.compare_to);
  }
  if (result.volume_filesystem.medium != Medium::memory) {
    return;
  }
  const std::string text = fmt::format(
      "{} is memory-backed ({}): not a disk; its figures are RAM's and say nothing about a volume's (an "
      "emptyDir with medium: Memory is tmpfs)",
      settings.volume.string(), result.volume_filesystem.type);
  warn(result, progress, text);
  for (Measurement& m : result.run.measurements) {
    m.note += m.note.empty() ? "not a disk (memory-backed)" : "; not a disk (memory-backed)";
  }
}

void qualify_reference(StorageResult& result, const Settings& settings, const ProgressFn& progress) {
  if (!settings.compare_to || !result.compare_filesystem) {
    return;
  }
  const Medium medium = result.compare_filesystem->medium;
  if (medium != Medium::overlay && medium != Medium::memory) {
    return;
  }
  bool cleared = false;
  for (ComparisonRow& row : result.comparison) {
    cleared = cleared || row.volume_beats_local;
    row.volume_beats_local = false;
  }
  warn(result, progress,
       fmt::format("{} is {} ({}), not a local disk: the ratios are shown, but a volume faster than it is no "
                   "sign of caching{}",
                   settings.compare_to->string(),
                   medium == Medium::overlay ? "the container's overlay root file system" : "memory-backed",
                   result.compare_filesystem->type, cleared ? " (no \"BEATS local disk\" warnings)" : ""));
}

}  // namespace kp::drivers::storage
