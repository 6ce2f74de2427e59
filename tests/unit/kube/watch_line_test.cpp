#include <set>
#include <string>

#include <gtest/gtest.h>

#include "kube/watch.hpp"

namespace kp::kube {
namespace {

constexpr std::string_view kPath = "/api/v1/pods?watch=true";

TEST(WatchLine, EventsCarryTheirObjectAndResourceVersion) {
  ApiResult<WatchEvent> event = parse_watch_line(
      R"({"type":"MODIFIED","object":{"kind":"Pod","metadata":{"resourceVersion":"7"}}})", kPath);
  ASSERT_TRUE(event) << event.error().error.message;
  EXPECT_EQ(event->type, WatchEvent::Type::modified);
  EXPECT_EQ(event->object["kind"], "Pod");
  EXPECT_EQ(event_resource_version(*event), "7");
}

TEST(WatchLine, AnErrorEventIsItsStatus) {
  ApiResult<WatchEvent> gone = parse_watch_line(
      R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})",
      kPath);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, 410);
  EXPECT_EQ(gone.error().reason, "Expired");
  EXPECT_EQ(gone.error().error.kind, ErrorKind::unavailable);
  EXPECT_EQ(gone.error().error.message,
            std::string("watch ") + std::string(kPath) + ": 410 Expired: too old");
}

// Issue 18, found while writing the fuzz target watch_lines: fields of another type than the API's threw
// nlohmann's type_error out of the stream's line reader (on the transport thread, which ended the process).
TEST(WatchLine, FieldsOfTheWrongTypeAreErrorsNotExceptions) {
  for (std::string_view line :
       {R"({"type":"ERROR","object":5})", R"({"type":"ERROR","object":{"code":"410"}})",
        R"({"type":"ERROR","object":{"reason":1,"message":[]}})", R"({"type":7})",
        R"({"type":null,"object":{}})", R"([1,2])", R"({"type":"ADDED")"}) {
    ApiResult<WatchEvent> event = parse_watch_line(line, kPath);
    EXPECT_FALSE(event) << line;
    EXPECT_EQ(event.error().error.kind, ErrorKind::protocol) << line;
  }
  ApiResult<WatchEvent> odd =
      parse_watch_line(R"({"type":"ADDED","object":{"metadata":{"resourceVersion":12}}})", kPath);
  ASSERT_TRUE(odd);
  EXPECT_EQ(event_resource_version(*odd), "");
  odd = parse_watch_line(R"({"type":"BOOKMARK","object":"x"})", kPath);
  ASSERT_TRUE(odd);
  EXPECT_EQ(event_resource_version(*odd), "");
}

int timeout_in(const std::string& path) {
  const std::string key = "&timeoutSeconds=";
  const std::size_t at = path.find(key);
  return at == std::string::npos ? -1 : std::stoi(path.substr(at + key.size()));
}

// As client-go's reflector: every watch asks the server to end it after a random 5-10 min, a dead connection
// is cut after the stall timeout, and the client's own bound is both.
TEST(WatchRequest, AsksForARandomServerTimeoutAndCutsAStalledStream) {
  const Resource pods{"", "v1", "pods", "Pod", true};
  WatchOptions options;
  options.resource_version = "42";
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    const Request request = watch_request(pods, "ns", options);
    const int timeout = timeout_in(request.path);
    ASSERT_GE(timeout, 300) << request.path;
    ASSERT_LT(timeout, 600) << request.path;
    seen.insert(timeout);
    EXPECT_EQ(request.timeout, std::chrono::seconds(timeout) + kWatchStallTimeout);
    EXPECT_EQ(request.stall_timeout, kWatchStallTimeout);
    EXPECT_FALSE(request.retry);
  }
  EXPECT_GT(seen.size(), 20U) << "spread, so watches do not all end together";
  const Request request = watch_request(pods, "ns", options);
  EXPECT_TRUE(
      request.path.starts_with("/api/v1/namespaces/ns/pods?watch=true&allowWatchBookmarks=true"
                               "&resourceVersion=42&timeoutSeconds="))
      << request.path;

  options.timeout_seconds = 30;
  options.stall_timeout = std::chrono::seconds(5);
  const Request fixed = watch_request(pods, "", options);
  EXPECT_EQ(timeout_in(fixed.path), 30);
  EXPECT_EQ(fixed.timeout, std::chrono::seconds(35));
  EXPECT_EQ(fixed.stall_timeout, std::chrono::seconds(5));
  EXPECT_EQ(watch_timeout_seconds(45), 45);
}

TEST(ListPage, ItemsContinueAndTheFirstPagesResourceVersion) {
  ListResult list;
  ApiResult<std::string> next = take_list_page(
      json::parse(R"({"items":[{"a":1},{"b":2}],"metadata":{"resourceVersion":"5","continue":"c1"}})"), "/p",
      list);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, "c1");
  next = take_list_page(json::parse(R"({"items":[{"c":3}],"metadata":{"resourceVersion":"9"}})"), "/p", list);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, "");
  EXPECT_EQ(list.items.size(), 3u);
  EXPECT_EQ(list.pages, 2);
  EXPECT_EQ(list.resource_version, "5");  // a paginated list is a snapshot at its first page
}

// Issue 18, found while writing the fuzz target kube_response: metadata.continue or resourceVersion of
// another type, or metadata that is not an object, threw nlohmann's type_error out of Api::list.
TEST(ListPage, FieldsOfTheWrongTypeAreProtocolErrors) {
  for (std::string_view page : {R"({"metadata":{"continue":5}})", R"({"metadata":{"resourceVersion":[]}})",
                                R"({"metadata":"x"})", R"({"items":{"a":1}})"}) {
    ListResult list;
    ApiResult<std::string> next = take_list_page(json::parse(page), "/p", list);
    ASSERT_FALSE(next) << page;
    EXPECT_EQ(next.error().error.kind, ErrorKind::protocol) << page;
    EXPECT_NE(next.error().error.message.find("GET /p: list page with"), std::string::npos)
        << next.error().error.message;
  }
  ListResult list;
  EXPECT_TRUE(take_list_page(json::parse(R"({"items":null,"metadata":{"continue":null}})"), "/p", list));
}

}  // namespace
}  // namespace kp::kube
