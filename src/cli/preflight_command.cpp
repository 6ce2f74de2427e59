// `kubeproof preflight`: the permission check a run makes before it creates anything, on its own, for a
// cluster administrator to run first. One SelfSubjectAccessReview per permission a --target cluster run of
// the plan needs: its api phase's, and the pod runner's for its network and storage phases (without --plan:
// the built-in api workload and both pod phases, as the shipped plans run them); every permission printed
// with its answer; exit 0 when all are granted, else one message naming every missing permission and exit 2
// (as a run would stop).

#include <algorithm>

#include <fmt/format.h>

#include "cli/cluster_config.hpp"
#include "cli/cluster_preflight.hpp"
#include "cli/command.hpp"
#include "config/plan.hpp"
#include "core/clock.hpp"
#include "drivers/api/driver.hpp"
#include "drivers/dns/cluster_dns.hpp"
#include "kube/access_review.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/transport.hpp"

namespace kp::cli {
namespace {

struct PreflightOptions {
  std::string plan;
  std::string kubeconfig;
  std::string context;
};

Outcome preflight(const PreflightOptions& options) {
  config::Plan plan;
  if (!options.plan.empty()) {
    Result<config::Plan> loaded = config::load_plan(options.plan);
    if (!loaded) {
      return std::unexpected(loaded.error());
    }
    plan = std::move(*loaded);
  }
  Result<std::vector<kube::Permission>> needed = drivers::api::plan_permissions(plan);
  if (!needed) {
    return std::unexpected(needed.error());
  }
  const std::vector<Phase> pods = options.plan.empty()
                                      ? std::vector<Phase>{Phase::network, Phase::dns, Phase::storage}
                                      : pod_phases(plan);
  std::vector<kube::Permission> pod_permissions =
      options.plan.empty() ? pod_phase_permissions(pods) : plan_pod_permissions(plan);
  for (kube::Permission& permission : pod_permissions) {
    needed->push_back(std::move(permission));
  }
  *needed = kube::unique_permissions(std::move(*needed));
  Result<kube::RestConfig> config = rest_config_from_flags(options.kubeconfig, options.context);
  if (!config) {
    return std::unexpected(config.error());
  }
  kube::ClientOptions client;
  client.request_timeout = std::chrono::seconds(30);
  Result<std::unique_ptr<kube::Transport>> transport = kube::Transport::create(*config, client, real_clock());
  if (!transport) {
    return std::unexpected(transport.error());
  }
  const std::string who = fmt::format("context \"{}\" ({})", config->context, config->server);
  kube::ApiResult<std::vector<kube::AccessAnswer>> answers = kube::review_access(**transport, *needed);
  if (!answers) {
    return std::unexpected(
        with_context(answers.error().error, fmt::format("{}: SelfSubjectAccessReview failed: ", who)));
  }
  std::string parts = "the api phase";
  for (Phase phase : pods) {
    parts += fmt::format(", the {} phase's agent pods", to_string(phase));
  }
  fmt::print("preflight for {}: {} permissions a cluster run needs ({}{})\n", who, answers->size(), parts,
             options.plan.empty() ? ", built-in workload" : fmt::format(", {}", options.plan));
  for (const kube::AccessAnswer& answer : *answers) {
    fmt::print("  {:8} {} ({})\n", answer.allowed ? "granted" : "MISSING", kube::to_string(answer.permission),
               answer.permission.why);
  }
  if (std::ranges::find(pods, Phase::dns) != pods.end()) {
    // Optional: without it the dns phase's cache hit ratio is NOT MEASURED with that reason; the run goes on.
    kube::ApiResult<std::vector<kube::AccessAnswer>> optional =
        kube::review_access(**transport, {drivers::dns::coredns_metrics_permission()});
    if (optional && !optional->empty()) {
      const kube::AccessAnswer& answer = optional->front();
      fmt::print("  {:8} {} ({}; optional: without it that row is NOT MEASURED)\n",
                 answer.allowed ? "granted" : "missing", kube::to_string(answer.permission),
                 answer.permission.why);
    }
  }
  if (Result<void> judged = kube::judge_access(*answers, who); !judged) {
    return std::unexpected(judged.error());
  }
  fmt::print("all {} permissions granted\n", answers->size());
  return 0;
}

}  // namespace

Command add_preflight_command(CLI::App& parent) {
  auto options = std::make_shared<PreflightOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "preflight",
      "Check with SelfSubjectAccessReview that the current user may do everything a run needs (exit 2 and "
      "every missing permission if not)");
  command.app
      ->add_option("--plan", options->plan,
                   "The plan whose phases to check (api jobs, network and storage pods)")
      ->check(existing_file());
  command.app
      ->add_option("--kubeconfig", options->kubeconfig,
                   "kubeconfig file for the cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
      ->check(existing_file());
  command.app->add_option("--context", options->context, "kubeconfig context (default: its current-context)");
  command.run = [options]() { return preflight(*options); };
  return command;
}

}  // namespace kp::cli
