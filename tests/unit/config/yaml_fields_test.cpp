#include "config/yaml_fields.hpp"

#include <gtest/gtest.h>

namespace kp::config {
namespace {

TEST(YamlFields, ListItemsCarryPathAndLine) {
  auto root = parse_yaml("jobs:\n  - a\n  - {b: 1}\n", "f.yaml");
  ASSERT_TRUE(root.has_value()) << root.error().message;
  auto map = YamlMap::open(*root, {"jobs"});
  ASSERT_TRUE(map.has_value()) << map.error().message;
  auto jobs = map->require("jobs");
  ASSERT_TRUE(jobs.has_value());
  auto items = jobs->items();
  ASSERT_TRUE(items.has_value());
  ASSERT_EQ(items->size(), 2U);
  EXPECT_EQ((*items)[0].path(), "jobs[0]");
  EXPECT_EQ((*items)[0].line(), 2);
  EXPECT_EQ((*items)[0].echo(), "\"a\"");
  EXPECT_EQ((*items)[1].path(), "jobs[1]");
  EXPECT_EQ((*items)[1].line(), 3);
  EXPECT_EQ((*items)[1].echo(), "a mapping");
  EXPECT_EQ((*items)[1].fail("bad").error().message, "f.yaml:3: jobs[1]: bad");
}

TEST(YamlFields, EmptyValueIsReportedOnItsKeysLine) {
  auto root = parse_yaml("a: 1\nb:\nc: 2\n", "f.yaml");
  ASSERT_TRUE(root.has_value());
  auto map = YamlMap::open_any(*root);
  ASSERT_TRUE(map.has_value());
  auto b = map->get("b");
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(b->is_null());
  EXPECT_EQ(read_string(*b).error().message, "f.yaml:2: b: must be a non-empty string, got nothing");
  EXPECT_FALSE(map->get("d").has_value());
  EXPECT_EQ(map->require("d").error().message, "f.yaml:1: missing key \"d\"");
}

TEST(YamlFields, TypedReaders) {
  auto root = parse_yaml("d: 250us\nr: 10k\nb: 200MB/s\nq: 99.9%\nt: true\n", "f.yaml");
  ASSERT_TRUE(root.has_value());
  auto map = YamlMap::open_any(*root);
  ASSERT_TRUE(map.has_value());
  EXPECT_EQ(read_duration(*map->get("d")).value(), std::chrono::microseconds(250));
  EXPECT_DOUBLE_EQ(read_rate(*map->get("r")).value().per_second, 10e3);
  EXPECT_DOUBLE_EQ(read_bandwidth(*map->get("b")).value().bits_per_second, 1.6e9);
  EXPECT_DOUBLE_EQ(read_ratio(*map->get("q")).value().fraction, 0.999);
  EXPECT_DOUBLE_EQ(read_quantity(*map->get("d"), Quantity::duration).value(), 250e-6);
  EXPECT_TRUE(read_bool(*map->get("t")).value());
  EXPECT_EQ(read_rate(*map->get("t")).error().message,
            "f.yaml:5: t: not a rate, got \"true\" (use e.g. 10k, 1500/s, 2.5M, 100/m, 20 QPS)");
  EXPECT_EQ(read_choice(*map->get("r"), {"x", "y"}).error().message,
            "f.yaml:2: r: must be one of: x, y, got \"10k\"");
}

TEST(YamlFields, NonScalarValuesAreNotParsedAsUnits) {
  auto root = parse_yaml("d: [1, 2]\n", "f.yaml");
  ASSERT_TRUE(root.has_value());
  auto map = YamlMap::open_any(*root);
  ASSERT_TRUE(map.has_value());
  EXPECT_EQ(read_duration(*map->get("d")).error().message, "f.yaml:1: d: not a duration, got a list");
}

TEST(YamlFields, SyntaxErrorsAndUnreadableFiles) {
  auto root = parse_yaml("a: 1\n b: 2\n", "f.yaml");
  ASSERT_FALSE(root.has_value());
  EXPECT_EQ(root.error().kind, ErrorKind::input);
  EXPECT_EQ(root.error().message, "f.yaml:2: illegal map value");
  auto text = read_text_file("/nonexistent/f.yaml");
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().message, "/nonexistent/f.yaml: cannot read: No such file or directory");
  auto directory = read_text_file("/");
  ASSERT_FALSE(directory.has_value());
  EXPECT_EQ(directory.error().message, "/: cannot read: Is a directory");
}

}  // namespace
}  // namespace kp::config
