// The agents' live counts as stderr lines (core/live_lines.hpp): exact round trip, the series a storage
// agent names, and a garbled line is dropped rather than shown.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/live_lines.hpp"

namespace kp {
namespace {

using namespace std::chrono_literals;

TEST(LiveLines, RoundTripIsExact) {
  LiveDelta delta;
  delta.ok = 7;
  delta.errors = 2;
  delta.bytes = 123456789012345ULL;
  delta.buckets[LiveSeries::bucket_of(300us)] = 5;
  delta.buckets[LiveSeries::bucket_of(90s)] = 2;  // +Inf
  delta.latency_sum_ns = 181'500'000'000;
  const std::string line = live_line(delta);
  EXPECT_TRUE(line.starts_with(kLiveLinePrefix)) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const std::optional<LiveDelta> parsed = parse_live_line(line);
  ASSERT_TRUE(parsed) << line;
  EXPECT_EQ(parsed->ok, 7u);
  EXPECT_EQ(parsed->errors, 2u);
  EXPECT_EQ(parsed->bytes, 123456789012345ULL);
  EXPECT_EQ(parsed->latency_sum_ns, 181'500'000'000);
  EXPECT_EQ(parsed->buckets, delta.buckets);
}

TEST(LiveLines, TheSeriesTravelsWhenTheDeltaNamesOne) {
  LiveDelta delta;
  delta.ok = 2;
  delta.buckets[LiveSeries::bucket_of(1ms)] = 2;
  delta.series = "randread-4k on compare_to";
  std::optional<LiveLine> read = read_live_line(live_line(delta));
  ASSERT_TRUE(read);
  EXPECT_EQ(read->series, "randread-4k on compare_to");
  EXPECT_EQ(read->delta.ok, 2u);
  EXPECT_TRUE(read->delta.series.empty()) << "it would point into a string the line owns";

  delta.series = {};
  read = read_live_line(live_line(delta));
  ASSERT_TRUE(read);
  EXPECT_EQ(read->series, "");
}

TEST(LiveLines, ASeriesNameThatCouldNotBeALabelDropsTheLine) {
  const std::string counts = R"("ok":0,"errors":0,"bytes":0,"latency_sum_ns":0,"buckets":)"
                             "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
  auto line = [&](const std::string& series) {
    return std::string(kLiveLinePrefix) + "{" + counts + R"(,"series":)" + series + "}";
  };
  ASSERT_TRUE(read_live_line(line(R"("seqwrite-1m")")));
  for (const std::string& bad : {std::string(R"("")"), std::string("5"), std::string(R"("a
b")"),
                                 std::string(R"("quote"d")"), std::string(R"("brace{x}")"),
                                 "\"" + std::string(kMaxLiveSeriesName + 1, 'a') + "\""}) {
    EXPECT_FALSE(read_live_line(line(bad))) << bad;
  }
}

TEST(LiveLines, OtherAndMalformedLinesAreNotCounts) {
  const std::string zeros = "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
  const std::string one_in_first = "[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
  auto line = [](const std::string& body) { return std::string(kLiveLinePrefix) + body; };
  // A well-formed one, as the cases below differ from it in one field each.
  ASSERT_TRUE(parse_live_line(
      line(R"({"ok":1,"errors":0,"bytes":0,"latency_sum_ns":5,"buckets":)" + one_in_first + "}")));
  const std::vector<std::string> bad = {
      "net-client: 3s 1200 transactions/s",  // a progress line for people
      line("{not json"),
      line("[1,2]"),
      line(R"({"ok":1,"errors":0,"bytes":0,"latency_sum_ns":5,"buckets":)" + zeros + "}"),  // ok != buckets
      line(R"({"ok":-1,"errors":0,"bytes":0,"latency_sum_ns":5,"buckets":)" + zeros + "}"),
      line(R"({"ok":1.5,"errors":0,"bytes":0,"latency_sum_ns":5,"buckets":)" + one_in_first + "}"),
      line(R"({"ok":0,"errors":0,"bytes":0,"latency_sum_ns":-5,"buckets":)" + zeros + "}"),
      line(R"({"ok":0,"errors":0,"bytes":0,"latency_sum_ns":0,"buckets":[0,0]})"),
      line(R"({"ok":0,"errors":0,"latency_sum_ns":0,"buckets":)" + zeros + "}"),  // no bytes
      line(R"({"ok":0,"errors":0,"bytes":0,"latency_sum_ns":0,"buckets":[18446744073709551615,1,)"
           R"(0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]})"),  // the bucket sum overflows
  };
  for (const std::string& text : bad) {
    EXPECT_FALSE(parse_live_line(text)) << text;
  }
}

TEST(LiveLines, TheSinkWritesOneLinePerHandOver) {
  std::vector<std::string> written;
  LineLiveSink sink([&](std::string_view text) { written.emplace_back(text); });
  LiveDelta delta;
  delta.ok = 3;
  delta.buckets[0] = 3;
  sink.add(delta);
  sink.add(LiveDelta{});
  ASSERT_EQ(written.size(), 2u);
  ASSERT_TRUE(parse_live_line(written[0]));
  EXPECT_EQ(parse_live_line(written[0])->ok, 3u);
  EXPECT_EQ(parse_live_line(written[1])->ok, 0u);
}

}  // namespace
}  // namespace kp
