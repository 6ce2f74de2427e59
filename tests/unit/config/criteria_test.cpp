#include "config/criteria.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "config/metric_catalog.hpp"

namespace kp::config {
namespace {

std::filesystem::path shipped_criteria() {
  return std::filesystem::path(KP_SOURCE_DIR) / "criteria/default.yaml";
}

// One row of the seed's tables as the shipped file must hold it, in base units.
struct SeedRow {
  std::string metric;
  std::string table;
  std::string component;
  std::string label;
  Comparison comparison;
  double target;
  std::optional<double> critical;
  std::string unit;
  std::string reference;
  std::optional<std::string> tier_group;
  std::optional<std::string> tier;
};

const std::vector<SeedRow>& seed_rows() {
  constexpr auto lt = Comparison::less;
  constexpr auto le = Comparison::less_equal;
  constexpr auto gt = Comparison::greater;
  const std::string slo = "Kubernetes Scalability SLIs/SLOs";
  static const std::vector<SeedRow> rows = {
      // API Server SLOs and Pod Startup SLOs: "<=", target = critical = the SLO.
      {"api.mutating.p99",
       "Kubernetes SLO",
       "API Server",
       "Mutating API latency (P99)",
       le,
       1.0,
       1.0,
       "ms",
       slo,
       {},
       {}},
      {"api.readonly.p99",
       "Kubernetes SLO",
       "API Server",
       "Non-mutating API latency (P99), single object",
       le,
       1.0,
       1.0,
       "ms",
       slo,
       {},
       {}},
      {"api.list.p99",
       "Kubernetes SLO",
       "API Server",
       "Non-mutating API latency (P99), list objects",
       le,
       30.0,
       30.0,
       "s",
       slo,
       {},
       {}},
      {"api.pod_startup.p99", "Kubernetes SLO", "Pod Startup", "Pod startup latency (P99)", le, 5.0, 5.0, "s",
       slo, "pod_images", "cached"},
      {"api.pod_startup.p99", "Kubernetes SLO", "Pod Startup", "Pod startup latency (P99)", le, 20.0, 20.0,
       "s", slo, "pod_images", "pulled"},
      // Control Plane
      {"api.mutating.p99",
       "Control Plane",
       "API Server",
       "Mutating P99",
       lt,
       0.5,
       1.0,
       "ms",
       "K8s SLOs",
       {},
       {}},
      {"api.readonly.p99",
       "Control Plane",
       "API Server",
       "Non-mutating P99",
       lt,
       0.2,
       1.0,
       "ms",
       "K8s SLOs",
       {},
       {}},
      {"api.qps",
       "Control Plane",
       "API Server",
       "QPS sustained",
       gt,
       1000,
       500,
       "QPS",
       "Depends on cluster size",
       {},
       {}},
      {"api.error_rate", "Control Plane", "API Server", "Error rate", lt, 0.001, 0.01, "%", "", {}, {}},
      {"etcd.write.p99",
       "Control Plane",
       "etcd",
       "Write latency P99",
       lt,
       0.025,
       0.050,
       "ms",
       "etcd tuning",
       {},
       {}},
      {"etcd.read.p99",
       "Control Plane",
       "etcd",
       "Read latency P99",
       lt,
       0.010,
       0.025,
       "ms",
       "etcd tuning",
       {},
       {}},
      {"etcd.fsync.p99",
       "Control Plane",
       "etcd",
       "fsync duration P99",
       lt,
       0.010,
       0.025,
       "ms",
       "etcd hardware",
       {},
       {}},
      // Data Plane
      {"net.pod_to_pod.throughput",
       "Data Plane",
       "Pod-to-pod",
       "Throughput",
       gt,
       5e9,
       1e9,
       "Gbps",
       "Depends on physical network",
       {},
       {}},
      {"net.pod_to_pod.latency.p99",
       "Data Plane",
       "Pod-to-pod",
       "Latency",
       lt,
       0.001,
       0.005,
       "ms",
       "Same zone",
       {},
       {}},
      {"net.pod_to_service.latency.p99",
       "Data Plane",
       "Pod-to-service",
       "Latency",
       lt,
       0.002,
       0.010,
       "ms",
       "Via kube-proxy",
       {},
       {}},
      {"dns.qps", "Data Plane", "CoreDNS", "Query rate", gt, 10e3, 5e3, "QPS", "CoreDNS plugins", {}, {}},
      {"dns.p99", "Data Plane", "CoreDNS", "P99 latency", lt, 0.010, 0.050, "ms", "With cache", {}, {}},
      {"dns.cache_hit_ratio", "Data Plane", "CoreDNS", "Cache hit ratio", gt, 0.90, 0.80, "%", "", {}, {}},
      // Storage: SSD target (no critical), NVMe target with the SSD target as critical. MB/s = 8e6 bit/s.
      {"storage.randread_4k.iops",
       "Storage",
       "Database (OLTP)",
       "Random 4K read IOPS",
       gt,
       10e3,
       {},
       "IOPS",
       "fio profiles",
       "storage_tier",
       "ssd"},
      {"storage.randread_4k.iops", "Storage", "Database (OLTP)", "Random 4K read IOPS", gt, 50e3, 10e3,
       "IOPS", "fio profiles", "storage_tier", "nvme"},
      {"storage.randwrite_4k.iops",
       "Storage",
       "Database (OLTP)",
       "Random 4K write IOPS",
       gt,
       5e3,
       {},
       "IOPS",
       "",
       "storage_tier",
       "ssd"},
      {"storage.randwrite_4k.iops", "Storage", "Database (OLTP)", "Random 4K write IOPS", gt, 20e3, 5e3,
       "IOPS", "", "storage_tier", "nvme"},
      {"storage.rand_4k.p99",
       "Storage",
       "Database (OLTP)",
       "P99 latency",
       lt,
       0.005,
       {},
       "ms",
       "",
       "storage_tier",
       "ssd"},
      {"storage.rand_4k.p99", "Storage", "Database (OLTP)", "P99 latency", lt, 0.001, 0.005, "ms", "",
       "storage_tier", "nvme"},
      {"storage.seqwrite.bandwidth",
       "Storage",
       "Logging/Streaming",
       "Sequential write MB/s",
       gt,
       200e6 * 8,
       {},
       "MB/s",
       "",
       "storage_tier",
       "ssd"},
      {"storage.seqwrite.bandwidth", "Storage", "Logging/Streaming", "Sequential write MB/s", gt, 1000e6 * 8,
       200e6 * 8, "MB/s", "", "storage_tier", "nvme"},
      {"storage.seqread.bandwidth",
       "Storage",
       "Analytics (OLAP)",
       "Sequential read MB/s",
       gt,
       300e6 * 8,
       {},
       "MB/s",
       "",
       "storage_tier",
       "ssd"},
      {"storage.seqread.bandwidth", "Storage", "Analytics (OLAP)", "Sequential read MB/s", gt, 2000e6 * 8,
       300e6 * 8, "MB/s", "", "storage_tier", "nvme"},
      // Ingress: small cluster target (no critical), large cluster target with the small target as critical.
      {"ingress.rps",
       "Ingress",
       "Ingress",
       "Requests/sec",
       gt,
       10e3,
       {},
       "RPS",
       "NGINX tuning",
       "cluster_size",
       "small"},
      {"ingress.rps", "Ingress", "Ingress", "Requests/sec", gt, 50e3, 10e3, "RPS", "NGINX tuning",
       "cluster_size", "large"},
      {"ingress.p99", "Ingress", "Ingress", "P99 latency", lt, 0.100, {}, "ms", "", "cluster_size", "small"},
      {"ingress.p99", "Ingress", "Ingress", "P99 latency", lt, 0.020, 0.100, "ms", "", "cluster_size",
       "large"},
      {"ingress.error_rate_5xx",
       "Ingress",
       "Ingress",
       "Error rate (5xx)",
       lt,
       0.001,
       {},
       "%",
       "",
       "cluster_size",
       "small"},
      {"ingress.error_rate_5xx", "Ingress", "Ingress", "Error rate (5xx)", lt, 0.0001, 0.001, "%", "",
       "cluster_size", "large"},
      {"ingress.connection_rate",
       "Ingress",
       "Ingress",
       "Connection rate",
       gt,
       5e3,
       {},
       "/s",
       "",
       "cluster_size",
       "small"},
      {"ingress.connection_rate", "Ingress", "Ingress", "Connection rate", gt, 20e3, 5e3, "/s", "",
       "cluster_size", "large"},
  };
  return rows;
}

const CriteriaRow* find_row(const std::vector<CriteriaRow>& rows, const SeedRow& seed) {
  const CriteriaRow* found = nullptr;
  for (const CriteriaRow& row : rows) {
    const std::optional<std::string> tier = row.tier ? std::optional(row.tier->name) : std::nullopt;
    if (row.metric == seed.metric && row.table == seed.table && tier == seed.tier) {
      EXPECT_EQ(found, nullptr) << "two rows for " << seed.metric << " in " << seed.table;
      found = &row;
    }
  }
  return found;
}

Result<Criteria> parse(std::string_view text) {
  return parse_criteria(text, "criteria/x.yaml");
}

std::string error_of(const Result<Criteria>& result) {
  EXPECT_FALSE(result.has_value());
  if (result.has_value()) {
    return "";
  }
  EXPECT_EQ(result.error().kind, ErrorKind::input);
  return result.error().message;
}

TEST(ShippedCriteria, HasEverySeedRowWithTheSeedsNumbers) {
  auto criteria = load_criteria(shipped_criteria());
  ASSERT_TRUE(criteria.has_value()) << criteria.error().message;
  EXPECT_EQ(criteria->rows.size(), seed_rows().size()) << "a row that is not in the seed, or one missing";
  for (const SeedRow& seed : seed_rows()) {
    SCOPED_TRACE(seed.metric + " / " + seed.table + (seed.tier ? " / " + *seed.tier : std::string()));
    const CriteriaRow* row = find_row(criteria->rows, seed);
    ASSERT_NE(row, nullptr);
    EXPECT_EQ(row->component, seed.component);
    EXPECT_EQ(row->label, seed.label);
    EXPECT_EQ(row->comparison, seed.comparison);
    ASSERT_TRUE(row->target.has_value());
    EXPECT_DOUBLE_EQ(*row->target, seed.target);
    EXPECT_EQ(row->critical.has_value(), seed.critical.has_value());
    if (row->critical && seed.critical) {
      EXPECT_DOUBLE_EQ(*row->critical, *seed.critical);
    }
    EXPECT_EQ(row->unit, seed.unit);
    EXPECT_EQ(row->reference, seed.reference);
    EXPECT_EQ(row->tier.has_value(), seed.tier_group.has_value());
    if (row->tier && seed.tier_group) {
      EXPECT_EQ(row->tier->group, *seed.tier_group);
    }
    EXPECT_GT(row->line, 0);
    EXPECT_NE(find_metric(row->metric), nullptr);
  }
}

TEST(ShippedCriteria, KeepsTheSloTablesDescriptions) {
  auto criteria = load_criteria(shipped_criteria());
  ASSERT_TRUE(criteria.has_value()) << criteria.error().message;
  std::vector<std::string> notes;
  for (const CriteriaRow& row : criteria->rows) {
    if (row.table == "Kubernetes SLO") {
      notes.push_back(row.note);
    }
  }
  EXPECT_EQ(notes, (std::vector<std::string>{
                       "Time to process CREATE, UPDATE, DELETE", "Time to process GET single resource",
                       "Time to process LIST resources", "Stateless pods, image already present",
                       "Stateless pods, image pull required"}));
}

TEST(ShippedCriteria, IsTheDefaultPathFromTheSourceTree) {
  const char* saved = std::getenv("KUBEPROOF_CRITERIA");
  ASSERT_EQ(saved, nullptr) << "unset KUBEPROOF_CRITERIA to run this test";
  const std::filesystem::path path = default_criteria_path();
  EXPECT_TRUE(std::filesystem::equivalent(path, shipped_criteria())) << path;
}

TEST(ShippedCriteria, DefaultPathHonoursTheEnvironment) {
  ASSERT_EQ(setenv("KUBEPROOF_CRITERIA", "/tmp/mine.yaml", 1), 0);
  const std::filesystem::path path = default_criteria_path();
  unsetenv("KUBEPROOF_CRITERIA");
  EXPECT_EQ(path, "/tmp/mine.yaml");
}

std::vector<std::string> active_keys(const Criteria& criteria, const TierSelection& tiers) {
  auto rows = criteria.active_rows(tiers);
  EXPECT_TRUE(rows.has_value()) << rows.error().message;
  std::vector<std::string> keys;
  for (const CriteriaRow& row : rows.value_or(std::vector<CriteriaRow>{})) {
    keys.push_back(row.metric + (row.tier ? "@" + row.tier->name : std::string()));
  }
  return keys;
}

TEST(TierSelection, DefaultsAreSsdSmallClusterAndCachedImages) {
  auto criteria = load_criteria(shipped_criteria());
  ASSERT_TRUE(criteria.has_value()) << criteria.error().message;
  const std::vector<std::string> keys = active_keys(*criteria, TierSelection{});
  EXPECT_EQ(keys.size(), 26U);  // 36 rows: 3 SLO + 7 control + 6 data untiered, one of each tier pair
  for (const std::string& key : keys) {
    EXPECT_EQ(key.find("@nvme"), std::string::npos) << key;
    EXPECT_EQ(key.find("@large"), std::string::npos) << key;
    EXPECT_EQ(key.find("@pulled"), std::string::npos) << key;
  }
  EXPECT_NE(std::find(keys.begin(), keys.end(), "storage.randread_4k.iops@ssd"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "ingress.rps@small"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "api.pod_startup.p99@cached"), keys.end());
}

TEST(TierSelection, ChoosesNvmeLargeAndPulled) {
  auto criteria = load_criteria(shipped_criteria());
  ASSERT_TRUE(criteria.has_value()) << criteria.error().message;
  TierSelection tiers;
  tiers.chosen = {{"storage_tier", "nvme"}, {"cluster_size", "large"}, {"pod_images", "pulled"}};
  auto rows = criteria->active_rows(tiers);
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  EXPECT_EQ(rows->size(), 26U);
  int tiered = 0;
  for (const CriteriaRow& row : *rows) {
    if (row.tier) {
      ++tiered;
      EXPECT_TRUE(row.tier->name == "nvme" || row.tier->name == "large" || row.tier->name == "pulled");
      EXPECT_TRUE(row.critical.has_value()) << row.metric;  // the higher tiers all have a critical level
    }
  }
  EXPECT_EQ(tiered, 10);
}

TEST(TierSelection, UnknownTierNameListsTheValidOnes) {
  auto criteria = parse_criteria(
      R"(rows:
  - metric: storage.randread_4k.iops
    table: Storage
    label: Random 4K read IOPS
    comparison: ">"
    tier_group: storage_tier
    tiers:
      ssd: {target: 10k}
      nvme: {target: 50k, critical: 10k}
)",
      "criteria/x.yaml");
  ASSERT_TRUE(criteria.has_value()) << criteria.error().message;
  TierSelection tiers;
  tiers.chosen["storage_tier"] = "hdd";
  auto rows = criteria->active_rows(tiers);
  ASSERT_FALSE(rows.has_value());
  EXPECT_EQ(rows.error().kind, ErrorKind::input);
  EXPECT_EQ(rows.error().message,
            R"(criteria/x.yaml: unknown storage_tier "hdd" (expected one of: ssd, nvme))");

