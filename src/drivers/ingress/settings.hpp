#pragma once

// The ingress phase's settings (the `settings:` node of the ingress phase in a plan), parsed strictly with
// config/yaml_fields.hpp: unknown keys are errors listing the known ones, bad values echo the value:
//   plans/x.yaml:40: phases[5].settings.rate: not a rate, got "fast"
//
//   url: https://shop.example.com/healthz  # required for --target cluster; default: the lab's nginx
//   tls: false                    # local lab only: use its TLS listener (verified against the lab's CA)
//   paths: [/, /cart]             # cycled instead of the URL's path
//   method: GET   body: ""   host: shop.example.com   headers: {X-Test: "1"}
//   insecure: false   cacert: /etc/ssl/ingress-ca.pem   server_name: shop.example.com
//   threads: 0                    # 0: one per two cores
//   connections: 64               # keep-alive pool (requests), and concurrent connects (connection rate)
//   rate: 10k                     # open loop; "max": closed loop; default capacity.ingress_rps x load
//   arrival: constant             # or poisson
//   timeout: 5s
//   connection_rate: 5k/s         # new connections/s; "max": closed loop; "off": no connection-rate run;
//                                 # default capacity.ingress_connection_rate x load
//   connection_share: 20%         # of the phase duration given to the connection-rate run

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/pacer.hpp"
#include "core/units.hpp"

namespace kp::drivers::ingress {

struct Settings {
  std::string url;
  bool lab_tls = false;
  std::vector<std::string> paths;
  std::string method = "GET";
  std::string body;
  std::string host;
  std::vector<std::pair<std::string, std::string>> headers;
  bool insecure = false;
  std::string cacert;
  std::string server_name;
  int threads = 0;
  int connections = 64;
  std::optional<Rate> rate;  // unset: from the plan's capacity
  bool closed_loop = false;  // rate: max
  Arrival arrival = Arrival::constant;
  Duration timeout = std::chrono::seconds(5);
  std::optional<Rate> connection_rate;
  bool connection_closed_loop = false;  // connection_rate: max
  bool connection_run = true;           // connection_rate: off -> false
  double connection_share = 0.2;
};

// `file` and `path` locate the node for messages ("plans/load.yaml", "phases[5].settings"). Null -> defaults.
Result<Settings> parse_settings(const YAML::Node& node, const std::string& file, const std::string& path);

// The rates assumed when the plan states no capacity: the seed's small-cluster targets.
inline constexpr double kAssumedRps = 10000;
inline constexpr double kAssumedConnectionRate = 5000;

}  // namespace kp::drivers::ingress
