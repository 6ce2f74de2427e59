#include "cli/driver_registry.hpp"

#include "drivers/api/driver.hpp"
#include "drivers/dns/driver.hpp"
#include "drivers/etcd/driver.hpp"
#include "drivers/ingress/driver.hpp"
#include "drivers/net/driver.hpp"
#include "drivers/storage/driver.hpp"
#include "lab/lab.hpp"

namespace kp::cli {

std::map<Phase, engine::DriverFactory> driver_registry() {
  // `--target local` finds the lab's services in the lab state dir ($KUBEPROOF_LAB_DIR or ./.kubeproof/lab);
  // `--target cluster` uses kubectl's rules for the kubeconfig ($KUBECONFIG, ~/.kube/config, in-cluster).
  const std::filesystem::path lab_dir = lab::default_state_dir();
  std::map<Phase, engine::DriverFactory> drivers;
  drivers[Phase::etcd] = drivers::etcd::driver_factory(lab_dir);
  drivers::api::DriverOptions api_options;
  api_options.lab_dir = lab_dir;
  drivers[Phase::api] = drivers::api::driver_factory(api_options);
  // The network driver runs its two ends as `kubeproof agent net-server|net-client` children in the lab's
  // namespaces, as two pods would be.
  drivers[Phase::network] = drivers::net::driver_factory(lab_dir);
  drivers[Phase::dns] = drivers::dns::driver_factory(lab_dir);
  drivers[Phase::storage] = drivers::storage::driver_factory(lab_dir);
  drivers[Phase::ingress] = drivers::ingress::driver_factory(lab_dir);
  return drivers;
}

}  // namespace kp::cli
