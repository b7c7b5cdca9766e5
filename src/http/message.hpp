// HTTP requests and responses as the API sees them: no Beast types here.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace amphi::http {

class SseStream;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as received
  std::string path;    // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::map<std::string, std::string> headers;              // lower-case names
  std::string body;
  std::string remoteAddress;
  std::map<std::string, std::string> params;  // filled by the router (":roomId")

  const std::string* header(const std::string& lowerName) const;
  std::optional<std::string> queryParam(std::string_view name) const;
  std::optional<std::string> cookie(std::string_view name) const;
  const std::string& param(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the status line and headers are sent, the connection stays open as
  // a Server-Sent Events stream and is handed to this callback (on a worker thread).
  std::function<void(std::shared_ptr<SseStream>)> onStream;
  // When set, sent instead of body without a copy (media parts shared by many viewers).
  std::shared_ptr<const std::string> sharedBody;
  // When set, the answer comes later: the server calls this with a function that must
  // be called exactly once, from any thread, with the real response (a blocking
  // playlist reload waits for its part this way without holding a thread).
  using Complete = std::function<void(Response)>;
  std::function<void(Complete)> deferred;

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Splits "a=1&b=x%20y" into decoded pairs; malformed escapes are kept literally.
std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query);
// Percent-decoding; '+' becomes a space only when plusIsSpace.
std::string percentDecode(std::string_view text, bool plusIsSpace);
std::string percentEncode(std::string_view text);

}  // namespace amphi::http

namespace amphi::http {
// {"error":{"code":..., "message":...}} with the given status.
Response errorResponse(int status, std::string_view code, std::string_view message);
}  // namespace amphi::http
