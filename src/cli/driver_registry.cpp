#include "cli/driver_registry.hpp"

#include "cluster/run.hpp"
#include "drivers/api/driver.hpp"
#include "drivers/dns/driver.hpp"
#include "drivers/etcd/driver.hpp"
#include "drivers/ingress/driver.hpp"
#include "drivers/net/driver.hpp"
#include "drivers/storage/driver.hpp"

namespace kp::cli {

std::map<Phase, engine::DriverFactory> driver_registry(const RegistryOptions& options) {
  // `--target local` finds the lab's services in options.lab_dir; `--target cluster` uses --kubeconfig and
  // --context, else kubectl's rules ($KUBECONFIG, ~/.kube/config, in-cluster).
  const std::filesystem::path& lab_dir = options.lab_dir;
  std::map<Phase, engine::DriverFactory> drivers;
  drivers::api::DriverOptions api_options;
  api_options.lab_dir = lab_dir;
  api_options.kubeconfig = options.kubeconfig;
  api_options.context = options.context;
  api_options.run_id = options.run_id;
  drivers[Phase::api] = drivers::api::driver_factory(api_options);
  // The network and storage drivers run their agents as children in the lab, or as pods on --target cluster
  // (a namespace per phase, named after the run id).
  const std::string run_id = options.run_id.value_or(cluster::new_run_id());
  drivers::etcd::ClusterOptions etcd_cluster;  // from: control-plane-pod
  etcd_cluster.kubeconfig = options.kubeconfig;
  etcd_cluster.context = options.context;
  etcd_cluster.run_id = run_id;
  etcd_cluster.image = options.agent_image;
  drivers[Phase::etcd] = drivers::etcd::driver_factory(lab_dir, etcd_cluster);
  drivers::net::ClusterOptions net_cluster;
  net_cluster.kubeconfig = options.kubeconfig;
  net_cluster.context = options.context;
  net_cluster.run_id = run_id;
  net_cluster.image = options.agent_image;
  drivers[Phase::network] =
      drivers::net::driver_factory(lab_dir, drivers::net::AgentCommand::self(), net_cluster);
  drivers::dns::DriverOptions dns_options;
  dns_options.lab_dir = lab_dir;
  dns_options.kubeconfig = options.kubeconfig;
  dns_options.context = options.context;
  dns_options.run_id = run_id;
  dns_options.image = options.agent_image;
  dns_options.agents = options.agents;
  drivers[Phase::dns] = drivers::dns::driver_factory(dns_options);
  drivers::storage::DriverOptions storage_options;
  storage_options.lab_dir = lab_dir;
  storage_options.compare_to = options.compare_to;
  storage_options.kubeconfig = options.kubeconfig;
  storage_options.context = options.context;
  storage_options.run_id = run_id;
  storage_options.image = options.agent_image;
  drivers[Phase::storage] = drivers::storage::driver_factory(storage_options);
  // Ingress load comes from this machine, or (settings from: pods) from agent pods on --target cluster.
  drivers::ingress::DriverOptions ingress_options;
  ingress_options.lab_dir = lab_dir;
  ingress_options.kubeconfig = options.kubeconfig;
  ingress_options.context = options.context;
  ingress_options.run_id = run_id;
  ingress_options.image = options.agent_image;
  drivers[Phase::ingress] = drivers::ingress::driver_factory(ingress_options);
  return drivers;
}

}  // namespace kp::cli
