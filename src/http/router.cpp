#include "http/router.hpp"

#include <map>

namespace amphi::http {
namespace {

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 1;  // paths start with '/'
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& parts,
             std::map<std::string, std::string>& params) {
  params.clear();
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const auto& seg = pattern[i];
    if (seg == "*") {
      std::string rest;
      for (std::size_t j = i; j < parts.size(); ++j) rest += (j > i ? "/" : "") + parts[j];
      params["*"] = rest;
      return true;
    }
    if (i >= parts.size()) return false;
    if (!seg.empty() && seg.front() == ':') {
      if (parts[i].empty()) return false;
      params[seg.substr(1)] = parts[i];
    } else if (seg != parts[i]) {
      return false;
    }
  }
  return pattern.size() == parts.size();
}

}  // namespace

void Router::add(std::string method, const std::string& pattern, Handler handler) {
  routes_.push_back({std::move(method), split(pattern), std::move(handler)});
}

Router::Match Router::match(Request& request) const {
  Match result;
  if (request.path.empty() || request.path.front() != '/') return result;
  const auto parts = split(request.path);
  std::map<std::string, std::string> params;
  for (const auto& route : routes_) {
    if (!matches(route.segments, parts, params)) continue;
    if (route.method == request.method || (route.method == "GET" && request.method == "HEAD")) {
      request.params = std::move(params);
      result.handler = &route.handler;
      return result;
    }
    result.pathKnown = true;
    result.allowed.push_back(route.method);
  }
  return result;
}

}  // namespace amphi::http
