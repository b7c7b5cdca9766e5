#include "app/serve.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "app/egress_supervisor.hpp"
#include "app/embedded_nats.hpp"
#include "app/tls_cert.hpp"
#include "app/turn.hpp"
#include "auth/random.hpp"
#include "bus/bus.hpp"
#include "core/error.hpp"
#include "http/redirect.hpp"
#include "http/server.hpp"
#include "http/static_files.hpp"
#include "origin/origin.hpp"
#include "sfu/embedded_janus.hpp"

namespace amphi::app {
namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void writeFile(const fs::path& path, const std::string& text, bool secret) {
  std::ofstream(path) << text << "\n";
  if (secret) ::chmod(path.c_str(), 0600);
}

// AMPHI_ADMIN_KEY, or the key generated into the data dir on first start.
std::string adminKey(const Config& config, const fs::path& dataDir, std::string& source) {
  if (!config.admin_key.empty()) {
    source = "from AMPHI_ADMIN_KEY / config";
    return config.admin_key;
  }
  const fs::path file = dataDir / "admin.key";
  std::string key = fs::exists(file) ? readFile(file) : "";
  if (key.size() < 16) {
    key = auth::randomToken(24);
    writeFile(file, key, true);
  }
  source = "from " + file.string();
  return key;
}

std::pair<std::string, uint16_t> splitHostPort(const std::string& address) {
  auto colon = address.rfind(':');
  int port = std::stoi(address.substr(colon + 1));
  if (port < 0 || port > 65535) throw std::runtime_error("http: bad port in '" + address + "'");
  return {address.substr(0, colon), static_cast<uint16_t>(port)};
}

void setLogLevel(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw std::runtime_error("log_level: unknown level '" + level + "'");
  }
  spdlog::set_level(parsed);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

api::ApiOptions apiOptions(const Config& c, std::string publicUrl, std::string admin) {
  api::ApiOptions o;
  o.publicUrl = std::move(publicUrl);
  o.adminKey = std::move(admin);
  o.serveId = auth::randomId(10);
  o.sessionSecret = c.session_secret;
  o.sessionTtl = std::chrono::hours(c.session_ttl_hours);
  o.inviteTtl = std::chrono::hours(24 * c.invite_ttl_days);
  o.joinPerMinute = c.join_per_minute;
  o.joinBurst = c.join_burst;
  std::stringstream proxies(c.trusted_proxies);
  for (std::string p; std::getline(proxies, p, ',');) {
    p.erase(0, p.find_first_not_of(" \t"));
    p.erase(p.find_last_not_of(" \t") + 1);
    if (!p.empty()) o.trustedProxies.push_back(p);
  }
  o.handPerMinute = c.hand_per_minute;
  o.handBurst = c.hand_burst;
  o.maxSsePerUser = static_cast<std::size_t>(c.max_sse_per_user);
  o.secureCookies = o.publicUrl.rfind("https://", 0) == 0 || tlsEnabled(c);
  o.stageGrace = std::chrono::seconds(c.stage_grace_seconds);
  return o;
}

// "https://host:port/path" → "https://host:port".
std::string originOf(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  return url.substr(0, url.find('/', scheme + 3));
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// HTTPS: the certificate to serve (generated or reused for --tls self-signed), printed
// with its fingerprints; nullopt for plain HTTP.
std::optional<TlsCertificate> setupTls(const Config& c, const fs::path& dataDir,
                                       const std::string& listenHost) {
  if (!tlsEnabled(c)) return std::nullopt;
  TlsCertificate cert;
  if (c.tls == "self-signed") {
    cert = ensureSelfSigned((dataDir / "tls").string(),
                            selfSignedNames(listenHost, c.public_url, c.public_ip));
  } else {
    cert = describeCertificate(c.tls_cert, c.tls_key);
  }
  const char* what = !c.tls_cert.empty() ? "certificate"
                     : cert.generated    ? "new self-signed certificate"
                                         : "self-signed certificate (reused)";
  std::cout << "TLS: " << what << " " << cert.certFile << " for " << joined(cert.names)
            << ", valid until " << cert.notAfter << "\n"
            << "  SHA-256 fingerprint: " << cert.sha256Fingerprint << "\n"
            << "  public key (SPKI) SHA-256, base64: " << cert.spkiSha256Base64 << std::endl;
  return cert;
}

// --http-redirect: a plain listener answering every request with a redirect to HTTPS.
std::unique_ptr<http::Server> startRedirect(const Config& c, boost::asio::io_context& io,
                                            http::Metrics& metrics, const std::string& httpsHost,
                                            uint16_t httpsPort) {
  if (c.http_redirect.empty()) return nullptr;
  auto [host, port] = splitHostPort(c.http_redirect);
  http::ServerOptions o;
  o.host = host;
  o.port = port;
  o.workerThreads = 1;
  o.addressFlag = "--http-redirect";
  const bool httpsPublic = c.public_url.rfind("https://", 0) == 0;
  const std::string origin = httpsPublic ? originOf(c.public_url) : "";
  auto server = std::make_unique<http::Server>(
      io, o,
      [origin, httpsHost, httpsPort](http::Request& req) {
        return http::redirectToHttps(req, origin, httpsHost, httpsPort);
      },
      metrics);
  const uint16_t bound = server->start();
  std::cout << "Plain HTTP on " << host << ":" << bound << " redirects to HTTPS" << std::endl;
  return server;
}

// The Janus for the stage: the configured one, or a private one (nullopt: no stage).
std::optional<api::JanusServer> startJanus(const Config& config, const fs::path& dataDir,
                                           const sfu::JanusTurn& turn,
                                           std::unique_ptr<sfu::EmbeddedJanus>& embedded) {
  if (!config.janus_url.empty()) {
    return api::JanusServer{"external", config.janus_url, config.janus_http_url,
                            config.janus_admin_url, config.janus_admin_secret,
                            config.janus_room_admin_key};
  }
  if (!config.janus) return std::nullopt;
  sfu::EmbeddedJanusOptions options;
  options.binary = config.janus_bin;
  options.dataDir = dataDir.string();
  options.publicIp = config.public_ip;
  options.turn = turn;
  options.rtpMin = config.rtp_port_min;
  options.rtpMax = config.rtp_port_max;
  try {
    embedded = std::make_unique<sfu::EmbeddedJanus>(options);
    std::cout << "Starting Janus for the stage (log " << embedded->logFile() << ") ..."
              << std::endl;
    embedded->start();
  } catch (const std::exception& e) {
    spdlog::error("the stage is off: Janus did not start: {} (install the 'janus' package, "
                  "or pass --janus-url, or --janus false)", e.what());
    embedded.reset();
    return std::nullopt;
  }
  return api::JanusServer{"local-" + auth::randomId(8), embedded->wsUrl(), embedded->httpUrl(),
                          embedded->adminUrl(), embedded->adminSecret(), embedded->roomAdminKey()};
}

// Restarts a private Janus that died and re-creates its rooms and grants.
class JanusSupervisor {
 public:
  JanusSupervisor(sfu::EmbeddedJanus& janus, api::Api& api, std::string id)
      : janus_(janus), api_(api), id_(std::move(id)), thread_([this] { run(); }) {}
  ~JanusSupervisor() {
    stop_ = true;
    thread_.join();
  }

 private:
  void run() {
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      if (stop_ || janus_.running()) continue;
      spdlog::error("Janus (media server) died; restarting it");
      try {
        janus_.start();
        api_.resyncStage(id_);
        spdlog::info("Janus is back");
      } catch (const std::exception& e) {
        spdlog::error("restarting Janus failed: {}; retrying", e.what());
      }
    }
  }
  sfu::EmbeddedJanus& janus_;
  api::Api& api_;
  std::string id_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// TURN as configured; nullopt when off or when it failed to start (the stage then works
// for users whose UDP reaches Janus).
std::optional<TurnPlan> startTurnOrWarn(const Config& config, const fs::path& dataDir,
                                        bus::Bus& bus) {
  if (config.turn && config.turn_url.empty()) {
    std::cout << "Starting coturn for the stage (log "
              << (dataDir / "turn" / "turnserver.log").string() << ") ..." << std::endl;
  }
  try {
    auto plan = startTurn(config, dataDir, bus);
    if (plan) {
      std::string urls;
      for (const auto& u : plan->urls) urls += (urls.empty() ? "" : ", ") + u;
      std::cout << "TURN: " << urls << std::endl;
    }
    return plan;
  } catch (const std::exception& e) {
    spdlog::error("TURN is off: {} (install the 'coturn' package, or pass --turn-url)", e.what());
    return std::nullopt;
  }
}

// The NATS URL to use: the configured one, or a private server's.
std::string startNats(const Config& config, const fs::path& dataDir,
                      std::unique_ptr<EmbeddedNats>& embedded) {
  if (!config.nats_url.empty()) return config.nats_url;
  EmbeddedNatsOptions options;
  options.binary = config.nats_server_bin;
  options.dataDir = dataDir.string();
  embedded = std::make_unique<EmbeddedNats>(options);
  std::cout << "Starting nats-server " << embedded->version() << " (JetStream, store in "
            << (dataDir / "nats").string() << ") ..." << std::endl;
  embedded->start();
  writeFile(dataDir / "nats.url", embedded->url(), false);
  return embedded->url();
}

void createDemoRoom(api::Api& api, const fs::path& dataDir) {
  const fs::path marker = dataDir / ".demo-created";
  if (fs::exists(marker)) return;
  try {
    api.createRoom("demo", "Demo classroom", 4);
  } catch (const core::Error& e) {
    if (e.code() != core::Errc::Conflict) throw;
  }
  writeFile(marker, "demo", false);
  std::cout << "Room 'demo' created.\n"
            << "  Moderator invite: " << api.inviteLink("demo", "moderator") << "\n"
            << "  Viewer invite:    " << api.inviteLink("demo", "viewer") << std::endl;
}

// The built web app: --web-dir, else web/dist beside the build folder, else ./web/dist.
std::string findWebDir(const Config& c) {
  if (!c.web_dir.empty()) return c.web_dir;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (const fs::path& candidate : {exe.parent_path().parent_path() / "web" / "dist",
                                    fs::current_path() / "web" / "dist"}) {
    if (fs::exists(candidate / "index.html", ec)) return candidate.string();
  }
  return "web/dist";
}

// Arguments of one room's egress: the source and the picture settings.
std::vector<std::string> egressArgs(const Config& c, const std::string& room) {
  const bool test = c.egress_source == "test" || (room == "demo" && c.demo_source == "test");
  return {"--source", test ? "test" : "janus", "--size", c.video_size,
          "--fps", std::to_string(c.video_fps), "--video-kbps", std::to_string(c.video_kbps),
          "--audio-kbps", std::to_string(c.audio_kbps), "--part-seconds",
          std::to_string(c.part_seconds), "--segment-seconds", std::to_string(c.segment_seconds),
          "--log-level", c.log_level, "--nats-replicas", std::to_string(c.nats_replicas)};
}

std::unique_ptr<EgressSupervisor> startEgress(const Config& c, bus::Bus& bus,
                                              const std::string& natsUrl, const fs::path& dataDir,
                                              api::Api& api) {
  if (!c.egress) return nullptr;
  EgressSupervisorOptions o;
  o.binary = fs::read_symlink("/proc/self/exe").string();
  o.natsUrl = natsUrl;
  o.holderId = "serve-" + auth::randomId(10);
  o.logDir = (dataDir / "logs").string();
  fs::create_directories(o.logDir);
  o.argsFor = [c](const std::string& room) { return egressArgs(c, room); };
  o.envFor = [&api](const std::string& room) {
    std::vector<std::string> env;
    const std::string target = api.egressJanusTarget(room);
    if (!target.empty()) env.push_back("AMPHI_EGRESS_JANUS=" + target);
    return env;
  };
  o.canRun = [c, &api](const std::string& room) {
    const bool test = c.egress_source == "test" || (room == "demo" && c.demo_source == "test");
    return test || api.stageEnabled();  // the Janus target itself is read once, at spawn
  };
  auto supervisor = std::make_unique<EgressSupervisor>(bus, std::move(o));
  supervisor->start();
  return supervisor;
}

}  // namespace

int runServe(Config config) {
  setLogLevel(config.log_level);
  const fs::path dataDir = fs::absolute(config.data_dir);
  fs::create_directories(dataDir);
  std::string keySource;
  const std::string admin = adminKey(config, dataDir, keySource);
  auto [host, port] = splitHostPort(config.http);
  const auto tls = setupTls(config, dataDir, host);  // before anything starts: fails fast

  std::unique_ptr<EmbeddedNats> embedded;
  const std::string natsUrl = startNats(config, dataDir, embedded);
  bus::BusOptions busOptions;
  busOptions.url = natsUrl;
  busOptions.replicas = config.nats_replicas;
  auto bus = bus::Bus::connect(busOptions, nullptr);
  if (!bus->waitReady(std::chrono::seconds(10))) {
    spdlog::warn("NATS at {} is not reachable yet; serving 503 on /readyz until it is",
                 bus::redactUrls(natsUrl));
  }

  boost::asio::io_context io;
  http::Metrics metrics;
  std::unique_ptr<api::Api> api;
  std::atomic<api::Api*> apiPtr{nullptr};
  http::ServerOptions serverOptions;
  serverOptions.host = host;
  serverOptions.port = port;
  if (tls) {
    serverOptions.tlsCertFile = tls->certFile;
    serverOptions.tlsKeyFile = tls->keyFile;
    serverOptions.hstsSeconds = config.hsts_seconds;
  }
  serverOptions.heartbeat = std::chrono::seconds(config.heartbeat_seconds);
  serverOptions.sseQueueLimit = static_cast<std::size_t>(config.sse_queue_limit);
  serverOptions.workerThreads = static_cast<std::size_t>(config.worker_threads);
  const auto turn = startTurnOrWarn(config, dataDir, *bus);
  std::unique_ptr<TurnWatch> turnWatch;
  if (turn && turn->embedded) turnWatch = std::make_unique<TurnWatch>(*turn->embedded);
  std::unique_ptr<sfu::EmbeddedJanus> janus;
  const auto janusServer =
      startJanus(config, dataDir, turn ? turn->janus : sfu::JanusTurn{}, janus);
  if (janusServer) {
    serverOptions.webSocketUpstream = [&apiPtr](const std::string& path) {
      api::Api* a = apiPtr.load();
      return a ? a->janusUpstream(path) : std::string();
    };
    serverOptions.webSocketRewrite = [&apiPtr](std::string& message) {
      if (api::Api* a = apiPtr.load()) a->rewriteStageMessage(message);
    };
  }
  const std::string webDir = findWebDir(config);
  http::StaticFiles web(webDir);
  if (web.empty()) {
    spdlog::warn("web app not found (looked in '{}'): run 'make build' (npm run build in web/) "
                 "or pass --web-dir; the API works without it", webDir);
  }
  origin::OriginOptions originOptions;
  originOptions.retentionSeconds = config.hls_retention_seconds;
  origin::Origin origin(*bus, originOptions);
  serverOptions.inlinePrefix = "/hls/";
  serverOptions.inlineHandler = [&origin](http::Request& req) { return origin.handleInline(req); };
  http::Server server(io, serverOptions, [&apiPtr, &origin, &web](http::Request& req) {
    if (req.path.rfind("/hls/", 0) == 0) return origin.handle(req);
    if (auto page = web.serve(req)) return std::move(*page);
    api::Api* a = apiPtr.load();
    if (!a) return http::errorResponse(503, "starting", "the server is starting; retry shortly");
    return a->handle(req);
  }, metrics);
  const uint16_t bound = server.start();
  const std::string urlHost = host == "0.0.0.0" ? std::string("127.0.0.1") : host;
  const std::string listenUrl =
      (tls ? "https://" : "http://") + urlHost + ":" + std::to_string(bound);
  auto redirect = startRedirect(config, io, metrics, urlHost, bound);
  const std::string publicUrl = config.public_url.empty() ? listenUrl : config.public_url;
  if (tls && publicUrl.rfind("http://", 0) == 0) {
    spdlog::warn("public_url {} is http:// while serve speaks HTTPS: links and the Origin "
                 "check use it, and the Secure session cookie needs https://", publicUrl);
  }
  writeFile(dataDir / "public.url", publicUrl, false);
  auto options = apiOptions(config, publicUrl, admin);
  if (turn) {
    options.turnUrls = turn->urls;
    options.turnSecret = turn->secret;
    if (turnWatch) options.turnAlive = [w = turnWatch.get()] { return w->alive(); };
  }
  api = std::make_unique<api::Api>(std::move(options), *bus, metrics);
  std::unique_ptr<JanusSupervisor> supervisor;
  if (janusServer) {
    try {
      api->enableStage(*janusServer);
      if (janus) supervisor = std::make_unique<JanusSupervisor>(*janus, *api, janusServer->id);
      std::cout << "Stage: Janus at " << janusServer->wsUrl << ", browsers use "
                << publicUrl << "/janus" << std::endl;
    } catch (const std::exception& e) {
      spdlog::error("the stage is off: registering Janus failed: {}", e.what());
    }
  }
  apiPtr = api.get();
  if (config.demo_source == "test" && config.demo_room && bus->ready()) {
    try {
      createDemoRoom(*api, dataDir);
      api->setLive("demo", true, "demo-source");
      std::cout << "Room 'demo' is live with the test source: " << publicUrl
                << "/hls/demo/index.m3u8" << std::endl;
    } catch (const std::exception& e) {
      spdlog::warn("could not make the demo room live: {}", e.what());
    }
  }
  auto egress = startEgress(config, *bus, natsUrl, dataDir, *api);

  std::cout << "Amphi listening on " << listenUrl << "\n"
            << "Admin key (" << keySource << "): " << admin << std::endl;
  if (config.demo_room) {
    try {
      if (bus->ready()) createDemoRoom(*api, dataDir);
    } catch (const std::exception& e) {
      spdlog::warn("could not create the demo room: {}", e.what());
    }
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer drain(io);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("received {}, shutting down: telling event streams to reconnect",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    server.stop();
    if (redirect) redirect->stop();
    drain.expires_after(std::chrono::milliseconds(500));
    drain.async_wait([&](const boost::system::error_code&) { io.stop(); });
  });
  std::vector<std::thread> threads;
  for (int i = 1; i < config.io_threads; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();

  apiPtr = nullptr;
  egress.reset();
  origin.stop();
  server.join();
  supervisor.reset();
  api->shutdown();
  api.reset();
  bus.reset();
  if (janus) {
    spdlog::info("stopping Janus");
    janus->stop();
  }
  turnWatch.reset();
  if (turn && turn->embedded) {
    spdlog::info("stopping coturn");
    turn->embedded->stop();
  }
  if (embedded) {
    spdlog::info("stopping nats-server");
    embedded->stop();
  }
  spdlog::info("stopped");
  return 0;
}

int runToken(Config config, const std::string& roomId, const std::string& role) {
  spdlog::set_level(spdlog::level::warn);
  const fs::path dataDir = fs::absolute(config.data_dir);
  std::string natsUrl = config.nats_url;
  std::unique_ptr<EmbeddedNats> embedded;
  if (natsUrl.empty() && fs::exists(dataDir / "nats.url")) natsUrl = readFile(dataDir / "nats.url");
  // The same replicas as serve: connecting updates the streams to this configuration.
  const bus::BusOptions busOptions{.url = natsUrl, .replicas = config.nats_replicas};
  auto bus = natsUrl.empty() ? nullptr : bus::Bus::connect(busOptions, nullptr);
  if (!bus || !bus->waitReady(std::chrono::seconds(3))) {
    bus.reset();
    if (!config.nats_url.empty())
      throw std::runtime_error("NATS at " + bus::redactUrls(natsUrl) + " is not reachable");
    fs::create_directories(dataDir);
    natsUrl = startNats(Config{config}, dataDir, embedded);  // serve is not running: use its store
    bus = bus::Bus::connect({.url = natsUrl, .replicas = config.nats_replicas}, nullptr);
    if (!bus->waitReady(std::chrono::seconds(10))) throw std::runtime_error("NATS did not start");
  }
  std::string publicUrl = config.public_url;
  if (publicUrl.empty() && fs::exists(dataDir / "public.url")) publicUrl = readFile(dataDir / "public.url");
  if (publicUrl.empty()) publicUrl = (tlsEnabled(config) ? "https://" : "http://") + config.http;
  http::Metrics metrics;
  api::ApiOptions options;
  options.publicUrl = publicUrl;
  options.serveId = "token" + auth::randomId(6);
  api::Api api(options, *bus, metrics);
  std::cout << api.inviteLink(roomId, role) << std::endl;
  return 0;
}

}  // namespace amphi::app
