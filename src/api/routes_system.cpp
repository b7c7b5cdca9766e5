// Health, readiness and Prometheus metrics.
#include "api/context.hpp"
#include "bus/bus.hpp"

namespace amphi::api {

void addSystemRoutes(http::Router& router, Context& ctx) {
  router.add("GET", "/healthz", [](http::Request&) { return jsonResponse(200, {{"status", "ok"}}); });
  router.add("GET", "/readyz", [&ctx](http::Request&) {
    const bool nats = ctx.bus.ready();
    nlohmann::json body = {{"nats", nats}};
    bool ready = nats;
    if (ctx.stage.enabled()) {
      const bool janus = ctx.stage.janusReady();
      body["janus"] = janus;
      ready = ready && janus;
    }
    // Reported, not required: without TURN only users whose UDP is blocked lose the stage.
    if (ctx.options.turnAlive) body["turn"] = ctx.options.turnAlive();
    body["status"] = ready ? "ready" : "unavailable";
    return jsonResponse(ready ? 200 : 503, body);
  });
  router.add("GET", "/metrics", [&ctx](http::Request&) {
    http::Response res;
    res.contentType = "text/plain; version=0.0.4";
    res.body = ctx.metrics.render();
    return res;
  });
}

}  // namespace amphi::api
