// The shipped Grafana dashboard and Prometheus config (deploy/) against what `run --metrics-listen` serves:
// a query naming a family the exporter never writes would show an empty panel, silently.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "report/live_metrics.hpp"

namespace kp::report {
namespace {

const std::filesystem::path kDeploy = std::filesystem::path(KP_SOURCE_DIR) / "deploy";

void collect_exprs(const nlohmann::json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if ((key == "expr" || key == "query") && value.is_string()) {
        out.push_back(value.get<std::string>());
      } else {
        collect_exprs(value, out);
      }
    }
  } else if (node.is_array()) {
    for (const auto& item : node) {
      collect_exprs(item, out);
    }
  }
}

TEST(Deploy, EveryDashboardQueryNamesAFamilyTheExporterWrites) {
  std::ifstream in(kDeploy / "grafana" / "kubeproof-dashboard.json");
  ASSERT_TRUE(in) << "deploy/grafana/kubeproof-dashboard.json is missing";
  const nlohmann::json dashboard = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(dashboard.is_discarded()) << "the dashboard is not valid JSON";
  std::vector<std::string> exprs;
  collect_exprs(dashboard, exprs);
  ASSERT_GE(exprs.size(), 8u);

  const std::vector<std::string_view> families = LiveMetrics::families();
  const std::set<std::string, std::less<>> known(families.begin(), families.end());
  const std::regex name("kubeproof_[a-z_]+");
  std::set<std::string> used;
  for (const std::string& expr : exprs) {
    for (auto it = std::sregex_iterator(expr.begin(), expr.end(), name); it != std::sregex_iterator(); ++it) {
      std::string family = it->str();
      for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (family.ends_with(suffix) && !known.contains(family)) {
          family.resize(family.size() - suffix.size());
        }
      }
      EXPECT_TRUE(known.contains(family)) << family << " in: " << expr;
      used.insert(family);
    }
  }
  // The panels cover the live counts, the live latency and the judged values.
  for (const char* family : {"kubeproof_live_completions_total", "kubeproof_live_latency_seconds",
                             "kubeproof_metric", "kubeproof_phase_verdict", "kubeproof_verdict"}) {
    EXPECT_TRUE(used.contains(family)) << family << " has no panel";
  }
}

TEST(Deploy, PrometheusConfigScrapesTheDocumentedEndpoint) {
  const YAML::Node config = YAML::LoadFile((kDeploy / "prometheus" / "prometheus.yml").string());
  const YAML::Node job = config["scrape_configs"][0];
  EXPECT_EQ(job["job_name"].as<std::string>(), "kubeproof");
  EXPECT_EQ(job["metrics_path"].as<std::string>(), "/metrics");
  EXPECT_EQ(job["static_configs"][0]["targets"][0].as<std::string>(), "127.0.0.1:9464");
}

}  // namespace
}  // namespace kp::report
