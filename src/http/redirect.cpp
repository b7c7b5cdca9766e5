#include "http/redirect.hpp"

#include <algorithm>
#include <cctype>

namespace amphi::http {
namespace {

// The host part of a Host header ("example.org:80" → "example.org", "[::1]:80" →
// "[::1]"); "" when it holds anything but host-name or IP-literal characters.
std::string hostOnly(const std::string& header) {
  std::string host = header;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string::npos) return "";
    host = host.substr(0, close + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  const bool valid = std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '[' || c == ']' || c == ':';
  });
  return valid ? host : "";
}

}  // namespace

Response redirectToHttps(const Request& req, const std::string& httpsOrigin,
                         const std::string& fallbackHost, uint16_t httpsPort) {
  const std::string target = !req.target.empty() && req.target.front() == '/' ? req.target : "/";
  std::string origin = httpsOrigin;
  if (origin.empty()) {
    const std::string* header = req.header("host");
    std::string host = header ? hostOnly(*header) : "";
    if (host.empty()) host = fallbackHost;
    origin = "https://" + host + (httpsPort == 443 ? "" : ":" + std::to_string(httpsPort));
  }
  while (!origin.empty() && origin.back() == '/') origin.pop_back();
  Response res;
  res.status = 308;
  res.contentType = "text/plain; charset=utf-8";
  res.body = "This server speaks HTTPS: " + origin + target + "\n";
  res.header("Location", origin + target);
  res.header("Cache-Control", "no-store");
  return res;
}

}  // namespace amphi::http
