// Every endpoint × role (DESIGN.md, "Security model"): one table of {who, request,
// expected status}, run against a real serve. Every error body must have the documented
// shape, and a rejected request must change nothing (hands, stage, live of every room).
// Also the cookie session: its attributes, the room scope and the CSRF (Origin) rule.
#include <gtest/gtest.h>

#include <string_view>

#include "classroom.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

class Matrix : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    nats_ = new NatsFixture();
    serve_ = new ServeProcess(nats_->url(), {"--join-per-minute", "0", "--hand-per-minute", "0"});
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete nats_;
  }
  static std::string base() { return serve_->baseUrl(); }
  static NatsFixture* nats_;
  static ServeProcess* serve_;
};
NatsFixture* Matrix::nats_ = nullptr;
ServeProcess* Matrix::serve_ = nullptr;

// ---- Tokens: valid in shape, invalid in substance ----

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url(std::string_view bytes) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    for (bits += 8; bits >= 6; bits -= 6) out.push_back(kB64[(acc >> (bits - 6)) & 63]);
  }
  if (bits > 0) out.push_back(kB64[(acc << (6 - bits)) & 63]);
  return out;
}

std::string unb64url(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    acc = (acc << 6) | static_cast<uint32_t>(kB64.find(c));
    if ((bits += 6) >= 8) out.push_back(static_cast<char>((acc >> (bits -= 8)) & 0xFF));
  }
  return out;
}

struct TokenParts {
  std::string header, payload, signature;
};
TokenParts splitToken(const std::string& token) {
  auto a = token.find('.'), b = token.rfind('.');
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}

// The viewer's own token with its role raised to moderator; the signature is the viewer's.
std::string forgedModerator(const User& viewer) {
  auto parts = splitToken(viewer.token);
  auto claims = json::parse(unb64url(parts.payload));
  claims["role"] = "moderator";
  return parts.header + "." + b64url(claims.dump()) + "." + parts.signature;
}

// Claims that expired in 1970 under a made-up signature.
std::string expiredToken(const User& viewer) {
  auto parts = splitToken(viewer.token);
  auto claims = json::parse(unb64url(parts.payload));
  claims["iat"] = 900;
  claims["exp"] = 1000;
  return parts.header + "." + b64url(claims.dump()) + "." + b64url(std::string(32, 'x'));
}

// ---- The world the table runs in ----

struct World {
  Room a, b, c, f;  // c: for invite rotation; f: maxStage 1, already full
  User mod, viewer, stage, hand, target, otherMod, otherViewer, fullMod, fullStage, fullWaiting;
};

World makeWorld(const std::string& base, const std::string& tag) {
  World w;
  w.a = createRoom(base, tag + "-a");
  w.b = createRoom(base, tag + "-b");
  w.c = createRoom(base, tag + "-c");
  w.f = createRoom(base, tag + "-f", 1);
  w.mod = join(base, w.a.id, w.a.moderatorInvite, "Teacher");
  w.viewer = join(base, w.a.id, w.a.viewerInvite, "Viv");
  w.stage = join(base, w.a.id, w.a.viewerInvite, "Stella");
  w.hand = join(base, w.a.id, w.a.viewerInvite, "Hank");
  w.target = join(base, w.a.id, w.a.viewerInvite, "Tara");
  w.otherMod = join(base, w.b.id, w.b.moderatorInvite, "Other teacher");
  w.otherViewer = join(base, w.b.id, w.b.viewerInvite, "Otto");
  w.fullMod = join(base, w.f.id, w.f.moderatorInvite, "Full teacher");
  w.fullStage = join(base, w.f.id, w.f.viewerInvite, "Fay");
  w.fullWaiting = join(base, w.f.id, w.f.viewerInvite, "Finn");
  auto must = [](const HttpResult& r) {
    if (r.status != 200) throw std::runtime_error("setup: " + std::to_string(r.status) + r.body);
  };
  must(post(base, "/api/rooms/" + w.a.id + "/promote/" + w.stage.userId, w.mod));
  must(post(base, "/api/rooms/" + w.a.id + "/raise-hand", w.hand));
  must(post(base, "/api/rooms/" + w.f.id + "/promote/" + w.fullStage.userId, w.fullMod));
  return w;
}

