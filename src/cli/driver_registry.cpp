#include "cli/driver_registry.hpp"

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
  drivers[Phase::etcd] = drivers::etcd::driver_factory(lab_dir);
  drivers::api::DriverOptions api_options;
  api_options.lab_dir = lab_dir;
  api_options.kubeconfig = options.kubeconfig;
  api_options.context = options.context;
  api_options.run_id = options.run_id;
  drivers[Phase::api] = drivers::api::driver_factory(api_options);
  // The network driver runs its two ends as `kubeproof agent net-server|net-client` children in the lab's
  // namespaces, as two pods would be.
  drivers[Phase::network] = drivers::net::driver_factory(lab_dir);
  drivers[Phase::dns] = drivers::dns::driver_factory(lab_dir);
  drivers[Phase::storage] =
      drivers::storage::driver_factory(drivers::storage::DriverOptions{lab_dir, options.compare_to});
  drivers[Phase::ingress] = drivers::ingress::driver_factory(lab_dir);
  return drivers;
}

}  // namespace kp::cli
