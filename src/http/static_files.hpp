// The built web app (web/dist) served from memory: hashed files under /assets/ are
// immutable, index.html is never cached, and unknown app routes (/r/<room>, ...) fall back
// to index.html so the browser app can route them.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "http/message.hpp"

namespace amphi::http {

class StaticFiles {
 public:
  // Loads every file under root; empty when root has no index.html.
  explicit StaticFiles(const std::string& root);
  bool empty() const { return files_.empty(); }
  std::size_t size() const { return files_.size(); }
  // GET/HEAD of a path the app owns (not /api, /hls, /janus, health or metrics);
  // nullopt when the path is not the web app's.
  std::optional<Response> serve(const Request& request) const;

 private:
  struct File {
    std::shared_ptr<const std::string> bytes;
    std::string type;
  };
  std::map<std::string, File> files_;  // "/assets/index-abc.js" → bytes
};

// Content type for a file name's extension ("application/octet-stream" when unknown).
std::string contentTypeFor(const std::string& path);

}  // namespace amphi::http
