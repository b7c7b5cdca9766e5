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

// A failure in SetUpTestSuite would make gtest skip every test, and ctest counts a
// skip as a pass: remember it and fail each test instead.
class Matrix : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      nats_ = new NatsFixture();
      // No Janus: nothing here needs the stage's media server.
      serve_ = new ServeProcess(
          nats_->url(), {"--join-per-minute", "0", "--hand-per-minute", "0", "--janus", "false"});
    } catch (const std::exception& e) {
      setupError_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete nats_;
  }
  void SetUp() override { ASSERT_TRUE(setupError_.empty()) << setupError_; }
  static std::string base() { return serve_->baseUrl(); }
  static inline std::string setupError_;
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

// clang-format off
enum class Who {
  Anon, Viewer, OtherViewer, Moderator, OtherModerator, Stage, Hand,  // sessions of room A/B
  Admin, WrongKey, Forged, Expired, Garbage, FullModerator
};

struct Credential {
  const char* name;
  std::string bearer;  // empty: no Authorization header
};

std::map<Who, Credential> credentials(const World& w) {
  return {{Who::Anon, {"anonymous", ""}},
          {Who::Viewer, {"viewer", w.viewer.token}},
          {Who::OtherViewer, {"other-room viewer", w.otherViewer.token}},
          {Who::Moderator, {"moderator", w.mod.token}},
          {Who::OtherModerator, {"other-room moderator", w.otherMod.token}},
          {Who::Stage, {"user on stage", w.stage.token}},
          {Who::Hand, {"viewer with hand up", w.hand.token}},
          {Who::Admin, {"admin key", ServeProcess::kAdminKey}},
          {Who::WrongKey, {"wrong admin key", "wrong-admin-key-0123456789"}},
          {Who::Forged, {"forged token", forgedModerator(w.viewer)}},
          {Who::Expired, {"expired token", expiredToken(w.viewer)}},
          {Who::Garbage, {"garbage token", "not-a-token"}},
          {Who::FullModerator, {"moderator of the full room", w.fullMod.token}}};
}
// clang-format on

