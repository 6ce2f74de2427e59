#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cli/command.hpp"

namespace kp::cli {

CLI::Validator one_of(std::vector<std::string> choices) {
  std::string description;
  for (const std::string& choice : choices) {
    description += description.empty() ? choice : "|" + choice;
  }
  return CLI::Validator(
      [choices](std::string& value) -> std::string {
        for (const std::string& choice : choices) {
          if (value == choice) {
            return {};
          }
        }
        std::string names;
        for (std::size_t i = 0; i < choices.size(); ++i) {
          if (i > 0) {
            names += i + 1 == choices.size() ? " or " : ", ";
          }
          names += choices[i];
        }
        return fmt::format("must be {}, got \"{}\"", names, value);
      },
      description);
}

namespace {

CLI::Validator existing(bool directory) {
  const char* kind = directory ? "directory" : "file";
  return CLI::Validator(
      [directory, kind](std::string& value) -> std::string {
        struct stat info {};
        if (::stat(value.c_str(), &info) != 0) {
          return fmt::format("must be an existing {}, got \"{}\" ({})", kind, value, std::strerror(errno));
        }
        if (directory != S_ISDIR(info.st_mode)) {
          return fmt::format("must be an existing {}, got \"{}\" (a {})", kind, value,
                             directory ? "file" : "directory");
        }
        return {};
      },
      directory ? "DIR" : "FILE");
}

}  // namespace

CLI::Validator existing_directory() {
  return existing(true);
}

CLI::Validator existing_file() {
  return existing(false);
}

void TierFlags::add_to(CLI::App& app) {
  app.add_option("--tier", storage_tier, "Storage tier whose targets apply (default ssd)")
      ->check(one_of({"ssd", "nvme"}));
  app.add_option("--cluster-size", cluster_size, "Ingress cluster size whose targets apply (default small)")
      ->check(one_of({"small", "large"}));
  app.add_option("--pod-images", pod_images,
                 "Pod startup SLO: images already on the node or pulled (default cached)")
      ->check(one_of({"cached", "pulled"}));
}

config::TierSelection TierFlags::apply(config::TierSelection base) const {
  if (!storage_tier.empty()) {
    base.chosen["storage_tier"] = storage_tier;
  }
  if (!cluster_size.empty()) {
    base.chosen["cluster_size"] = cluster_size;
  }
  if (!pod_images.empty()) {
    base.chosen["pod_images"] = pod_images;
  }
  return base;
}

bool stdout_wants_color(bool no_color_flag) {
  if (no_color_flag) {
    return false;
  }
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') {
    return false;
  }
  return ::isatty(STDOUT_FILENO) == 1;
}

}  // namespace kp::cli
