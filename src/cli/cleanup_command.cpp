#include <fmt/format.h>
#include <cctype>

#include "cli/cluster_config.hpp"
#include "cli/command.hpp"
#include "cli/confirm.hpp"
#include "core/clock.hpp"
#include "drivers/api/api_phase.hpp"
#include "kube/api.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/transport.hpp"

namespace kp::cli {
namespace {

struct CleanupOptions {
  std::string run_id;
  bool all = false;
  std::string kubeconfig;
  std::string context;
  std::string timeout = "2m";
  bool yes = false;
};

// The id goes into a label selector: anything but a valid label value would select something else
// ("a,b" is two requirements).
CLI::Validator run_id_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        bool ok = !value.empty() && value.size() <= 63 &&
                  std::isalnum(static_cast<unsigned char>(value.front())) &&
                  std::isalnum(static_cast<unsigned char>(value.back()));
        for (char c : value) {
          ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
        }
        if (ok) {
          return {};
        }
        return fmt::format(
            "must be a run id such as kp-1a2b3c4d (a label value: letters, digits, '-', '_', "
            "'.', at most 63), got \"{}\"",
            value);
      },
      "ID");
}

Outcome cleanup(const CleanupOptions& options) {
  if (options.all == !options.run_id.empty()) {
    return fail(ErrorKind::usage, options.all
                                      ? "cleanup: give --run ID or --all, not both"
                                      : "cleanup: give --run ID (one run) or --all (every kubeproof run)");
  }
  Result<Duration> timeout = parse_duration(options.timeout);
  if (!timeout) {
    return fail(ErrorKind::usage, "--timeout: " + timeout.error().message);
  }
  Result<kube::RestConfig> config = rest_config_from_flags(options.kubeconfig, options.context);
  if (!config) {
    return std::unexpected(config.error());
  }
  Result<std::unique_ptr<kube::Transport>> transport =
      kube::Transport::create(*config, kube::ClientOptions{}, real_clock());
  if (!transport) {
    return std::unexpected(transport.error());
  }
  const std::string selector = options.all ? std::string(drivers::api::kRunLabel)
                                           : fmt::format("{}={}", drivers::api::kRunLabel, options.run_id);
  if (options.all && !options.yes) {
    // Listing is harmless and lets the question name what would go.
    kube::Api api(**transport);
    kube::ListOptions list;
    list.label_selector = selector;
    kube::ApiResult<kube::ListResult> listed = api.list(kube::namespaces_resource(), "", list);
    if (!listed) {
      return std::unexpected(listed.error().error);
    }
    if (listed->items.empty()) {
      fmt::print("no namespaces labelled {} on {}\n", selector, config->server);
      return 0;
    }
    std::vector<std::string> lines;
    for (const kube::json& item : listed->items) {
      lines.push_back(fmt::format("namespace {}", item["metadata"].value("name", "")));
    }
    if (Result<void> confirmed =
            confirm(fmt::format("cleanup: deleting {} namespaces labelled {} on context \"{}\", server {}",
                                lines.size(), selector, config->context, config->server),
                    lines);
        !confirmed) {
      return std::unexpected(confirmed.error());
    }
  }
  Result<std::vector<std::string>> deleted = drivers::api::cleanup(
      **transport, options.all ? std::string() : options.run_id, *timeout, real_clock());
  if (!deleted) {
    return std::unexpected(with_context(deleted.error(), fmt::format("cleanup on {}: ", config->server)));
  }
  for (const std::string& name : *deleted) {
    fmt::print("deleted namespace {}\n", name);
  }
  fmt::print("{} namespaces labelled {} deleted on {}\n", deleted->size(), selector, config->server);
  return 0;
}

}  // namespace

Command add_cleanup_command(CLI::App& parent) {
  auto options = std::make_shared<CleanupOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "cleanup", "Delete the namespaces a run left on the cluster (labelled kubeproof.io/run=<run id>)");
  command.app->add_option("--run", options->run_id, "The run whose namespaces go (its id, e.g. kp-1a2b3c4d)")
      ->check(run_id_validator());
  command.app->add_flag("--all", options->all, "Every kubeproof run's namespaces (asks unless --yes)");
  command.app
      ->add_option("--kubeconfig", options->kubeconfig,
                   "kubeconfig file for the cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
      ->check(existing_file());
  command.app->add_option("--context", options->context, "kubeconfig context (default: its current-context)");
  command.app->add_option("--timeout", options->timeout, "How long to wait for the namespaces to be gone");
  command.app->add_flag("--yes,-y", options->yes, "Do not ask before --all (needed without a terminal)");
  command.run = [options]() { return cleanup(*options); };
  return command;
}

}  // namespace kp::cli
