#pragma once

// What a directory under test is, as the storage agent sees it inside a pod: memory or disk, the container's
// overlay root or a volume, writable by this process or not. Each fact changes what its figures mean:
//   - tmpfs/ramfs (an emptyDir with medium Memory) answers from RAM: 358k IOPS there is not a disk's figure;
//   - overlayfs is the container's root file system (its upper layer on the node's disk, through a union
//     layer): a reference it is, but not "local disk", so a volume faster than it is not a sign of caching;
//   - a hostPath or local volume keeps the owner it has on the node (fsGroup does not apply to hostPath), so
//   a
//     non-root agent may be refused writes there: say so in one line, before fio reports a puzzle.
//
// Threads: reads of the file system only; safe from any thread.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace kp::drivers::storage {

enum class Medium {
  disk,     // any other file system: ext4, xfs, btrfs, nfs, a CSI volume's
  memory,   // tmpfs, ramfs: RAM, not a disk
  overlay,  // overlayfs: a container's root file system
  unknown,  // statfs failed
};

struct FilesystemFacts {
  Medium medium = Medium::unknown;
  std::string type;  // "ext4", "tmpfs", "overlay", "0x1234abcd" for a magic this table does not name
};

FilesystemFacts filesystem_of(const std::filesystem::path& path);
// The f_type magic numbers this module names (linux/magic.h), for tests and for FilesystemFacts::type.
FilesystemFacts classify_filesystem(long magic);

// Whether this process may create files in `dir`. The error (ErrorKind::input; the caller prefixes the
// setting) names the path, its owner and mode and this process's uid/gid, and says that fsGroup does not
// apply to hostPath volumes when the directory is not ours.
Result<void> check_writable(const std::filesystem::path& dir);

std::string_view to_string(Medium medium);

}  // namespace kp::drivers::storage