enum class Who {
  Anon, Viewer, OtherViewer, Moderator, OtherModerator, Stage, Hand,  // room sessions
  Admin, WrongKey, Forged, Expired, Garbage, FullModerator,
};

const char* name(Who who) {
  static const char* names[] = {"anonymous", "viewer",  "other-room viewer", "moderator",
                                "other-room moderator", "user on stage", "viewer with hand up",
                                "admin key", "wrong admin key", "forged token", "expired token",
                                "garbage token", "moderator of the full room"};
  return names[static_cast<int>(who)];
}

Headers credentials(const World& w, Who who) {
  auto bearer = [](const std::string& t) { return Headers{{"Authorization", "Bearer " + t}}; };
  switch (who) {
    case Who::Anon: return {};
    case Who::Viewer: return w.viewer.auth();
    case Who::OtherViewer: return w.otherViewer.auth();
    case Who::Moderator: return w.mod.auth();
    case Who::OtherModerator: return w.otherMod.auth();
    case Who::Stage: return w.stage.auth();
    case Who::Hand: return w.hand.auth();
    case Who::Admin: return bearer(ServeProcess::kAdminKey);
    case Who::WrongKey: return bearer("wrong-admin-key-0123456789");
    case Who::Forged: return bearer(forgedModerator(w.viewer));
    case Who::Expired: return bearer(expiredToken(w.viewer));
    case Who::Garbage: return bearer("not-a-token");
    case Who::FullModerator: return w.fullMod.auth();
  }
  return {};
}

// {A} {B} {C} {F}: room ids; {V} {S} {H} {T} {VB} {F2}: user ids; {vA} {vB} {vC}: viewer invites.
std::string expand(std::string s, const World& w) {
  const std::pair<const char*, std::string> vars[] = {
      {"{A}", w.a.id},           {"{B}", w.b.id},           {"{C}", w.c.id},
      {"{F}", w.f.id},           {"{V}", w.viewer.userId},  {"{S}", w.stage.userId},
      {"{H}", w.hand.userId},    {"{T}", w.target.userId},  {"{VB}", w.otherViewer.userId},
      {"{F2}", w.fullWaiting.userId}, {"{vA}", w.a.viewerInvite}, {"{vB}", w.b.viewerInvite},
      {"{vC}", w.c.viewerInvite}};
  for (const auto& [key, value] : vars) {
    for (auto at = s.find(key); at != std::string::npos; at = s.find(key, at + value.size())) {
      s.replace(at, std::string_view(key).size(), value);
    }
  }
  return s;
}

// What a rejected request must not change: live, hands and stage of every room.
json snapshot(const std::string& base, const World& w) {
  json all;
  for (const auto* who : {&w.mod, &w.otherMod, &w.fullMod}) {
    auto res = get(base, "/api/rooms/" + (who == &w.mod       ? w.a.id
                                          : who == &w.otherMod ? w.b.id
                                                               : w.f.id) + "/state",
                   *who);
    if (res.status != 200) return json{{"state failed", res.status}};
    auto j = res.json();
    json hands = json::array(), stage = json::array();
    for (const auto& h : j["hands"]) hands.push_back(h["userId"]);
    for (const auto& s : j["stage"]) stage.push_back(s["userId"]);
    all[j["roomId"].get<std::string>()] = {{"live", j["live"]}, {"hands", hands}, {"stage", stage}};
  }
  return all;
}

void expectErrorShape(const std::string& body, const std::string& code) {
  json j = json::parse(body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error") && j["error"].is_object()) << body;
  ASSERT_TRUE(j["error"].contains("code") && j["error"]["code"].is_string()) << body;
  ASSERT_TRUE(j["error"].contains("message") && j["error"]["message"].is_string()) << body;
  EXPECT_FALSE(j["error"]["code"].get<std::string>().empty()) << body;
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty()) << body;
  if (!code.empty()) {
    EXPECT_EQ(j["error"]["code"], code) << body;
  }
}

