#include "http/static_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace amphi::http {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("amphi-static-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "assets");
    std::ofstream(root_ / "index.html") << "<!doctype html><title>app</title>";
    std::ofstream(root_ / "assets" / "index-abc123.js") << "console.log(1)";
    std::ofstream(root_ / "favicon.svg") << "<svg/>";
  }
  void TearDown() override { fs::remove_all(root_); }

  static Request get(const std::string& path) {
    Request r;
    r.method = "GET";
    r.path = path;
    return r;
  }
  static std::string header(const Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  fs::path root_;
};

TEST_F(StaticFilesTest, HashedAssetsAreImmutableAndTyped) {
  StaticFiles files(root_.string());
  auto res = files.serve(get("/assets/index-abc123.js"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(*res->sharedBody, "console.log(1)");
  EXPECT_EQ(res->contentType, "text/javascript; charset=utf-8");
  EXPECT_EQ(header(*res, "Cache-Control"), "public, max-age=31536000, immutable");
}

TEST_F(StaticFilesTest, AppRoutesFallBackToIndexWhichIsNotCached) {
  StaticFiles files(root_.string());
  for (const char* path : {"/", "/r/demo", "/index.html", "/r/demo/extra"}) {
    auto res = files.serve(get(path));
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->contentType, "text/html; charset=utf-8") << path;
    EXPECT_NE(res->sharedBody->find("<title>app</title>"), std::string::npos) << path;
    EXPECT_EQ(header(*res, "Cache-Control"), "no-cache") << path;
  }
  auto icon = files.serve(get("/favicon.svg"));
  ASSERT_TRUE(icon);
  EXPECT_EQ(icon->contentType, "image/svg+xml");
}

TEST_F(StaticFilesTest, LeavesServerPathsAndMissingAssetsAlone) {
  StaticFiles files(root_.string());
  for (const char* path : {"/api/rooms/demo", "/hls/demo/index.m3u8", "/janus", "/janus/x",
                           "/healthz", "/readyz", "/metrics"}) {
    EXPECT_FALSE(files.serve(get(path))) << path;
  }
  auto missing = files.serve(get("/assets/index-gone.js"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  Request post = get("/");
  post.method = "POST";
  EXPECT_FALSE(files.serve(post));
}

TEST_F(StaticFilesTest, TraversalNeverLeavesTheLoadedFiles) {
  StaticFiles files(root_.string());
  auto res = files.serve(get("/../../etc/passwd"));
  ASSERT_TRUE(res);  // not a loaded file: the app's index, never a file outside root
  EXPECT_NE(res->sharedBody->find("<title>app</title>"), std::string::npos);
}

TEST_F(StaticFilesTest, EmptyWithoutAnIndex) {
  fs::remove(root_ / "index.html");
  StaticFiles files(root_.string());
  EXPECT_TRUE(files.empty());
  EXPECT_FALSE(files.serve(get("/")));
}

}  // namespace
}  // namespace amphi::http
