// Image references (Docker's reference grammar, distribution/reference) and the agent image flags.

#include <algorithm>
#include <regex>

#include <fmt/format.h>

#include "cluster/agent_pod.hpp"
#include "cluster/git_hash.hpp"

namespace kp::cluster {
namespace {

// distribution/reference's grammar, component by component:
//   domain-component  [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//   path-component    [a-z0-9]+ (separator [a-z0-9]+)*, separator  [_.]|__|[-]*
//   tag               [\w][\w.-]{0,127}
//   digest            algorithm ":" [a-fA-F0-9]{32,}, algorithm [a-z0-9]+([+._-][a-z0-9]+)*
const std::regex& domain_pattern() {
  static const std::regex pattern(
      R"(^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$)");
  return pattern;
}
const std::regex& path_component_pattern() {
  static const std::regex pattern(R"(^[a-z0-9]+(?:(?:[_.]|__|[-]*)[a-z0-9]+)*$)");
  return pattern;
}
const std::regex& tag_pattern() {
  static const std::regex pattern(R"(^[\w][\w.-]{0,127}$)");
  return pattern;
}
const std::regex& digest_pattern() {
  static const std::regex pattern(R"(^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$)");
  return pattern;
}

std::string default_tag() {
  return fmt::format("{}-{}", KP_VERSION, KP_GIT_HASH);
}

}  // namespace

std::string ImageReference::name() const {
  std::size_t slash = repository.rfind('/');
  return slash == std::string::npos ? repository : repository.substr(slash + 1);
}

Result<ImageReference> parse_image_reference(std::string_view text, std::string_view flag) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::usage,
                fmt::format("{}: {} ([registry[:port]/]path[:tag][@digest]), got \"{}\"", flag, why, text));
  };
  if (text.empty()) {
    return bad("must name an image");
  }
  ImageReference reference;
  std::string rest(text);
  if (std::size_t at = rest.find('@'); at != std::string::npos) {
    reference.digest = rest.substr(at + 1);
    rest.resize(at);
    if (!std::regex_match(reference.digest, digest_pattern())) {
      return bad("not a digest after '@'");
    }
  }
  // A ':' after the last '/' starts the tag; one before it is the registry's port.
  std::size_t last_slash = rest.rfind('/');
  std::size_t colon = rest.rfind(':');
  if (colon != std::string::npos && (last_slash == std::string::npos || colon > last_slash)) {
    reference.tag = rest.substr(colon + 1);
    rest.resize(colon);
    if (!std::regex_match(reference.tag, tag_pattern())) {
      return bad("not a tag after ':'");
    }
  }
  // The first component is a registry when it has a '.' or a ':', is localhost, or has capitals (as Docker
  // decides); otherwise it is part of the path ("team/agent" on the default registry).
  if (std::size_t slash = rest.find('/'); slash != std::string::npos) {
    std::string first = rest.substr(0, slash);
    bool registry = first.find_first_of(".:") != std::string::npos || first == "localhost" ||
                    std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (registry) {
      if (!std::regex_match(first, domain_pattern())) {
        return bad("not a registry host before the first '/'");
      }
      reference.registry = first;
      rest = rest.substr(slash + 1);
    }
  }
  if (rest.empty() || rest.size() > 255) {
    return bad("not an image reference");
  }
  std::size_t start = 0;
  while (true) {
    std::size_t slash = rest.find('/', start);
    std::string component =
        rest.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!std::regex_match(component, path_component_pattern())) {
      return bad(fmt::format("\"{}\" is not a path component (lowercase letters, digits, '.', '_', '-')",
                             component));
    }
    if (slash == std::string::npos) {
      break;
    }
    start = slash + 1;
  }
  reference.repository = rest;
  return reference;
}

std::string default_agent_image() {
  return fmt::format("{}:{}", AgentImage::kDefaultName, default_tag());
}

std::string default_storage_agent_image() {
  return fmt::format("{}:{}", AgentImage::kDefaultStorageName, default_tag());
}

std::string storage_variant(std::string_view reference) {
  Result<ImageReference> parsed = parse_image_reference(reference, "image");
  if (!parsed) {
    return std::string(reference);
  }
  std::string variant = parsed->registry.empty() ? std::string() : parsed->registry + "/";
  variant += parsed->repository + "-storage";
  if (!parsed->tag.empty()) {
    variant += ":" + parsed->tag;
  }
  return variant;
}

Result<AgentImage> parse_agent_image(std::string_view reference, std::string_view pull_policy,
                                     std::string_view storage_reference) {
  if (Result<ImageReference> parsed = parse_image_reference(reference, "--agent-image"); !parsed) {
    return std::unexpected(parsed.error());
  }
  if (!storage_reference.empty()) {
    if (Result<ImageReference> parsed = parse_image_reference(storage_reference, "--storage-agent-image");
        !parsed) {
      return std::unexpected(parsed.error());
    }
  }
  if (pull_policy != "IfNotPresent" && pull_policy != "Always" && pull_policy != "Never") {
    return fail(ErrorKind::usage,
                fmt::format("--image-pull-policy: must be one of: IfNotPresent, Always, Never, "
                            "got \"{}\"",
                            pull_policy));
  }
  return AgentImage{std::string(reference), std::string(pull_policy), std::string(storage_reference)};
}

}  // namespace kp::cluster
