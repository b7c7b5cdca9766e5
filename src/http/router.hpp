// Method + path pattern → handler. Patterns are "/api/rooms/:roomId/state"; a final
// "*" segment matches the rest of the path (captured as param "*").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/message.hpp"

namespace amphi::http {

class Router {
 public:
  using Handler = std::function<Response(Request&)>;

  struct Match {
    const Handler* handler = nullptr;  // null when nothing matched
    bool pathKnown = false;            // the path matched under another method (405)
    std::vector<std::string> allowed;  // methods for that path
  };

  void add(std::string method, const std::string& pattern, Handler handler);
  // Fills request.params on a match.
  Match match(Request& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace amphi::http