struct Row {
  Who who;
  const char* method;  // "SSE": a GET read as an event stream
  std::string path;
  std::string body;
  int status;
  std::string code = {};  // the expected error code, when it matters
};

struct Outcome {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

Outcome send(const std::string& base, const Row& row, const World& w) {
  const std::string path = expand(row.path, w);
  const Headers headers = credentials(w, row.who);
  if (std::string_view(row.method) != "SSE") {
    auto res = httpRequest(base, row.method, path, expand(row.body, w), headers);
    return {res.status, res.body, res.headers};
  }
  SseClient sse(base, path, headers, 5s);
  Outcome out{sse.status(), {}, sse.headers()};
  if (sse.status() == 200) {
    EXPECT_EQ(sse.headers().at("content-type").rfind("text/event-stream", 0), 0u);
  } else {
    sse.next(2s);  // reads the (non-event) error body to its end
    out.body = sse.pending();
  }
  sse.close();
  return out;
}

void runTable(const std::string& base, const World& w, const std::vector<Row>& rows) {
  for (const auto& row : rows) {
    SCOPED_TRACE(std::string(name(row.who)) + ": " + row.method + " " + expand(row.path, w) +
                 " " + row.body);
    const bool rejected = row.status >= 400;
    const json before = rejected ? snapshot(base, w) : json();
    Outcome out;
    try {
      out = send(base, row, w);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "request failed: " << e.what();
      continue;
    }
    EXPECT_EQ(out.status, row.status) << out.body;
    if (out.status >= 400) expectErrorShape(out.body, row.code);
    if (out.status == 401) {
      EXPECT_EQ(out.headers["www-authenticate"], "Bearer");
    }
    if (rejected) {
      EXPECT_EQ(snapshot(base, w), before) << "a rejected request changed state";
    }
  }
}

std::vector<Row> table() {
  using W = Who;
  const std::string A = "/api/rooms/{A}";
  const std::string title = R"({"title":"made by the matrix"})";
  const std::string lowerH = R"({"userId":"{H}"})";
  std::vector<Row> rows = {
      // POST /api/rooms: the admin key only.
      {W::Anon, "POST", "/api/rooms", title, 401},
      {W::WrongKey, "POST", "/api/rooms", title, 401},
      {W::Garbage, "POST", "/api/rooms", title, 401},
      {W::Forged, "POST", "/api/rooms", title, 401},  // not a session: a forgery
      {W::Expired, "POST", "/api/rooms", title, 401},
      {W::Viewer, "POST", "/api/rooms", title, 403},
      {W::Moderator, "POST", "/api/rooms", title, 403},
      {W::Admin, "POST", "/api/rooms", title, 201},
      {W::Admin, "POST", "/api/rooms", R"({"id":"{A}","title":"again"})", 409, "room_exists"},
      // POST /api/rooms/:id/invites (rotate): the admin key only.
      {W::Anon, "POST", "/api/rooms/{C}/invites", "", 401},
      {W::WrongKey, "POST", "/api/rooms/{C}/invites", "", 401},
      {W::Forged, "POST", "/api/rooms/{C}/invites", "", 401},
      {W::Viewer, "POST", "/api/rooms/{C}/invites", "", 403},
      {W::Moderator, "POST", "/api/rooms/{C}/invites", "", 403},
      {W::OtherModerator, "POST", "/api/rooms/{C}/invites", "", 403},
      {W::Admin, "POST", "/api/rooms/nosuch-room/invites", "", 404},
      {W::Admin, "POST", "/api/rooms/{C}/invites", "", 200},
      {W::Anon, "POST", "/api/rooms/{C}/join", R"({"invite":"{vC}","displayName":"Late"})", 403,
       "invalid_invite"},  // rotated away
      // GET /api/rooms/:id: anyone.
      {W::Anon, "GET", A, "", 200},
      {W::Viewer, "GET", A, "", 200},
      {W::OtherViewer, "GET", A, "", 200},
      {W::Garbage, "GET", A, "", 200},
      {W::Anon, "GET", "/api/rooms/nosuch-room", "", 404},
      {W::Anon, "GET", "/api/rooms/Not_A_Room", "", 404},
      // POST /join: an invite of this room.
      {W::Anon, "POST", A + "/join", R"({"invite":"{vA}","displayName":"Walk-in"})", 200},
      {W::Anon, "POST", A + "/join", R"({"invite":"{vB}","displayName":"Walk-in"})", 403,
       "invalid_invite"},
      {W::Anon, "POST", A + "/join", R"({"invite":"bogus","displayName":"Walk-in"})", 403,
       "invalid_invite"},
      {W::Anon, "POST", "/api/rooms/nosuch-room/join",
       R"({"invite":"{vA}","displayName":"Walk-in"})", 404},
      {W::Anon, "POST", A + "/join", R"({"invite":"{vA}"})", 400},
      {W::Anon, "POST", A + "/join", "", 400},
      // GET /session: members of this room.
      {W::Anon, "GET", A + "/session", "", 401},
      {W::Forged, "GET", A + "/session", "", 401},
      {W::Expired, "GET", A + "/session", "", 401},
      {W::Garbage, "GET", A + "/session", "", 401},
      {W::Admin, "GET", A + "/session", "", 401},
      {W::OtherViewer, "GET", A + "/session", "", 403},
      {W::OtherModerator, "GET", A + "/session", "", 403},
      {W::Viewer, "GET", A + "/session", "", 200},
      {W::Moderator, "GET", A + "/session", "", 200},
      {W::Stage, "GET", A + "/session", "", 200},
      // GET /state: members of this room.
      {W::Anon, "GET", A + "/state", "", 401},
      {W::Forged, "GET", A + "/state", "", 401},
      {W::Expired, "GET", A + "/state", "", 401},
      {W::Garbage, "GET", A + "/state", "", 401},
      {W::Admin, "GET", A + "/state", "", 401},
      {W::OtherViewer, "GET", A + "/state", "", 403},
      {W::OtherModerator, "GET", A + "/state", "", 403},
      {W::Anon, "GET", "/api/rooms/Not_A_Room/state", "", 404},
      {W::Viewer, "GET", A + "/state", "", 200},
      {W::Moderator, "GET", A + "/state", "", 200},
      {W::Stage, "GET", A + "/state", "", 200},
  };
  // POST /live and /end: the moderator of this room.
  for (const char* action : {"/live", "/end"}) {
    for (auto [who, status] : {std::pair{W::Anon, 401}, {W::Forged, 401}, {W::Expired, 401},
                               {W::Garbage, 401}, {W::Admin, 401}, {W::Viewer, 403},
                               {W::OtherViewer, 403}, {W::OtherModerator, 403}, {W::Stage, 403},
                               {W::Hand, 403}, {W::Moderator, 200}}) {
      rows.push_back({who, "POST", A + action, "", status});
    }
  }
  std::vector<Row> more = {
      // POST /raise-hand: viewers of this room (not on stage).
      {W::Anon, "POST", A + "/raise-hand", "", 401},
      {W::Forged, "POST", A + "/raise-hand", "", 401},
      {W::Expired, "POST", A + "/raise-hand", "", 401},
      {W::Garbage, "POST", A + "/raise-hand", "", 401},
      {W::Admin, "POST", A + "/raise-hand", "", 401},
      {W::OtherViewer, "POST", A + "/raise-hand", "", 403},
      {W::OtherModerator, "POST", A + "/raise-hand", "", 403},
      {W::Moderator, "POST", A + "/raise-hand", "", 403},
      {W::Stage, "POST", A + "/raise-hand", "", 409, "already_on_stage"},
      {W::Viewer, "POST", A + "/raise-hand", "", 200},
      {W::Hand, "POST", A + "/raise-hand", "{}", 200},  // idempotent
      // POST /lower-hand: one's own hand; a moderator's {userId}.
      {W::Anon, "POST", A + "/lower-hand", "", 401},
      {W::Forged, "POST", A + "/lower-hand", "", 401},
      {W::OtherViewer, "POST", A + "/lower-hand", "", 403},
      {W::OtherModerator, "POST", A + "/lower-hand", "", 403},
      {W::Viewer, "POST", A + "/lower-hand", "", 200},
      {W::Moderator, "POST", A + "/lower-hand", "", 200},
      {W::Stage, "POST", A + "/lower-hand", "", 200},
      {W::Anon, "POST", A + "/lower-hand", lowerH, 401},
      {W::Viewer, "POST", A + "/lower-hand", lowerH, 403},
      {W::Stage, "POST", A + "/lower-hand", lowerH, 403},
      {W::OtherViewer, "POST", A + "/lower-hand", lowerH, 403},
      {W::OtherModerator, "POST", A + "/lower-hand", lowerH, 403},
      {W::Moderator, "POST", A + "/lower-hand", R"({"userId":5})", 400},
      {W::Moderator, "POST", A + "/lower-hand", lowerH, 200},
      {W::Hand, "POST", A + "/raise-hand", "", 200},  // back up for what follows
      // POST /promote/:userId: the moderator of this room; 404 for non-members, 409 when full.
      {W::Anon, "POST", A + "/promote/{T}", "", 401},
      {W::Forged, "POST", A + "/promote/{T}", "", 401},
      {W::Expired, "POST", A + "/promote/{T}", "", 401},
      {W::Garbage, "POST", A + "/promote/{T}", "", 401},
      {W::Viewer, "POST", A + "/promote/{T}", "", 403},
      {W::Hand, "POST", A + "/promote/{H}", "", 403},
      {W::Stage, "POST", A + "/promote/{T}", "", 403},
      {W::OtherViewer, "POST", A + "/promote/{T}", "", 403},
      {W::OtherModerator, "POST", A + "/promote/{T}", "", 403},
      {W::Moderator, "POST", A + "/promote/nobody0joined", "", 404},
      {W::Moderator, "POST", A + "/promote/{VB}", "", 404},  // a member of room B
      {W::Moderator, "POST", A + "/promote/Not_A_User", "", 404},
      {W::FullModerator, "POST", "/api/rooms/{F}/promote/{F2}", "", 409, "stage_full"},
      {W::Moderator, "POST", A + "/promote/{T}", "", 200},
      {W::Moderator, "POST", A + "/promote/{S}", "", 200},  // already there: no change
      // POST /demote/:userId: the moderator, or the user themself.
      {W::Anon, "POST", A + "/demote/{T}", "", 401},
      {W::Forged, "POST", A + "/demote/{T}", "", 401},
      {W::Garbage, "POST", A + "/demote/{T}", "", 401},
      {W::Viewer, "POST", A + "/demote/{T}", "", 403},
      {W::Hand, "POST", A + "/demote/{T}", "", 403},
      {W::Stage, "POST", A + "/demote/{T}", "", 403},
      {W::OtherViewer, "POST", A + "/demote/{T}", "", 403},
      {W::OtherModerator, "POST", A + "/demote/{T}", "", 403},
      {W::Moderator, "POST", A + "/demote/{T}", "", 200},
      {W::Stage, "POST", A + "/demote/{S}", "", 200},
      {W::Moderator, "POST", A + "/promote/{S}", "", 200},  // back on stage
      // GET /events: the moderator of this room.
      {W::Anon, "SSE", A + "/events", "", 401},
      {W::Forged, "SSE", A + "/events", "", 401},
      {W::Expired, "SSE", A + "/events", "", 401},
      {W::Garbage, "SSE", A + "/events", "", 401},
      {W::Admin, "SSE", A + "/events", "", 401},
      {W::Viewer, "SSE", A + "/events", "", 403},
      {W::Stage, "SSE", A + "/events", "", 403},
      {W::Hand, "SSE", A + "/events", "", 403},
      {W::OtherViewer, "SSE", A + "/events", "", 403},
      {W::OtherModerator, "SSE", A + "/events", "", 403},
      {W::Moderator, "SSE", A + "/events", "", 200},
      // GET /user-events: any member of this room, for themself.
      {W::Anon, "SSE", A + "/user-events", "", 401},
      {W::Forged, "SSE", A + "/user-events", "", 401},
      {W::Garbage, "SSE", A + "/user-events", "", 401},
      {W::OtherViewer, "SSE", A + "/user-events", "", 403},
      {W::OtherModerator, "SSE", A + "/user-events", "", 403},
      {W::Viewer, "SSE", A + "/user-events", "", 200},
      {W::Hand, "SSE", A + "/user-events", "", 200},
      {W::Stage, "SSE", A + "/user-events", "", 200},
      {W::Moderator, "SSE", A + "/user-events", "", 200},
      // Health, readiness, metrics: anyone.
      {W::Anon, "GET", "/healthz", "", 200},
      {W::Anon, "GET", "/readyz", "", 200},
      {W::Anon, "GET", "/metrics", "", 200},
  };
  rows.insert(rows.end(), more.begin(), more.end());
  return rows;
}

TEST_F(Matrix, EveryEndpointTimesRole) {
  const World w = makeWorld(base(), "mx");
  runTable(base(), w, table());
  // The table's successes left room A as it began: S on stage, H's hand up, not live.
  auto state = get(base(), "/api/rooms/" + w.a.id + "/state", w.mod).json();
  EXPECT_EQ(state["live"], false);
  ASSERT_EQ(state["stage"].size(), 1u);
  EXPECT_EQ(state["stage"][0]["userId"], w.stage.userId);
  ASSERT_EQ(state["hands"].size(), 1u);
  EXPECT_EQ(state["hands"][0]["userId"], w.hand.userId);
}

TEST_F(Matrix, ViewersSeeTheirOwnHandButNotTheQueue) {
  const World w = makeWorld(base(), "hide");
  auto mine = get(base(), "/api/rooms/" + w.a.id + "/state", w.hand).json();
  EXPECT_EQ(mine["you"]["handPosition"], 1);
  auto other = get(base(), "/api/rooms/" + w.a.id + "/state", w.viewer).json();
  EXPECT_TRUE(other["hands"].empty()) << other.dump();
  EXPECT_TRUE(other["you"]["handPosition"].is_null());
  EXPECT_EQ(other["you"]["role"], "viewer");
  auto stage = get(base(), "/api/rooms/" + w.a.id + "/state", w.stage).json();
  EXPECT_EQ(stage["you"]["onStage"], true);
}

// ---- Cookie sessions and CSRF ----

struct CookieUser {
  User user;
  std::string cookie;  // "amphi_<room>=<token>"
  std::string setCookie;
};

CookieUser joinForCookie(const std::string& base, const std::string& roomId,
                         const std::string& invite, const std::string& name) {
  json body = {{"invite", invite}, {"displayName", name}};
  auto res = httpRequest(base, "POST", "/api/rooms/" + roomId + "/join", body.dump());
  if (res.status != 200) throw std::runtime_error("join: " + res.body);
  auto j = res.json();
  CookieUser cu{{j["userId"], j["token"], j["role"], name}, {}, res.headers["set-cookie"]};
  cu.cookie = cu.setCookie.substr(0, cu.setCookie.find(';'));
  return cu;
}

TEST_F(Matrix, JoinSetsARoomScopedHttpOnlyCookie) {
  auto room = createRoom(base(), "cookie-attrs");
  auto cu = joinForCookie(base(), room.id, room.viewerInvite, "Cora");
  const std::string& sc = cu.setCookie;
  ASSERT_FALSE(sc.empty()) << "join sent no Set-Cookie";
  EXPECT_EQ(cu.cookie, "amphi_" + room.id + "=" + cu.user.token);
  EXPECT_NE(sc.find("; HttpOnly"), std::string::npos) << sc;
  EXPECT_NE(sc.find("; SameSite="), std::string::npos) << sc;
  EXPECT_NE(sc.find("; Path=/api/rooms/" + room.id + ";"), std::string::npos) << sc;
  EXPECT_EQ(sc.find("Domain="), std::string::npos) << sc;
}

TEST_F(Matrix, CookiePostsNeedOurOriginAndStayInTheirRoom) {
  const std::string a = "csrf-a", b = "csrf-b";
  auto roomA = createRoom(base(), a);
  auto roomB = createRoom(base(), b);
  auto mod = join(base(), a, roomA.moderatorInvite, "Teacher");
  auto viewer = joinForCookie(base(), a, roomA.viewerInvite, "Vic");
  auto modCookie = joinForCookie(base(), a, roomA.moderatorInvite, "Cookie teacher");
  join(base(), b, roomB.moderatorInvite, "B teacher");
  const std::string raise = "/api/rooms/" + a + "/raise-hand";
  auto hands = [&] { return get(base(), "/api/rooms/" + a + "/state", mod).json()["hands"]; };
  auto stage = [&] { return get(base(), "/api/rooms/" + a + "/state", mod).json()["stage"]; };

  const std::pair<const char*, Headers> refused[] = {
      {"no Origin", {{"Cookie", viewer.cookie}}},
      {"foreign Origin", {{"Cookie", viewer.cookie}, {"Origin", "http://evil.example"}}},
      {"Origin null", {{"Cookie", viewer.cookie}, {"Origin", "null"}}},
      {"look-alike Origin", {{"Cookie", viewer.cookie}, {"Origin", base() + ".evil.example"}}},
      {"other scheme", {{"Cookie", viewer.cookie}, {"Origin", "ftp://127.0.0.1"}}},
  };
  for (const auto& [what, headers] : refused) {
    SCOPED_TRACE(what);
    auto res = httpRequest(base(), "POST", raise, "", headers);
    EXPECT_EQ(res.status, 403) << res.body;
    expectErrorShape(res.body, "csrf");
    EXPECT_TRUE(hands().empty());
  }
  // A moderator's cookie is held to the same rule.
  auto promote = "/api/rooms/" + a + "/promote/" + viewer.user.userId;
  auto res = httpRequest(base(), "POST", promote, "", {{"Cookie", modCookie.cookie}});
  EXPECT_EQ(res.status, 403) << res.body;
  expectErrorShape(res.body, "csrf");
  EXPECT_TRUE(stage().empty());

  // GETs carry no CSRF risk: the cookie alone works (EventSource cannot send headers).
  res = httpRequest(base(), "GET", "/api/rooms/" + a + "/session", "", {{"Cookie", viewer.cookie}});
  EXPECT_EQ(res.status, 200) << res.body;
  {
    SseClient sse(base(), "/api/rooms/" + a + "/user-events", {{"Cookie", viewer.cookie}});
    EXPECT_EQ(sse.status(), 200);
  }

  // Our own origin is accepted.
  res = httpRequest(base(), "POST", raise, "", {{"Cookie", viewer.cookie}, {"Origin", base()}});
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(hands().size(), 1u);
  res = httpRequest(base(), "POST", "/api/rooms/" + a + "/lower-hand", "",
                    {{"Cookie", viewer.cookie}, {"Origin", base()}});
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_TRUE(hands().empty());

  // Room A's cookie is not a session for room B (not even sent under B's cookie name).
  const std::string raiseB = "/api/rooms/" + b + "/raise-hand";
  res = httpRequest(base(), "POST", raiseB, "", {{"Cookie", viewer.cookie}, {"Origin", base()}});
  EXPECT_EQ(res.status, 401) << res.body;
  expectErrorShape(res.body, "");
  res = httpRequest(base(), "GET", "/api/rooms/" + b + "/state", "", {{"Cookie", viewer.cookie}});
  EXPECT_EQ(res.status, 401) << res.body;
  res = httpRequest(base(), "POST", raiseB, "",
                    {{"Cookie", "amphi_" + b + "=" + viewer.user.token}, {"Origin", base()}});
  EXPECT_EQ(res.status, 403) << res.body;
  expectErrorShape(res.body, "");
}

}  // namespace
}  // namespace amphi::testing
