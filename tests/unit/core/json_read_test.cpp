// Fields of JSON another process wrote, read without exceptions: absent or null falls back, another type
// is one line naming the document, the field and the value.

#include "core/json_read.hpp"

#include <gtest/gtest.h>

namespace kp {
namespace {

using nlohmann::json;

TEST(JsonRead, AbsentOrNullFallsBackAndTheRightTypeIsRead) {
  const json doc = json::parse(R"({"s": "x", "b": true, "i": 7, "o": {"k": 1}, "a": ["p", "q"], "n": null})");
  EXPECT_EQ(*json_string(doc, "s", "doc"), "x");
  EXPECT_EQ(*json_string(doc, "n", "doc", "fallback"), "fallback");
  EXPECT_EQ(*json_string(doc, "missing", "doc", "?"), "?");
  EXPECT_TRUE(*json_bool(doc, "b", "doc"));
  EXPECT_TRUE(*json_bool(doc, "missing", "doc", true));
  EXPECT_EQ(*json_int(doc, "i", "doc"), 7);
  EXPECT_EQ(*json_object(doc, "o", "doc"), json::parse(R"({"k": 1})"));
  EXPECT_EQ(*json_object(doc, "missing", "doc"), json::object());
  EXPECT_EQ(*json_strings(doc, "a", "doc"), (std::vector<std::string>{"p", "q"}));
  EXPECT_TRUE(json_strings(doc, "missing", "doc")->empty());
  EXPECT_EQ(*json_string(json(nullptr), "s", "doc", "z"), "z");  // a null parent: everything falls back
}

TEST(JsonRead, AnotherTypeIsOneLineNamingTheField) {
  const json doc = json::parse(R"({"s": 5, "b": "yes", "i": 1.5, "o": [1], "a": ["p", 3]})");
  const auto message = [](const auto& result) {
    EXPECT_FALSE(result);
    return result ? std::string() : result.error().message;
  };
  EXPECT_EQ(message(json_string(doc, "s", "agent line")), "agent line: s: must be a string, got 5");
  EXPECT_EQ(message(json_bool(doc, "status.b", "review")),
            "review: status.b: must be a boolean, got \"yes\"");
  EXPECT_EQ(message(json_int(doc, "i", "doc")), "doc: i: must be an integer, got 1.5");
  EXPECT_EQ(message(json_object(doc, "o", "doc")), "doc: o: must be an object, got [1]");
  EXPECT_EQ(message(json_strings(doc, "a", "doc")), "doc: a[1]: must be a string, got 3");
  EXPECT_EQ(message(json_string(json::array({1}), "status.reason", "review")),
            "review: status: must be an object, got [1]");
  EXPECT_EQ(json_string(doc, "s", "doc").error().kind, ErrorKind::protocol);
  // A long value is cut.
  const json long_value = {{"s", std::vector<int>(100, 1)}};
  EXPECT_LT(message(json_string(long_value, "s", "doc")).size(), 100u);
}

}  // namespace
}  // namespace kp
