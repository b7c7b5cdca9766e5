#include "http/redirect.hpp"

#include <gtest/gtest.h>

namespace amphi::http {
namespace {

Request request(std::string target, std::string host) {
  Request req;
  req.method = "GET";
  req.target = std::move(target);
  if (!host.empty()) req.headers["host"] = std::move(host);
  return req;
}

std::string location(const Response& res) {
  for (const auto& [name, value] : res.headers) {
    if (name == "Location") return value;
  }
  return "";
}

TEST(RedirectToHttps, KeepsTheTargetAndSwapsThePort) {
  auto res = redirectToHttps(request("/r/demo?x=1#", "class.local:8080"), "", "fallback", 8443);
  EXPECT_EQ(res.status, 308);
  EXPECT_EQ(location(res), "https://class.local:8443/r/demo?x=1#");
  EXPECT_EQ(location(redirectToHttps(request("/", "class.local"), "", "fallback", 443)),
            "https://class.local/");
  EXPECT_EQ(location(redirectToHttps(request("/a", "[::1]:80"), "", "fallback", 8443)),
            "https://[::1]:8443/a");
}

TEST(RedirectToHttps, PublicOriginWinsOverHost) {
  auto res = redirectToHttps(request("/api/rooms/x", "10.0.0.5"), "https://class.example.org/",
                             "fallback", 8443);
  EXPECT_EQ(location(res), "https://class.example.org/api/rooms/x");
}

TEST(RedirectToHttps, OddHostsAndTargetsFallBack) {
  EXPECT_EQ(location(redirectToHttps(request("/x", ""), "", "127.0.0.1", 8443)),
            "https://127.0.0.1:8443/x");
  EXPECT_EQ(location(redirectToHttps(request("/x", "evil.org/path@"), "", "127.0.0.1", 8443)),
            "https://127.0.0.1:8443/x");
  EXPECT_EQ(location(redirectToHttps(request("http://a/b", "h"), "", "f", 8443)),
            "https://h:8443/");
}

}  // namespace
}  // namespace amphi::http
