// The answer to a SelfSubjectAccessReview, read without exceptions: a garbled server answer is one line
// naming the field.

#include "kube/access_review.hpp"

#include <gtest/gtest.h>

namespace kp::kube {
namespace {

Permission pods_create() {
  return Permission{.verb = "create", .group = "", .resource = "pods", .ns = "", .why = "the agent pods"};
}

TEST(AccessReview, TheAnswersStatusIsRead) {
  Result<AccessAnswer> answer =
      read_access_answer(pods_create(), json::parse(R"({"kind": "SelfSubjectAccessReview",
                                      "status": {"allowed": false, "reason": "no RBAC policy matched"}})"));
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_FALSE(answer->allowed);
  EXPECT_EQ(answer->reason, "no RBAC policy matched");
  answer = read_access_answer(pods_create(), json::parse(R"({"status": {"allowed": true}})"));
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_TRUE(answer->allowed);
  EXPECT_EQ(answer->reason, "");
}

TEST(AccessReview, AGarbledAnswerNamesTheFieldAndNeverThrows) {
  struct Case {
    const char* body;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"status": {"allowed": "yes"}})",
            "SelfSubjectAccessReview answer: status.allowed: must be a boolean, got \"yes\""},
           {R"({"status": {"allowed": true, "reason": 3}})",
            "SelfSubjectAccessReview answer: status.reason: must be a string, got 3"},
           {R"({"status": "ok"})", "SelfSubjectAccessReview answer: status: must be an object, got \"ok\""},
           {R"({"status": {}})",
            "SelfSubjectAccessReview answer: status.allowed: missing, got {\"status\":{}}"},
           {R"([1, 2])", "SelfSubjectAccessReview answer: must be an object, got [1,2]"}}) {
    Result<AccessAnswer> answer = read_access_answer(pods_create(), json::parse(c.body));
    ASSERT_FALSE(answer) << c.body;
    EXPECT_EQ(answer.error().message, c.message);
    EXPECT_EQ(answer.error().kind, ErrorKind::protocol);
  }
}

}  // namespace
}  // namespace kp::kube
