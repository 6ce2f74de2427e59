#include <fmt/format.h>
#include <gtest/gtest.h>

#include "report/run_report.hpp"
#include "report_fixture.hpp"

namespace kp::report {
namespace {

using testing::CommandOutput;
using testing::run_command;
using testing::TempDir;

// Evaluates an XPath expression on a file with xmllint: the tool a CI system's parser would agree with.
std::string xpath(const std::filesystem::path& file, std::string_view expression) {
  CommandOutput result = run_command(fmt::format("xmllint --xpath '{}' '{}'", expression, file.string()));
  EXPECT_EQ(result.status, 0) << result.output;
  // xmllint ends the value with a newline of its own (versions differ); the value is what comes before it.
  if (result.output.ends_with('\n')) {
    result.output.pop_back();
  }
  return result.output;
}

class JunitReport : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    file_ = dir_.path() / "junit.xml";
    testing::write_file(file_, render_junit(testing::fixture_report()));
  }
  TempDir dir_;
  std::filesystem::path file_;
};

TEST_F(JunitReport, IsWellFormedXml) {
  CommandOutput result = run_command(fmt::format("xmllint --noout '{}'", file_.string()));
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(result.output, "");
}

TEST_F(JunitReport, OneSuitePerPhaseOneCasePerRow) {
  EXPECT_EQ(xpath(file_, "count(/testsuites/testsuite)"), "6");
  EXPECT_EQ(xpath(file_, "count(//testcase)"), "7");
  EXPECT_EQ(xpath(file_, "string(/testsuites/@tests)"), "7");
  EXPECT_EQ(xpath(file_, "string(/testsuites/testsuite[1]/@name)"), "etcd");
  EXPECT_EQ(xpath(file_, "string(/testsuites/testsuite[6]/@name)"), "ingress");
  EXPECT_EQ(xpath(file_, "count(//testcase[@name=\"api.mutating.p99 [Kubernetes SLO]\"])"), "1");
  EXPECT_EQ(xpath(file_, "count(//testcase[@name=\"api.mutating.p99 [Control Plane]\"])"), "1");
  EXPECT_EQ(xpath(file_, "string(//testcase[@name=\"etcd.write.p99 [Control Plane]\"]/@classname)"),
            "kubeproof.etcd");
}

TEST_F(JunitReport, FailIsFailureNotMeasuredIsSkippedConditionalPassPasses) {
  EXPECT_EQ(xpath(file_, "count(//testcase/failure)"), "1");
  EXPECT_EQ(xpath(file_, "string(/testsuites/@failures)"), "1");
  EXPECT_EQ(xpath(file_, "count(//testcase[@name=\"etcd.read.p99 [Control Plane]\"]/failure)"), "1");
  EXPECT_EQ(xpath(file_, "string(/testsuites/testsuite[@name=\"etcd\"]/@failures)"), "1");

  EXPECT_EQ(xpath(file_, "count(//testcase/skipped)"), "1");
  EXPECT_EQ(xpath(file_, "string(/testsuites/@skipped)"), "1");
  EXPECT_EQ(xpath(file_, "count(//testcase[@name=\"ingress.rps [Ingress]\"]/skipped)"), "1");

  // CONDITIONAL PASS: neither failure nor skipped, and it says so.
  EXPECT_EQ(xpath(file_, "count(//testcase[@name=\"api.mutating.p99 [Control Plane]\"]/*)"), "1");
  std::string out = xpath(file_, "string(//testcase[@name=\"api.mutating.p99 [Control Plane]\"]/system-out)");
  EXPECT_NE(out.find("CONDITIONAL PASS"), std::string::npos) << out;
  EXPECT_EQ(xpath(file_, "count(//testcase[@name=\"storage.randread_4k.iops [Storage]\"]/system-out)"), "1");
}

TEST_F(JunitReport, SpecialCharactersAreEscapedAndSurviveTheRoundTrip) {
  std::string reason = xpath(file_,
                             "string(/testsuites/testsuite[@name=\"network\"]/properties/"
                             "property[@name=\"reason\"]/@value)");
  EXPECT_EQ(reason, "no driver for \"network\" <yet> & more");
  std::string failure = xpath(file_, "string(//testcase[@name=\"etcd.read.p99 [Control Plane]\"]/failure)");
  EXPECT_NE(failure.find("Read latency <P99> & \"quoted\""), std::string::npos) << failure;
}

TEST(JunitReportBroken, InvalidPhaseAddsAnErrorCaseAndControlBytesAreDropped) {
  RunReport report = testing::fixture_report();
  report.inputs[3].invalid_reasons.push_back("achieved 712/s of the intended 1000/s \x01\x02");
  report.evaluation = eval::evaluate(report.inputs, testing::fixture_rows(), eval::EvaluationOptions{});
  TempDir dir;
  std::filesystem::path file = dir.path() / "junit.xml";
  testing::write_file(file, render_junit(report));
  EXPECT_EQ(run_command(fmt::format("xmllint --noout '{}'", file.string())).status, 0);
  EXPECT_EQ(xpath(file, "count(//testcase[@name=\"dns phase\"]/error)"), "1");
  EXPECT_EQ(xpath(file, "string(/testsuites/@errors)"), "1");
  std::string message = xpath(file, "string(//testcase[@name=\"dns phase\"]/error/@message)");
  EXPECT_NE(message.find("INVALID"), std::string::npos) << message;
  EXPECT_NE(message.find("achieved 712/s"), std::string::npos) << message;
}

}  // namespace
}  // namespace kp::report
