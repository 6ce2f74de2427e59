#pragma once

// What the storage result says about the media it measured (filesystem.hpp): a memory-backed volume is called
// out as "not a disk" (a warning, and a note on every metric: its IOPS are RAM's), and a reference
// (compare_to) that is a container's overlay root or memory is compared without the "volume BEATS local disk"
// judgement, which is only a sign of caching when the reference is a disk of the node.

#include "drivers/storage/settings.hpp"
#include "drivers/storage/storage_phase.hpp"

namespace kp::drivers::storage {

// Reads the volume's (and compare_to's) file system into `result`; warns when the volume is memory.
void note_filesystems(StorageResult& result, const Settings& settings, const ProgressFn& progress);

// After compare(): with a reference that is not a disk, clears every row's volume_beats_local and says why,
// once, in the warnings.
void qualify_reference(StorageResult& result, const Settings& settings, const ProgressFn& progress);

}  // namespace kp::drivers::storage
