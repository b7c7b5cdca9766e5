// HTTPS end to end (issue 6): `amphi serve --tls self-signed --http-redirect …` with its
// real Janus and a real nats-server. Over TLS: the API with the cookie (Secure) and the
// Origin check, SSE event delivery, and a Janus round trip through the WSS proxy on
// /janus; HSTS on responses; the plain listener redirecting; the certificate reused on
// restart and its printed fingerprint the one the server presents.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <thread>

#include "classroom.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every "SHA-256 fingerprint: …" serve printed, in order.
std::vector<std::string> printedFingerprints(const std::string& logFile) {
  const std::string log = readAll(logFile);
  static const std::regex re("SHA-256 fingerprint: ([0-9A-F:]+)");
  std::vector<std::string> out;
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

bool waitReady(const std::string& base, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (httpRequest(base, "GET", "/readyz", "", {}, 2s).status == 200) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::string header(const HttpResult& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

// A WebSocket client over TLS (certificate not verified: the test compares fingerprints).
class WssClient {
 public:
  // url: wss://host:port/path
  explicit WssClient(const std::string& url)
      : ssl_(asio::ssl::context::tls_client), ws_(io_, ssl_) {
    static const std::regex re("wss://([^:/]+):([0-9]+)(/.*)");
    std::smatch m;
    if (!std::regex_match(url, m, re)) throw std::runtime_error("not a wss:// URL: " + url);
    asio::ip::tcp::resolver resolver(io_);
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(ws_).connect(resolver.resolve(m[1].str(), m[2].str()));
    ws_.next_layer().handshake(asio::ssl::stream_base::client);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::sec_websocket_protocol, "janus-protocol");
    }));
    websocket::response_type res;
    ws_.handshake(res, m[1].str() + ":" + m[2].str(), m[3].str());
    subprotocol_ = std::string(res[beast::http::field::sec_websocket_protocol]);
  }
  ~WssClient() {
    beast::error_code ignored;
    ws_.close(websocket::close_code::normal, ignored);
  }
  nlohmann::json request(const nlohmann::json& message) {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
    ws_.text(true);
    ws_.write(asio::buffer(message.dump()));
    for (;;) {  // skip Janus's asynchronous events ("ack", "event") for other transactions
      beast::flat_buffer buffer;
      ws_.read(buffer);
      auto reply = nlohmann::json::parse(beast::buffers_to_string(buffer.data()));
      if (reply.value("transaction", "") == message["transaction"] && reply["janus"] != "ack") {
        return reply;
      }
    }
  }
  const std::string& subprotocol() const { return subprotocol_; }

 private:
  asio::io_context io_;
  asio::ssl::context ssl_;
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
  std::string subprotocol_;
};

class Https : public ::testing::Test {
 protected:
  void SetUp() override {
    nats_ = std::make_unique<NatsFixture>();
    redirectPort_ = app::freeLoopbackPort();
    serve_ = std::make_unique<ServeProcess>(
        nats_->url(), std::vector<std::string>{"--tls", "self-signed", "--http-redirect",
                                               fmt::format("127.0.0.1:{}", redirectPort_)});
    base_ = serve_->baseUrl();
    ASSERT_TRUE(waitReady(base_, 30s)) << serve_->logTail();
  }
  std::unique_ptr<NatsFixture> nats_;
  std::unique_ptr<ServeProcess> serve_;
  uint16_t redirectPort_ = 0;
  std::string base_;
};

TEST_F(Https, CertificateIsPrintedPresentedAndReusedOnRestart) {
  ASSERT_EQ(base_.rfind("https://127.0.0.1:", 0), 0u);
  const auto printed = printedFingerprints(serve_->logFile());
  ASSERT_EQ(printed.size(), 1u) << serve_->logTail();
  EXPECT_NE(readAll(serve_->logFile()).find("new self-signed certificate"), std::string::npos);
  {
    wire::Socket socket(wire::parseBaseUrl(base_), 5s);
    EXPECT_EQ(socket.peerFingerprint(), printed[0]) << "the certificate serve presents";
  }
  // Plain HTTP on the HTTPS port gets no HTTP answer (the handshake fails, the
  // connection closes).
  const auto raw =
      rawExchange("127.0.0.1", serve_->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
  EXPECT_EQ(raw.find("HTTP/1.1 200"), std::string::npos) << raw;

  ASSERT_TRUE(serve_->stop());
  serve_->start();
  ASSERT_TRUE(waitReady(base_, 30s)) << serve_->logTail();
  const auto again = printedFingerprints(serve_->logFile());
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[1], printed[0]) << "the same certificate after a restart";
  EXPECT_NE(readAll(serve_->logFile()).find("self-signed certificate (reused)"), std::string::npos);
  wire::Socket socket(wire::parseBaseUrl(base_), 5s);
  EXPECT_EQ(socket.peerFingerprint(), printed[0]);
}

