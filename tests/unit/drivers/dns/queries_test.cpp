#include "drivers/dns/queries.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "drivers/dns/wire.hpp"
#include "lab/cluster_zone.hpp"

namespace kp::drivers::dns {
namespace {

std::string error_of(std::string_view text) {
  Result<std::vector<QuerySpec>> parsed = parse_query_file(text, "queries.txt");
  return parsed ? std::string("parsed") : parsed.error().message;
}

TEST(DnsQueryFile, ReadsDnsperfFormat) {
  Result<std::vector<QuerySpec>> parsed = parse_query_file(
      "; dnsperf comment\n"
      "\n"
      "www.example.com A\n"
      "  _https._tcp.kubernetes.default.svc.cluster.local\tSRV  \r\n"
      "# our comment\n"
      "example.com. aaaa\n"
      "x.example TYPE65",
      "queries.txt");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, (std::vector<QuerySpec>{{"www.example.com", type::a},
                                             {"_https._tcp.kubernetes.default.svc.cluster.local", type::srv},
                                             {"example.com.", type::aaaa},
                                             {"x.example", 65}}));
}

TEST(DnsQueryFile, NamesFileAndLineOfABadLine) {
  EXPECT_EQ(error_of("a.example A\nwww.example.com\n"),
            "queries.txt:2: expected \"name TYPE\", got \"www.example.com\"");
  EXPECT_EQ(error_of("a.example A\n\n; c\nb.example AX\n"),
            "queries.txt:4: unknown query type \"AX\" (A, AAAA, SRV, PTR, TXT, ... or TYPE<n>)");
  EXPECT_EQ(error_of("a.example A extra\n"),
            "queries.txt:1: expected \"name TYPE\", got \"a.example A extra\"");
  EXPECT_EQ(error_of("a..example A\n"), "queries.txt:1: bad name \"a..example\": empty label");
  EXPECT_EQ(error_of("; only a comment\n\n"), "queries.txt: no queries (only blank lines and comments)");
}

TEST(DnsQueryFile, ReadsAFileAndNamesAMissingOne) {
  std::filesystem::path file = std::filesystem::temp_directory_path() / "kp-dns-queries-test.txt";
  {
    std::ofstream out(file);
    out << "a.example A\nb.example MX\nc.example BOGUS\n";
  }
  Result<std::vector<QuerySpec>> parsed = read_query_file(file);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().message,
            file.string() + ":3: unknown query type \"BOGUS\" (A, AAAA, SRV, PTR, TXT, ... or TYPE<n>)");
  EXPECT_EQ(parsed.error().kind, ErrorKind::input);
  std::filesystem::remove(file);
  Result<std::vector<QuerySpec>> missing = read_query_file(file);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().message.starts_with(file.string() + ": cannot read"))
      << missing.error().message;
}

TEST(DnsKubernetesMix, HasTheDocumentedSharesAndIsDeterministic) {
  lab::ClusterShape shape;
  std::vector<QuerySpec> mix = kubernetes_mix(shape, 10000, 7);
  ASSERT_EQ(mix.size(), 10000u);
  EXPECT_EQ(mix, kubernetes_mix(shape, 10000, 7));
  EXPECT_NE(mix, kubernetes_mix(shape, 10000, 8));
  std::map<std::string, int> kinds;
  for (const QuerySpec& q : mix) {
    if (q.name == "kubernetes.default.svc.cluster.local") {
      ++kinds["kubernetes"];
    } else if (q.type == type::srv) {
      ++kinds["srv"];
    } else if (q.type == type::aaaa) {
      ++kinds["aaaa"];
    } else if (q.name.find(".pod.") != std::string::npos) {
      ++kinds["pod"];
    } else if (q.name.ends_with(".example.com")) {
      ++kinds["external"];
    } else if (q.name.starts_with("www-")) {
      ++kinds["miss"];
    } else {
      ++kinds["service"];
    }
  }
  EXPECT_EQ(kinds["service"], 4000);
  for (const char* kind : {"kubernetes", "srv", "aaaa", "pod", "external", "miss"}) {
    EXPECT_EQ(kinds[kind], 1000) << kind;
  }
}

TEST(DnsKubernetesMix, AsksForNamesTheLabZoneHolds) {
  lab::ClusterShape shape;
  std::set<std::string> owners;
  for (const lab::ZoneRecord& record : lab::cluster_zone_records(shape)) {
    owners.insert(record.owner.substr(0, record.owner.size() - 1) + "/" + record.type);
  }
  for (const QuerySpec& q : kubernetes_mix(shape, 2000)) {
    if (q.type == type::aaaa || (q.name.starts_with("www-") && !q.name.ends_with(".example.com"))) {
      continue;  // NODATA and NXDOMAIN by design
    }
    EXPECT_TRUE(owners.contains(q.name + "/" + type_name(q.type))) << q.name << " " << type_name(q.type);
  }
}

TEST(DnsKubernetesMix, ApplicationNamesAreShortAsInPods) {
  std::vector<QuerySpec> mix = kubernetes_application_mix(lab::ClusterShape{}, 1000);
  int short_names = 0;
  for (const QuerySpec& q : mix) {
    EXPECT_FALSE(q.name.ends_with('.')) << q.name;
    short_names += q.name.find('.') == std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(short_names, 300);
}

}  // namespace
}  // namespace kp::drivers::dns