// {A} {B} {C} {F}: room ids; {V} {S} {H} {T} {VB} {F2}: user ids; {vA} {vB} {vC}: viewer invites.
std::string expand(std::string s, const World& w) {
  // clang-format off
  const std::pair<const char*, std::string> vars[] = {
      {"{A}", w.a.id}, {"{B}", w.b.id}, {"{C}", w.c.id}, {"{F}", w.f.id},
      {"{V}", w.viewer.userId}, {"{S}", w.stage.userId}, {"{H}", w.hand.userId},
      {"{T}", w.target.userId}, {"{VB}", w.otherViewer.userId}, {"{F2}", w.fullWaiting.userId},
      {"{vA}", w.a.viewerInvite}, {"{vB}", w.b.viewerInvite}, {"{vC}", w.c.viewerInvite}};
  // clang-format on
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
    auto res = get(base,
                   "/api/rooms/" +
                       (who == &w.mod        ? w.a.id
                        : who == &w.otherMod ? w.b.id
                                             : w.f.id) +
                       "/state",
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

Outcome send(const std::string& base, const Row& row, const World& w, const Credential& who) {
  const std::string path = expand(row.path, w);
  Headers headers;
  if (!who.bearer.empty()) headers.emplace_back("Authorization", "Bearer " + who.bearer);
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
  const auto creds = credentials(w);
  for (const auto& row : rows) {
    const Credential& who = creds.at(row.who);
    SCOPED_TRACE(std::string(who.name) + ": " + row.method + " " + expand(row.path, w) + " " +
                 row.body);
    const bool rejected = row.status >= 400;
    const json before = rejected ? snapshot(base, w) : json();
    Outcome out;
    try {
      out = send(base, row, w, who);
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

// One endpoint, many callers: who → expected status, in the order they are tried.
class Table {
 public:
  Table& on(const char* method, std::string path, std::string body = "") {
    method_ = method, path_ = std::move(path), body_ = std::move(body);
    return *this;
  }
  Table& expect(std::initializer_list<std::pair<Who, int>> cases) {
    for (auto [who, status] : cases) rows_.push_back({who, method_, path_, body_, status});
    return *this;
  }
  Table& expect(Who who, int status, std::string code) {
    rows_.push_back({who, method_, path_, body_, status, std::move(code)});
    return *this;
  }
  const std::vector<Row>& rows() const { return rows_; }

 private:
  const char* method_ = "GET";
  std::string path_, body_;
  std::vector<Row> rows_;
};

// clang-format off
std::vector<Row> table() {
  using W = Who;
  const std::string A = "/api/rooms/{A}";
  const std::string title = R"({"title":"made by the matrix"})";
  const auto tokensRefused = {std::pair{W::Anon, 401}, {W::Forged, 401}, {W::Expired, 401},
                              {W::Garbage, 401}, {W::Admin, 401}};
  const auto otherRoomRefused = {std::pair{W::OtherViewer, 403}, {W::OtherModerator, 403}};
  Table t;
  // POST /api/rooms and /invites: the admin key only; a room session is 403.
  t.on("POST", "/api/rooms", title)
      .expect({{W::Anon, 401}, {W::WrongKey, 401}, {W::Garbage, 401}, {W::Forged, 401},
               {W::Expired, 401}, {W::Viewer, 403}, {W::Moderator, 403}, {W::Admin, 201}});
  t.on("POST", "/api/rooms", R"({"id":"{A}","title":"again"})")
      .expect(W::Admin, 409, "room_exists");
  t.on("POST", "/api/rooms/nosuch-room/invites").expect({{W::Admin, 404}});
  t.on("POST", "/api/rooms/{C}/invites")
      .expect({{W::Anon, 401}, {W::WrongKey, 401}, {W::Forged, 401}, {W::Viewer, 403},
               {W::Moderator, 403}, {W::OtherModerator, 403}, {W::Admin, 200}});
  t.on("POST", "/api/rooms/{C}/join", R"({"invite":"{vC}","displayName":"Late"})")
      .expect(W::Anon, 403, "invalid_invite");  // rotated away
  // GET /api/rooms/:id: anyone.
  t.on("GET", A)
      .expect({{W::Anon, 200}, {W::Viewer, 200}, {W::OtherViewer, 200}, {W::Garbage, 200}});
  t.on("GET", "/api/rooms/nosuch-room").expect({{W::Anon, 404}});
  t.on("GET", "/api/rooms/Not_A_Room").expect({{W::Anon, 404}});
  // POST /join: an invite of this room.
  auto joinWith = [](const char* invite) {
    return std::string(R"({"invite":")") + invite + R"(","displayName":"Walk-in"})";
  };
  t.on("POST", A + "/join", joinWith("{vA}")).expect({{W::Anon, 200}});
  t.on("POST", A + "/join", joinWith("{vB}")).expect(W::Anon, 403, "invalid_invite");
  t.on("POST", A + "/join", joinWith("bogus")).expect(W::Anon, 403, "invalid_invite");
  t.on("POST", "/api/rooms/nosuch-room/join", joinWith("{vA}")).expect({{W::Anon, 404}});
  t.on("POST", A + "/join", R"({"invite":"{vA}"})").expect({{W::Anon, 400}});
  t.on("POST", A + "/join").expect({{W::Anon, 400}});
  // GET /session and /state: members of this room.
  for (const char* tail : {"/session", "/state"}) {
    t.on("GET", A + tail).expect(tokensRefused).expect(otherRoomRefused)
        .expect({{W::Viewer, 200}, {W::Moderator, 200}, {W::Stage, 200}});
  }
  t.on("GET", "/api/rooms/Not_A_Room/state").expect({{W::Anon, 404}});
  // GET /invites: the moderator of this room reads the links (rotation stays admin-only).
  t.on("GET", A + "/invites").expect(tokensRefused).expect(otherRoomRefused)
      .expect({{W::Viewer, 403}, {W::Stage, 403}, {W::Hand, 403}, {W::Moderator, 200}});
  t.on("GET", "/api/rooms/nosuch-room/invites").expect({{W::Moderator, 403}});
  // POST /live and /end: the moderator of this room.
  for (const char* tail : {"/live", "/end"}) {
    t.on("POST", A + tail).expect(tokensRefused).expect(otherRoomRefused)
        .expect({{W::Viewer, 403}, {W::Stage, 403}, {W::Hand, 403}, {W::Moderator, 200}});
  }
  // POST /raise-hand: viewers of this room who are not on stage; idempotent.
  t.on("POST", A + "/raise-hand").expect(tokensRefused).expect(otherRoomRefused)
      .expect({{W::Moderator, 403}}).expect(W::Stage, 409, "already_on_stage")
      .expect({{W::Viewer, 200}, {W::Hand, 200}});
  // POST /lower-hand: one's own hand; a moderator's {userId}.
  t.on("POST", A + "/lower-hand").expect(tokensRefused).expect(otherRoomRefused)
      .expect({{W::Viewer, 200}, {W::Moderator, 200}, {W::Stage, 200}});
  t.on("POST", A + "/lower-hand", R"({"userId":5})").expect({{W::Moderator, 400}});
  t.on("POST", A + "/lower-hand", R"({"userId":"{H}"})")
      .expect(tokensRefused).expect(otherRoomRefused)
      .expect({{W::Viewer, 403}, {W::Stage, 403}, {W::Moderator, 200}});
  t.on("POST", A + "/raise-hand").expect({{W::Hand, 200}});  // back up for what follows
  // POST /promote/:userId: the moderator; 404 for non-members, 409 when the stage is full.
  t.on("POST", A + "/promote/{T}").expect(tokensRefused).expect(otherRoomRefused)
      .expect({{W::Viewer, 403}, {W::Stage, 403}, {W::Hand, 403}});
  t.on("POST", A + "/promote/{H}").expect({{W::Hand, 403}});
  t.on("POST", A + "/promote/nobody0joined").expect({{W::Moderator, 404}});
  t.on("POST", A + "/promote/{VB}").expect({{W::Moderator, 404}});  // a member of room B
  t.on("POST", A + "/promote/Not_A_User").expect({{W::Moderator, 404}});
  t.on("POST", "/api/rooms/{F}/promote/{F2}").expect(W::FullModerator, 409, "stage_full");
  t.on("POST", A + "/promote/{T}").expect({{W::Moderator, 200}});
  t.on("POST", A + "/promote/{S}").expect({{W::Moderator, 200}});  // already there: no change
  // POST /demote/:userId: the moderator, or the user themself.
  t.on("POST", A + "/demote/{T}").expect(tokensRefused).expect(otherRoomRefused)
      .expect({{W::Viewer, 403}, {W::Hand, 403}, {W::Stage, 403}, {W::Moderator, 200}});
  t.on("POST", A + "/demote/{V}").expect({{W::Viewer, 200}});  // not on stage: no change
  t.on("POST", A + "/demote/{S}").expect({{W::Stage, 200}});
  t.on("POST", A + "/promote/{S}").expect({{W::Moderator, 200}});  // back on stage
  // GET /events: the moderator of this room. GET /user-events: any member, for themself.
  t.on("SSE", A + "/events").expect(tokensRefused).expect(otherRoomRefused)
      .expect({{W::Viewer, 403}, {W::Stage, 403}, {W::Hand, 403}, {W::Moderator, 200}});
  t.on("SSE", A + "/user-events").expect(tokensRefused).expect(otherRoomRefused)
      .expect({{W::Viewer, 200}, {W::Hand, 200}, {W::Stage, 200}, {W::Moderator, 200}});
  // Health, readiness, metrics: anyone.
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    t.on("GET", path).expect({{W::Anon, 200}});
  }
  return t.rows();
}
// clang-format on

TEST_F(Matrix, EveryEndpointTimesRole) {
  const World w = makeWorld(base(), "mx");
  ASSERT_EQ(snapshot(base(), w).size(), 3u) << snapshot(base(), w).dump();
  const auto rows = table();
  EXPECT_GT(rows.size(), 150u);
  runTable(base(), w, rows);
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

// The console's "invite links to copy": what a moderator reads is what the admin created,
// and the viewer link it hands out lets a new person in as a viewer.
TEST_F(Matrix, ModeratorReadsWorkingInviteLinks) {
  const Room room = createRoom(base(), "links");
  const User mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  auto res = get(base(), "/api/rooms/" + room.id + "/invites", mod);
  ASSERT_EQ(res.status, 200) << res.body;
  const json invites = res.json()["invites"];
  EXPECT_EQ(invites["moderator"]["code"], room.moderatorInvite);
  EXPECT_EQ(invites["viewer"]["code"], room.viewerInvite);
  const std::string link = invites["viewer"]["link"];
  EXPECT_EQ(link.rfind("http", 0), 0u) << link;
  const std::string code = link.substr(link.find("#invite=") + 8);
  EXPECT_EQ(join(base(), room.id, code, "Newcomer").role, "viewer");
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
