#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>

#include "report/run_report.hpp"

namespace kp::report {

Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  // mkstemp in the same folder so rename() is atomic (same filesystem).
  std::string temp = (path.parent_path() / ("." + path.filename().string() + ".XXXXXX")).string();
  int fd = ::mkstemp(temp.data());
  if (fd < 0) {
    return fail(ErrorKind::io,
                fmt::format("{}: cannot create a temporary file: {}", path.string(), std::strerror(errno)));
  }
  auto give_up = [&](std::string_view what) -> Result<void> {
    int saved = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return fail(ErrorKind::io, fmt::format("{}: {}: {}", path.string(), what, std::strerror(saved)));
  };
  std::size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return give_up("write failed");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) {
    return give_up("chmod failed");
  }
  if (::fsync(fd) != 0) {
    return give_up("fsync failed");
  }
  if (::close(fd) != 0) {
    int saved = errno;
    ::unlink(temp.c_str());
    return fail(ErrorKind::io, fmt::format("{}: close failed: {}", path.string(), std::strerror(saved)));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    ::unlink(temp.c_str());
    return fail(ErrorKind::io, fmt::format("{}: rename failed: {}", path.string(), std::strerror(saved)));
  }
  return {};
}

}  // namespace kp::report