  tiers.chosen = {{"cluster_size", "small"}};
  rows = criteria->active_rows(tiers);
  ASSERT_FALSE(rows.has_value());
  EXPECT_EQ(rows.error().message, R"(criteria/x.yaml: no storage_tier chosen (expected one of: ssd, nvme))");

  tiers.chosen = {{"disk", "ssd"}};
  rows = criteria->active_rows(tiers);
  ASSERT_FALSE(rows.has_value());
  EXPECT_EQ(
      rows.error().message,
      R"(criteria/x.yaml: unknown tier group "disk" (expected one of: storage_tier, cluster_size, pod_images))");
}

TEST(CriteriaValidation, BadValueEchoesItWithFileLineAndPath) {
  EXPECT_EQ(error_of(parse(R"(rows:
  - metric: api.mutating.p99
    table: Control Plane
    label: Mutating P99
    comparison: "<"
    target: fast
)")),
            R"(criteria/x.yaml:6: rows[0].target: not a duration, got "fast" (use e.g. 250us, 1.5s, 2m))");
}

TEST(CriteriaValidation, UnknownKeyListsTheKnownOnes) {
  EXPECT_EQ(
      error_of(parse(R"(rows:
  - metric: api.mutating.p99
    table: Control Plane
    label: Mutating P99
    comparison: "<"
    target: 500ms
    treshold: 1s
)")),
      R"(criteria/x.yaml:7: rows[0]: unknown key "treshold" (expected one of: metric, table, component, label, )"
      R"(comparison, target, critical, unit, reference, note, tier_group, tiers))");
  EXPECT_EQ(error_of(parse("rows: []\nlimits: 3\n")),
            R"(criteria/x.yaml:2: unknown key "limits" (expected one of: version, rows))");
}

TEST(CriteriaValidation, UnknownMetricId) {
  EXPECT_EQ(error_of(parse(R"(rows:
  - metric: api.latency
    table: Control Plane
    label: Latency
    comparison: "<"
    target: 500ms
)")),
            R"(criteria/x.yaml:2: rows[0].metric: unknown metric id, got "api.latency")");
}

TEST(CriteriaValidation, MissingTarget) {
  EXPECT_EQ(error_of(parse(R"(rows:
  - metric: api.qps
    table: Control Plane
    label: QPS sustained
    comparison: ">"
    critical: 500
)")),
            R"(criteria/x.yaml:2: rows[0]: missing key "target")");
  EXPECT_EQ(error_of(parse(R"(rows:
  - metric: ingress.rps
    table: Ingress
    label: Requests/sec
    comparison: ">"
    tier_group: cluster_size
    tiers:
      small: {target: 10k}
      large: {critical: 10k}
)")),
            R"(criteria/x.yaml:9: rows[0].tiers.large: missing key "target")");
}

TEST(CriteriaValidation, ComparisonMustBeAnOperator) {
  EXPECT_EQ(error_of(parse(R"(rows:
  - metric: api.qps
    table: Control Plane
    label: QPS sustained
    comparison: more
    target: 1000
)")),
            R"(criteria/x.yaml:5: rows[0].comparison: must be one of: <, <=, >, >=, got "more")");
}

TEST(CriteriaValidation, CriticalStricterThanTarget) {
  EXPECT_EQ(
      error_of(parse(R"(rows:
  - metric: etcd.write.p99
    table: Control Plane
    label: Write latency P99
    comparison: "<"
    target: 25ms
    critical: 10ms
)")),
      R"(criteria/x.yaml:7: rows[0].critical: must not be stricter than the target "25ms" for "<", got "10ms")");
  EXPECT_EQ(
      error_of(parse(R"(rows:
  - metric: dns.qps
    table: Data Plane
    label: Query rate
    comparison: ">"
    target: 5k
    critical: 10k
)")),
      R"(criteria/x.yaml:7: rows[0].critical: must not be stricter than the target "5k" for ">", got "10k")");
}

TEST(CriteriaValidation, RatioAbove100PercentIsRejected) {
  const std::string message = error_of(parse(R"(rows:
  - metric: dns.cache_hit_ratio
    table: Data Plane
    label: Cache hit ratio
    comparison: ">"
    target: 90
)"));
  EXPECT_TRUE(message.starts_with(R"(criteria/x.yaml:6: rows[0].target: not a ratio, got "90")")) << message;
}

TEST(CriteriaValidation, TargetsAndTiersAreExclusive) {
  EXPECT_EQ(
      error_of(parse(R"(rows:
  - metric: ingress.rps
    table: Ingress
    label: Requests/sec
    comparison: ">"
    target: 10k
    tier_group: cluster_size
    tiers:
      small: {target: 10k}
)")),
      R"(criteria/x.yaml:2: rows[0]: give either "target" and "critical" or "tier_group" and "tiers", not both)");
}

TEST(CriteriaValidation, UnknownTierGroup) {
  EXPECT_EQ(
      error_of(parse(R"(rows:
  - metric: ingress.rps
    table: Ingress
    label: Requests/sec
    comparison: ">"
    tier_group: size
    tiers:
      small: {target: 10k}
)")),
      R"(criteria/x.yaml:6: rows[0].tier_group: must be one of: storage_tier, cluster_size, pod_images, )"
      R"(got "size")");
}

TEST(CriteriaValidation, EveryRowOfAGroupNamesTheSameTiers) {
  EXPECT_EQ(error_of(parse(R"(rows:
  - metric: ingress.rps
    table: Ingress
    label: Requests/sec
    comparison: ">"
    tier_group: cluster_size
    tiers:
      small: {target: 10k}
      large: {target: 50k, critical: 10k}
  - metric: ingress.p99
    table: Ingress
    label: P99 latency
    comparison: "<"
    tier_group: cluster_size
    tiers:
      small: {target: 100ms}
)")),
            R"(criteria/x.yaml:15: rows[1].tiers: must name the same cluster_size tiers as rows[0].tiers )"
            R"((small, large), got "small")");
}

TEST(CriteriaValidation, DuplicateRowAndDuplicateKey) {
  EXPECT_EQ(
      error_of(parse(R"(rows:
  - {metric: api.qps, table: Control Plane, label: QPS, comparison: ">", target: 1000}
  - {metric: api.qps, table: Control Plane, label: QPS again, comparison: ">", target: 900}
)")),
      R"(criteria/x.yaml:3: rows[1]: duplicate of rows[0] (metric "api.qps" in table "Control Plane"))");
  EXPECT_EQ(error_of(parse(R"(rows:
  - metric: api.qps
    table: Control Plane
    label: QPS
    comparison: ">"
    target: 1000
    target: 900
)")),
            R"(criteria/x.yaml:7: rows[0]: duplicate key "target")");
}

TEST(CriteriaValidation, MalformedYamlNamesTheLine) {
  EXPECT_EQ(error_of(parse("rows:\n  - metric: api.qps\n    table: [Control Plane\n    label: QPS\n")),
            "criteria/x.yaml:4: end of sequence flow not found");
}

TEST(CriteriaValidation, EmptyOrWrongShapes) {
  EXPECT_EQ(error_of(parse("")), "criteria/x.yaml: must be a mapping, got nothing");
  EXPECT_EQ(error_of(parse("rows: 3\n")), R"(criteria/x.yaml:1: rows: must be a list, got "3")");
  EXPECT_EQ(error_of(parse("rows: []\n")),
            R"(criteria/x.yaml:1: rows: must list at least one row, got a list)");
  EXPECT_EQ(error_of(parse("version: 2\nrows: []\n")),
            R"(criteria/x.yaml:1: version: must be one of: 1, got "2")");
}

TEST(CriteriaValidation, MissingFile) {
  auto criteria = load_criteria("criteria/does-not-exist.yaml");
  EXPECT_EQ(error_of(criteria), "criteria/does-not-exist.yaml: cannot read: No such file or directory");
}

TEST(CriteriaRowLevels, UnitDefaultsToTheCatalogsAndOptionalFieldsAreEmpty) {
  auto criteria = parse(R"(rows:
  - metric: etcd.write.p99
    table: Control Plane
    label: Write latency P99
    comparison: "<"
    target: 25ms
)");
  ASSERT_TRUE(criteria.has_value()) << criteria.error().message;
  ASSERT_EQ(criteria->rows.size(), 1U);
  const CriteriaRow& row = criteria->rows.front();
  EXPECT_EQ(row.unit, "ms");
  EXPECT_EQ(row.component, "");
  EXPECT_EQ(row.reference, "");
  EXPECT_FALSE(row.critical.has_value());
  EXPECT_FALSE(row.tier.has_value());
  EXPECT_EQ(row.line, 2);
  EXPECT_EQ(criteria->source, "criteria/x.yaml");
}

TEST(Comparisons, SatisfiesAtTheBoundary) {
  EXPECT_FALSE(satisfies(Comparison::less, 1.0, 1.0));
  EXPECT_TRUE(satisfies(Comparison::less, 0.999, 1.0));
  EXPECT_TRUE(satisfies(Comparison::less_equal, 1.0, 1.0));
  EXPECT_FALSE(satisfies(Comparison::less_equal, 1.001, 1.0));
  EXPECT_FALSE(satisfies(Comparison::greater, 1000, 1000));
  EXPECT_TRUE(satisfies(Comparison::greater, 1000.5, 1000));
  EXPECT_TRUE(satisfies(Comparison::greater_equal, 1000, 1000));
  EXPECT_FALSE(satisfies(Comparison::greater_equal, 999, 1000));
  EXPECT_EQ(to_string(Comparison::less), "<");
  EXPECT_EQ(to_string(Comparison::less_equal), "<=");
  EXPECT_EQ(to_string(Comparison::greater), ">");
  EXPECT_EQ(to_string(Comparison::greater_equal), ">=");
}

}  // namespace
}  // namespace kp::config
