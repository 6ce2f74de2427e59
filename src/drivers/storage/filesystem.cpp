#include "drivers/storage/filesystem.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kp::drivers::storage {
namespace {

// linux/magic.h (not included: the constants are stable ABI and the header is not always installed).
constexpr long kTmpfsMagic = 0x01021994;
constexpr long kRamfsMagic = 0x858458f6;
constexpr long kOverlayMagic = 0x794c7630;
constexpr long kExt4Magic = 0xef53;  // ext2/3/4 share it
constexpr long kXfsMagic = 0x58465342;
constexpr long kBtrfsMagic = 0x9123683e;
constexpr long kNfsMagic = 0x6969;

}  // namespace

FilesystemFacts classify_filesystem(long magic) {
  switch (magic) {
    case kTmpfsMagic:
      return {Medium::memory, "tmpfs"};
    case kRamfsMagic:
      return {Medium::memory, "ramfs"};
    case kOverlayMagic:
      return {Medium::overlay, "overlay"};
    case kExt4Magic:
      return {Medium::disk, "ext4"};
    case kXfsMagic:
      return {Medium::disk, "xfs"};
    case kBtrfsMagic:
      return {Medium::disk, "btrfs"};
    case kNfsMagic:
      return {Medium::disk, "nfs"};
    default:
      return {Medium::disk, fmt::format("{:#x}", static_cast<unsigned long>(magic))};
  }
}

FilesystemFacts filesystem_of(const std::filesystem::path& path) {
  struct statfs info {};
  if (::statfs(path.c_str(), &info) != 0) {
    return {};
  }
  return classify_filesystem(static_cast<long>(info.f_type));
}

Result<void> check_writable(const std::filesystem::path& dir) {
  // Create a file rather than ask access(2): it is what fio will do, and it also sees read-only mounts.
  const std::string probe = (dir / ".kubeproof-write-probe-XXXXXX").string();
  std::string name = probe;
  const int fd = ::mkstemp(name.data());
  if (fd >= 0) {
    ::close(fd);
    ::unlink(name.c_str());
    return {};
  }
  const int error = errno;
  struct stat info {};
  const bool known = ::stat(dir.c_str(), &info) == 0;
  const std::string owner =
      known ? fmt::format("owned by {}:{}, mode {:04o}", info.st_uid, info.st_gid, info.st_mode & 07777)
            : std::string("owner unknown");
  if (error == EROFS) {
    return fail(
        ErrorKind::input,
        fmt::format("\"{}\" is on a read-only file system: mount the volume read-write", dir.string()));
  }
  if (error == EACCES || error == EPERM) {
    return fail(ErrorKind::input,
                fmt::format("\"{}\" is not writable by this process (uid {}, gid {}; the directory is {}): "
                            "fsGroup does not apply to hostPath volumes, which keep their owner on the node; "
                            "give the directory to uid {} or use a PersistentVolumeClaim",
                            dir.string(), ::geteuid(), ::getegid(), owner, ::geteuid()));
  }
  return fail(ErrorKind::input,
              fmt::format("cannot create a file in \"{}\": {}", dir.string(), std::strerror(error)));
}

std::string_view to_string(Medium medium) {
  switch (medium) {
    case Medium::disk:
      return "disk";
    case Medium::memory:
      return "memory";
    case Medium::overlay:
      return "overlay";
    case Medium::unknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace kp::drivers::storage
