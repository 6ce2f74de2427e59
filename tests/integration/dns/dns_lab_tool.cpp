// kp_dns_lab up|down STATE_DIR: the lab's two unbound processes for bench/compare-dns.sh, until
// `kubeproof lab up` starts them (it will, once service_specs() lists them). `up` prints one line of JSON
// with the endpoints, the cache's config file and both pids, and leaves the services running.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dns_test_support.hpp"

int main(int argc, char** argv) {
  if (argc != 3 || (std::string_view(argv[1]) != "up" && std::string_view(argv[1]) != "down")) {
    fmt::print(stderr, "usage: kp_dns_lab up|down STATE_DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[2];
  if (std::string_view(argv[1]) == "down") {
    kp::drivers::dns::testing::stop_dns_lab(dir);
    return 0;
  }
  kp::Result<std::vector<kp::lab::ServiceRecord>> started = kp::drivers::dns::testing::start_dns_lab(dir);
  if (!started) {
    fmt::print(stderr, "kp_dns_lab: {}\n", started.error().message);
    return 1;
  }
  const kp::lab::ServiceRecord& zone = started->at(0);
  const kp::lab::ServiceRecord& cache = started->at(1);
  nlohmann::json line{{"dns", cache.endpoints.at("dns")}, {"control", cache.endpoints.at("control")},
                      {"config", cache.command.back()},   {"zone_dns", zone.endpoints.at("dns")},
                      {"cache_pid", cache.pid},           {"zone_pid", zone.pid}};
  fmt::print("{}\n", line.dump());
  return 0;
}