TEST_F(Https, ApiCookieHstsAndRedirect) {
  auto health = httpRequest(base_, "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(header(health, "strict-transport-security"), "max-age=31536000");

  // Links are https://: invites and hlsUrl.
  auto created =
      httpRequest(base_, "POST", "/api/rooms", R"({"id":"secure","title":"Secure","maxStage":2})",
                  {{"Authorization", std::string("Bearer ") + ServeProcess::kAdminKey}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string link = created.json()["invites"]["viewer"]["link"];
  EXPECT_EQ(link.rfind(base_ + "/", 0), 0u) << link;
  const std::string hlsUrl = httpRequest(base_, "GET", "/api/rooms/secure").json()["hlsUrl"];
  EXPECT_EQ(hlsUrl.rfind(base_ + "/hls/", 0), 0u) << hlsUrl;

  // The session cookie is Secure, and works with the Origin check over HTTPS.
  const std::string code = created.json()["invites"]["viewer"]["code"];
  auto joined = httpRequest(base_, "POST", "/api/rooms/secure/join",
                            nlohmann::json{{"invite", code}, {"displayName", "Ann"}}.dump());
  ASSERT_EQ(joined.status, 200) << joined.body;
  const std::string cookie = header(joined, "set-cookie");
  EXPECT_NE(cookie.find("; Secure"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  const std::string pair = cookie.substr(0, cookie.find(';'));
  auto raised = httpRequest(base_, "POST", "/api/rooms/secure/raise-hand", "{}",
                            {{"Cookie", pair}, {"Origin", base_}});
  EXPECT_EQ(raised.status, 200) << raised.body;
  auto foreign = httpRequest(base_, "POST", "/api/rooms/secure/lower-hand", "{}",
                             {{"Cookie", pair}, {"Origin", "https://evil.example"}});
  EXPECT_EQ(foreign.status, 403) << "the Origin check still applies";

  // The plain listener only redirects, to the same target over HTTPS, and sends no HSTS.
  const std::string plain = fmt::format("http://127.0.0.1:{}", redirectPort_);
  auto moved = httpRequest(plain, "GET", "/r/secure?x=1");
  EXPECT_EQ(moved.status, 308);
  EXPECT_EQ(header(moved, "location"), base_ + "/r/secure?x=1");
  EXPECT_EQ(header(moved, "strict-transport-security"), "");
  auto movedPost = httpRequest(plain, "POST", "/api/rooms/secure/raise-hand", "{}");
  EXPECT_EQ(movedPost.status, 308) << "never served over plain HTTP";
}

TEST_F(Https, EventsAndJanusOverTls) {
  auto room = createRoom(base_, "wss", 2);
  auto mod = join(base_, room.id, room.moderatorInvite, "Teacher");
  auto ann = join(base_, room.id, room.viewerInvite, "Ann");

  // SSE over TLS: the head (with HSTS), then an event as it happens.
  SseClient events(base_, "/api/rooms/wss/events", mod.auth());
  ASSERT_EQ(events.status(), 200);
  EXPECT_EQ(events.headers().at("strict-transport-security"), "max-age=31536000");
  ASSERT_EQ(post(base_, "/api/rooms/wss/raise-hand", ann).status, 200);
  std::optional<SseEvent> e;
  do {
    e = events.next(10s);
  } while (e && e->event != "RAISE_HAND");
  ASSERT_TRUE(e) << "no RAISE_HAND over TLS";
  EXPECT_EQ(nlohmann::json::parse(e->data)["userId"], ann.userId);

  // Stage credentials name the WSS relay on serve's own origin; a Janus session and a
  // VideoRoom handle through it prove the round trip to the real Janus.
  ASSERT_TRUE(waitReady(base_, 20s));
  auto creds = post(base_, "/api/rooms/wss/stage/credentials", mod);
  ASSERT_EQ(creds.status, 200) << creds.body;
  const std::string janusUrl = creds.json()["janusUrl"];
  const std::string wssBase = "wss://" + base_.substr(8) + "/janus/";
  ASSERT_EQ(janusUrl.rfind(wssBase, 0), 0u) << janusUrl;
  WssClient janus(janusUrl);
  EXPECT_EQ(janus.subprotocol(), "janus-protocol");
  const std::string token = creds.json()["token"];
  auto session = janus.request({{"janus", "create"}, {"transaction", "t1"}, {"token", token}});
  ASSERT_EQ(session["janus"], "success") << session.dump();
  const auto sessionId = session["data"]["id"].get<uint64_t>();
  auto handle = janus.request({{"janus", "attach"},
                               {"plugin", "janus.plugin.videoroom"},
                               {"session_id", sessionId},
                               {"transaction", "t2"},
                               {"token", token}});
  EXPECT_EQ(handle["janus"], "success") << handle.dump();
  auto bad = janus.request({{"janus", "create"}, {"transaction", "t3"}, {"token", "wrong"}});
  EXPECT_EQ(bad["janus"], "error") << "Janus checks the token behind the relay";
}

// stdout of a shell command.
std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string out;
  char buf[4096];
  while (pipe && std::fgets(buf, sizeof buf, pipe.get())) out += buf;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// --tls-cert/--tls-key: a certificate made elsewhere (here by the openssl tool) is served
// as it is; a key that does not match stops serve at start with a message naming it.
TEST(HttpsOwnCertificate, ServedAsGivenAndCheckedAtStart) {
  NatsFixture nats;
  const std::string dir = uniqueTempDir("amphi-tls-own");
  const std::string cert = dir + "/cert.pem", key = dir + "/key.pem", other = dir + "/other.pem";
  for (const auto& [c, k] : {std::pair{cert, key}, std::pair{dir + "/c2.pem", other}}) {
    ASSERT_EQ(std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                           "-subj /CN=localhost -days 2 -keyout " +
                           k + " -out " + c + " 2>/dev/null")
                              .c_str()),
              0);
  }
  const std::string fp = run("openssl x509 -noout -fingerprint -sha256 -in " + cert);
  const std::vector<std::string> noMedia = {"--janus", "false", "--egress", "false"};
  {
    auto args = noMedia;
    args.insert(args.end(), {"--tls-cert", cert, "--tls-key", key});
    ServeProcess serve(nats.url(), args);
    ASSERT_EQ(serve.baseUrl().rfind("https://", 0), 0u);
    EXPECT_EQ(httpRequest(serve.baseUrl(), "GET", "/healthz").status, 200);
    wire::Socket socket(wire::parseBaseUrl(serve.baseUrl()), 5s);
    EXPECT_EQ(socket.peerFingerprint(), fp.substr(fp.find('=') + 1));
    EXPECT_EQ(printedFingerprints(serve.logFile()),
              std::vector<std::string>{socket.peerFingerprint()});
  }
  auto args = noMedia;
  args.insert(args.end(), {"--tls-cert", cert, "--tls-key", other});
  try {
    ServeProcess serve(nats.url(), args);
    ADD_FAILURE() << "serve started with a key that is not the certificate's";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not belong to certificate"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

// A shared body (static files, HLS media) larger than a TLS write's 64 KiB arrives whole:
// a header + body gather write once stalled after the header over TLS.
TEST(HttpsLargeBodies, SharedBodiesPast64KiBArriveWhole) {
  NatsFixture nats;
  const std::string web = uniqueTempDir("amphi-tls-web");
  std::filesystem::create_directories(web + "/assets");
  std::ofstream(web + "/index.html") << "<!doctype html><title>t</title>";
  std::string big;
  for (int i = 0; big.size() < 300 * 1024; ++i) big += fmt::format("let v{} = {};\n", i, i * 7);
  std::ofstream(web + "/assets/app-big.js", std::ios::binary) << big;
  ServeProcess serve(nats.url(), {"--tls", "self-signed", "--web-dir", web, "--janus", "false",
                                  "--egress", "false"});
  for (int round = 0; round < 3; ++round) {  // several on one keep-alive connection's worth
    auto res = httpRequest(serve.baseUrl(), "GET", "/assets/app-big.js", "", {}, 10s);
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.body.size(), big.size());
    EXPECT_TRUE(res.body == big) << "round " << round;
  }
  std::filesystem::remove_all(web);
}

}  // namespace
}  // namespace amphi::testing
