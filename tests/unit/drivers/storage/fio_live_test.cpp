// fio's live counts while it runs (fio_live.hpp): the output file read as it grows, each job's I/Os since the
// previous dump handed to the LiveSink, at most once per second of an injected clock.

#include "drivers/storage/fio_live.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <gtest/gtest.h>

namespace kp::drivers::storage {
namespace {

using namespace std::chrono_literals;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(KP_SOURCE_DIR) + "/tests/fixtures/fio/" + name, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << "missing fixture " << name;
  return text.str();
}

struct Recorded {
  std::string series;
  std::uint64_t ok = 0;
  std::uint64_t in_buckets = 0;
  bool finished_later = false;
  Phase phase = Phase::etcd;
};

class RecordingSink final : public LiveSink {
 public:
  void add(const LiveDelta& delta) override {
    Recorded one{std::string(delta.series), delta.ok, 0, delta.finished_later, delta.phase};
    for (std::uint64_t count : delta.buckets) {
      one.in_buckets += count;
    }
    deltas.push_back(one);
  }
  std::map<std::string, std::uint64_t> totals() const {
    std::map<std::string, std::uint64_t> out;
    for (const Recorded& one : deltas) {
      out[one.series] += one.ok;
    }
    return out;
  }
  std::vector<Recorded> deltas;
};

JobSet fixture_jobs() {
  JobSet set;
  FioJob random;
  random.name = "randread-4k";
  random.numjobs = 2;
  FioJob sequential;
  sequential.name = "seqwrite-1m";
  set.jobs = {random, sequential};
  return set;
}

// A real run's file (`fio --output-format=json+ --status-interval=1`, tests/fixtures/fio/), fed as fio writes
// it: every job's completions reach the sink, in as many hand-overs as it had seconds, and together they are
// the final document's count (each dump's counts are cumulative; the differences add up to the end).
TEST(FioLiveFeed, EveryCompletionOfTheRealRunReachesTheSinkOnce) {
  const std::string text = fixture("kubeproof_status.json");
  Result<FioOutput> whole = parse_fio_output(text, "f");
  ASSERT_TRUE(whole) << whole.error().message;
  RecordingSink sink;
  FioLiveFeed feed(fixture_jobs(), "", &sink, "f");
  for (std::size_t at = 0; at < text.size(); at += 777) {  // pieces that cut documents and lines anywhere
    feed.feed(std::string_view(text).substr(at, 777));
  }
  ASSERT_FALSE(feed.stopped()) << feed.stopped()->message;
  const std::map<std::string, std::uint64_t> totals = sink.totals();
  ASSERT_EQ(totals.size(), 2u);
  for (const FioJobResult& job : whole->jobs) {
    EXPECT_EQ(totals.at(job.name), job.read.clat.samples + job.write.clat.samples) << job.name;
  }
  std::size_t random_handovers = 0;
  for (const Recorded& one : sink.deltas) {
    EXPECT_EQ(one.phase, Phase::storage);
    EXPECT_TRUE(one.finished_later);
    EXPECT_EQ(one.ok, one.in_buckets) << "a histogram whose count is not its buckets' sum";
    EXPECT_GT(one.ok, 0u);
    random_handovers += one.series == "randread-4k" ? 1 : 0;
  }
  // As many as its seconds in the report's series (there a short tail joins the second before it).
  const std::vector<FinishedSeries> series = fio_series(*whole, fixture_jobs(), "");
  EXPECT_GE(random_handovers, series.at(0).seconds.size());
  EXPECT_LE(random_handovers, series.at(0).seconds.size() + 1);
}

TEST(FioLiveFeed, LatenciesGoToTheLiveBucketOfTheirBin) {
  FioInterval interval;
  interval.bins = {{800'000, 3}, {3'000'000, 1}};  // 0.8 ms and 3 ms
  const LiveDelta delta = live_delta(interval, "randread-4k");
  EXPECT_EQ(delta.ok, 4u);
  EXPECT_EQ(delta.buckets[LiveSeries::bucket_of(1ms)], 3u);  // (0.5 ms, 1 ms]
  EXPECT_EQ(delta.buckets[LiveSeries::bucket_of(5ms)], 1u);  // (2.5 ms, 5 ms]
  EXPECT_EQ(delta.latency_sum_ns, 3 * 800'000 + 3'000'000);
  EXPECT_EQ(delta.series, "randread-4k");
}

TEST(FioLiveFeed, ADocumentThatIsNotFiosStopsTheCountsAndSaysWhere) {
  RecordingSink sink;
  FioLiveFeed feed(fixture_jobs(), "", &sink, "fio status /w/volume.json");
  feed.feed("fio: some line\n{\"jobs\": 7}\n");
  ASSERT_TRUE(feed.stopped());
  EXPECT_NE(feed.stopped()->message.find("fio status /w/volume.json: document 1 (byte 15)"),
            std::string::npos)
      << feed.stopped()->message;
  EXPECT_NE(feed.stopped()->message.find("jobs"), std::string::npos) << feed.stopped()->message;
  feed.feed(fixture("kubeproof_status.json"));  // nothing after it stopped
  EXPECT_TRUE(sink.deltas.empty());
}

TEST(FioLiveFeed, NoSinkReadsNothing) {
  FioLiveFeed feed(fixture_jobs(), "", nullptr, "f");
  feed.feed("{ not json at all }\n");
  EXPECT_FALSE(feed.stopped());
}

// The file is read at most once per second of the injected clock, whatever fio appended meanwhile; a forced
// read (after fio exited) reads at once. A file that is not there yet is nothing.
TEST(FioLiveFeed, FollowsTheFileAtMostOncePerSecondOfTheClock) {
  const std::string text = fixture("kubeproof_status.json");
  Result<FioOutput> whole = parse_fio_output(text, "f");
  ASSERT_TRUE(whole) << whole.error().message;
  // Where the third dump ends: the first part of the file holds the first three documents.
  const std::size_t cut = [&] {
    std::size_t at = 0;
    for (int document = 0; document < 3; ++document) {
      at = text.find("\n}\n", at) + 3;
    }
    return at;
  }();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kp-fio-live-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "volume.json";
  FakeClock clock;
  RecordingSink sink;
  FioLiveFeed feed(fixture_jobs(), " on compare_to", &sink, "f");
  feed.follow(file, clock.now());  // not created yet
  EXPECT_TRUE(sink.deltas.empty());
  EXPECT_FALSE(feed.stopped());
  {
    std::ofstream out(file, std::ios::binary);
    out << text.substr(0, cut);
  }
  clock.advance(999ms);
  feed.follow(file, clock.now());  // within a second of the last look
  EXPECT_TRUE(sink.deltas.empty());
  clock.advance(1ms);
  feed.follow(file, clock.now());
  const std::size_t first = sink.deltas.size();
  EXPECT_GT(first, 0u);
  {
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out << text.substr(cut);
  }
  clock.advance(500ms);
  feed.follow(file, clock.now());
  EXPECT_EQ(sink.deltas.size(), first);
  feed.follow(file, clock.now(), /*force=*/true);
  EXPECT_GT(sink.deltas.size(), first);
  const std::map<std::string, std::uint64_t> totals = sink.totals();
  EXPECT_EQ(totals.at("randread-4k on compare_to"),
            whole->jobs.at(0).read.clat.samples + whole->jobs.at(0).write.clat.samples);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kp::drivers::storage
