#include <gtest/gtest.h>

#include "http/message.hpp"
#include "http/router.hpp"

namespace amphi::http {
namespace {

TEST(Query, DecodesPairsAndEscapes) {
  auto q = parseQuery("a=1&b=x%20y+z&&c&d=%zz&e=%41");
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(q[1].second, "x y z");
  EXPECT_EQ(q[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ(q[3].second, "%zz");
  EXPECT_EQ(q[4].second, "A");
  EXPECT_EQ(percentDecode("100%", false), "100%");
  EXPECT_EQ(percentDecode("a+b", false), "a+b");
  EXPECT_EQ(percentEncode("a b/é"), "a%20b%2F%C3%A9");
}

TEST(Cookies, FindsTheNamedOne) {
  Request r;
  r.headers["cookie"] = "other=1; amphi_demo=tok.en.x ;  last=z";
  EXPECT_EQ(r.cookie("amphi_demo"), "tok.en.x");
  EXPECT_EQ(r.cookie("last"), "z");
  EXPECT_EQ(r.cookie("amphi"), std::nullopt);
  Request none;
  EXPECT_EQ(none.cookie("x"), std::nullopt);
}

TEST(Router, MatchesParamsMethodsAndWildcards) {
  Router router;
  int hit = 0;
  router.add("GET", "/api/rooms/:roomId", [&](Request&) { hit = 1; return Response{}; });
  router.add("POST", "/api/rooms/:roomId/promote/:userId", [&](Request&) { hit = 2; return Response{}; });
  router.add("GET", "/hls/:roomId/*", [&](Request&) { hit = 3; return Response{}; });
  Request r;
  r.method = "POST";
  r.path = "/api/rooms/demo/promote/u1";
  auto m = router.match(r);
  ASSERT_TRUE(m.handler);
  (*m.handler)(r);
  EXPECT_EQ(hit, 2);
  EXPECT_EQ(r.param("roomId"), "demo");
  EXPECT_EQ(r.param("userId"), "u1");

  r.method = "DELETE";
  r.path = "/api/rooms/demo";
  m = router.match(r);
  EXPECT_FALSE(m.handler);
  EXPECT_TRUE(m.pathKnown);
  EXPECT_EQ(m.allowed, std::vector<std::string>{"GET"});

  r.method = "HEAD";
  EXPECT_TRUE(router.match(r).handler) << "HEAD is served by GET routes";

  r.method = "GET";
  r.path = "/hls/demo/a/b.m4s";
  m = router.match(r);
  ASSERT_TRUE(m.handler);
  EXPECT_EQ(r.param("*"), "a/b.m4s");

  for (const char* bad : {"", "api", "/api/rooms/", "/api/rooms//promote/u", "/api/rooms/a/b/c"}) {
    r.method = "GET";
    r.path = bad;
    EXPECT_FALSE(router.match(r).handler) << bad;
  }
}

TEST(Errors, HaveTheDocumentedShape) {
  auto res = errorResponse(409, "stage_full", "the stage is \"full\"");
  EXPECT_EQ(res.status, 409);
  EXPECT_EQ(res.body, R"({"error":{"code":"stage_full","message":"the stage is \"full\""}})");
}

}  // namespace
}  // namespace amphi::http
