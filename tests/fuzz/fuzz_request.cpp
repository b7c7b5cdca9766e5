// libFuzzer: the request path before any handler runs: target → path + query,
// cookies, and routing against the API's route table.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/room.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

namespace {

amphi::http::Router makeRouter() {
  amphi::http::Router router;
  auto ok = [](amphi::http::Request&) { return amphi::http::Response{}; };
  for (const char* p : {"/api/rooms/:roomId", "/api/rooms/:roomId/state",
                        "/api/rooms/:roomId/events", "/api/rooms/:roomId/user-events",
                        "/api/rooms/:roomId/session", "/healthz", "/hls/:roomId/*"}) {
    router.add("GET", p, ok);
  }
  for (const char* p : {"/api/rooms", "/api/rooms/:roomId/join", "/api/rooms/:roomId/raise-hand",
                        "/api/rooms/:roomId/promote/:userId", "/api/rooms/:roomId/demote/:userId"}) {
    router.add("POST", p, ok);
  }
  return router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const amphi::http::Router router = makeRouter();
  std::string input(reinterpret_cast<const char*>(data), size);
  auto split = input.find('\n');
  std::string target = input.substr(0, split);
  std::string cookie = split == std::string::npos ? "" : input.substr(split + 1);
  amphi::http::Request req;
  req.method = size % 2 ? "GET" : "POST";
  auto q = target.find('?');
  req.path = amphi::http::percentDecode(target.substr(0, q), false);
  if (q != std::string::npos) req.query = amphi::http::parseQuery(target.substr(q + 1));
  req.headers["cookie"] = cookie;
  (void)req.cookie("amphi_demo");
  (void)req.queryParam("lastEventId");
  auto match = router.match(req);
  if (match.handler) {
    (void)amphi::core::validRoomId(req.param("roomId"));
    (void)amphi::core::validUserId(req.param("userId"));
  }
  (void)amphi::http::percentEncode(target);
  return 0;
}
