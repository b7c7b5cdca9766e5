// Health, readiness and Prometheus metrics.
#include "api/context.hpp"
#include "bus/bus.hpp"

namespace amphi::api {

void addSystemRoutes(http::Router& router, Context& ctx) {
  router.add("GET", "/healthz", [](http::Request&) { return jsonResponse(200, {{"status", "ok"}}); });
  router.add("GET", "/readyz", [&ctx](http::Request&) {
    const bool nats = ctx.bus.ready();
    return jsonResponse(nats ? 200 : 503, {{"status", nats ? "ready" : "unavailable"}, {"nats", nats}});
  });
  router.add("GET", "/metrics", [&ctx](http::Request&) {
    http::Response res;
    res.contentType = "text/plain; version=0.0.4";
    res.body = ctx.metrics.render();
    return res;
  });
}

}  // namespace amphi::api
