#include "http/static_files.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace amphi::http {
namespace {

namespace fs = std::filesystem;

bool ownedByServer(const std::string& path) {
  for (const char* prefix : {"/api/", "/hls/", "/janus"}) {
    if (path.rfind(prefix, 0) == 0) return true;
  }
  return path == "/api" || path == "/healthz" || path == "/readyz" || path == "/metrics";
}

}  // namespace

std::string contentTypeFor(const std::string& path) {
  static const std::map<std::string, std::string> types = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
      {".ico", "image/x-icon"}, {".webp", "image/webp"}, {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
      {".webmanifest", "application/manifest+json"}};
  auto it = types.find(fs::path(path).extension().string());
  return it == types.end() ? "application/octet-stream" : it->second;
}

StaticFiles::StaticFiles(const std::string& root) {
  std::error_code ec;
  if (root.empty() || !fs::exists(fs::path(root) / "index.html", ec)) return;
  for (const auto& entry : fs::recursive_directory_iterator(root, ec)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string rel = "/" + fs::relative(entry.path(), root).generic_string();
    files_[rel] = {std::make_shared<const std::string>(std::move(bytes)), contentTypeFor(rel)};
  }
}

std::optional<Response> StaticFiles::serve(const Request& req) const {
  if (files_.empty() || ownedByServer(req.path)) return std::nullopt;
  if (req.method != "GET" && req.method != "HEAD") return std::nullopt;
  auto it = files_.find(req.path);
  const bool asset = it != files_.end() && req.path.rfind("/assets/", 0) == 0;
  if (it == files_.end() || req.path == "/index.html") {
    // A missing hashed asset is a 404, not the app (a stale page would loop on it).
    if (req.path.rfind("/assets/", 0) == 0) return errorResponse(404, "not_found", "no such file");
    it = files_.find("/index.html");
  }
  Response res;
  res.contentType = it->second.type;
  res.sharedBody = it->second.bytes;
  res.header("Cache-Control", asset ? "public, max-age=31536000, immutable" : "no-cache");
  res.header("X-Content-Type-Options", "nosniff");
  if (!asset) res.header("Referrer-Policy", "no-referrer");  // invite codes live in the URL fragment
  return res;
}

}  // namespace amphi::http
