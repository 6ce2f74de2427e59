#include "core/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/fd.hpp"

namespace kp {

Result<void> write_private_file(const std::filesystem::path& file, std::string_view text) {
  auto failed = [&](std::string_view what) {
    return fail(ErrorKind::io,
                fmt::format("cannot {} \"{}\": {}", what, file.string(), std::strerror(errno)));
  };
  // The mode given to open() applies only to a new file; fchmod narrows an existing one before it is written.
  Fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    return failed("create");
  }
  if (::fchmod(fd.get(), 0600) != 0) {
    return failed("restrict");
  }
  while (!text.empty()) {
    const ssize_t n = ::write(fd.get(), text.data(), text.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return failed("write");
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace kp
