#include "sfu/janus_config.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace amphi::sfu {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHeader = "# Written by amphi at each start of Janus; edits are lost.\n";

// Fallbacks when a folder cannot be listed (Janus 1.1.2 as packaged by Debian 12).
const std::vector<std::string> kKnownPlugins = {
    "libjanus_audiobridge.so", "libjanus_duktape.so",   "libjanus_echotest.so",
    "libjanus_lua.so",         "libjanus_nosip.so",     "libjanus_recordplay.so",
    "libjanus_sip.so",         "libjanus_streaming.so", "libjanus_textroom.so",
    "libjanus_videocall.so",   "libjanus_videoroom.so", "libjanus_voicemail.so"};
const std::vector<std::string> kKnownTransports = {
    "libjanus_http.so",   "libjanus_mqtt.so",     "libjanus_nanomsg.so",
    "libjanus_pfunix.so", "libjanus_rabbitmq.so", "libjanus_websockets.so"};
const std::vector<std::string> kKnownLoggers = {"libjanus_jsonlog.so"};

// A libconfig string literal.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n' || c == '\r') throw std::runtime_error("janus config: newline in a value");
    out += c;
  }
  return out + "\"";
}

// The module files (*.so, not the versioned links) of a folder, sorted.
std::vector<std::string> modulesIn(const std::string& folder,
                                   const std::vector<std::string>& fallback) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() > 3 && name.ends_with(".so")) names.push_back(name);
  }
  if (ec || names.empty()) names = fallback;
  std::sort(names.begin(), names.end());
  return names;
}

// "a.so,b.so" of every module in the list except those kept.
std::string disableList(const std::vector<std::string>& modules,
                        const std::vector<std::string>& keep) {
  std::string out;
  for (const auto& name : modules) {
    if (std::find(keep.begin(), keep.end(), name) != keep.end()) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

void writeFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream file(tmp, std::ios::trunc);
    if (!file) throw std::runtime_error(fmt::format("janus config: cannot write {}", tmp));
    ::chmod(tmp.c_str(), 0600);
    file << kHeader << text;
    if (!file.flush()) throw std::runtime_error(fmt::format("janus config: cannot write {}", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    throw std::runtime_error(fmt::format("janus config: cannot write {}: {}", path, ec.message()));
}

std::string coreConfig(const JanusConfig& c) {
  std::string logging =
      c.logFile.empty()
          ? "  log_to_stdout = true\n"
          : fmt::format("  log_to_stdout = false\n  log_to_file = {}\n", quoted(c.logFile));
  std::string general = fmt::format(
      "general: {{\n"
      "  configs_folder = {}\n"
      "  plugins_folder = {}\n"
      "  transports_folder = {}\n"
      "  events_folder = {}\n"
      "  loggers_folder = {}\n"
      "{}"
      "  debug_level = 4\n"
      "  debug_timestamps = true\n"
      "  debug_colors = false\n"
      "  server_name = \"amphi\"\n"
      "  token_auth = true\n"
      "  admin_secret = {}\n"
      "  protected_folders = [ \"/bin\", \"/boot\", \"/dev\", \"/etc\", \"/lib\", \"/lib64\",\n"
      "                        \"/proc\", \"/sbin\", \"/sys\", \"/usr\", \"/var\" ]\n"
      "}}\n",
      quoted(c.dir), quoted(c.libDir + "/plugins"), quoted(c.libDir + "/transports"),
      quoted(c.libDir + "/events"), quoted(c.libDir + "/loggers"), logging, quoted(c.adminSecret));
  std::string nat = "nat: {\n  nice_debug = false\n";
  if (!c.publicIp.empty()) nat += fmt::format("  nat_1_1_mapping = {}\n", quoted(c.publicIp));
  if (!c.turn.server.empty()) {
    nat += fmt::format(
        "  turn_server = {}\n  turn_port = {}\n  turn_type = {}\n  turn_user = {}\n"
        "  turn_pwd = {}\n",
        quoted(c.turn.server), c.turn.port, quoted(c.turn.type), quoted(c.turn.user),
        quoted(c.turn.password));
  }
  nat += "}\n";
  auto plugins = modulesIn(c.libDir + "/plugins", kKnownPlugins);
  auto transports = modulesIn(c.libDir + "/transports", kKnownTransports);
  auto loggers = modulesIn(c.libDir + "/loggers", kKnownLoggers);
  return general +
         fmt::format("certificates: {{\n}}\nmedia: {{\n  rtp_port_range = \"{}-{}\"\n}}\n",
                     c.rtpMin, c.rtpMax) +
         nat +
         fmt::format("plugins: {{\n  disable = {}\n}}\n",
                     quoted(disableList(plugins, {"libjanus_videoroom.so"}))) +
         fmt::format(
             "transports: {{\n  disable = {}\n}}\n",
             quoted(disableList(transports, {"libjanus_http.so", "libjanus_websockets.so"}))) +
         fmt::format("loggers: {{\n  disable = {}\n}}\n", quoted(disableList(loggers, {}))) +
         "events: {\n  broadcast = false\n}\n";
}

std::string httpConfig(const JanusConfig& c) {
  return fmt::format(
      "general: {{\n"
      "  json = \"compact\"\n"
      "  base_path = \"/janus\"\n"
      "  http = true\n"
      "  ip = \"127.0.0.1\"\n"
      "  port = {}\n"
      "  https = false\n"
      "}}\n"
      "admin: {{\n"
      "  admin_base_path = \"/admin\"\n"
      "  admin_http = true\n"
      "  admin_ip = \"127.0.0.1\"\n"
      "  admin_port = {}\n"
      "  admin_https = false\n"
      "}}\n",
      c.httpPort, c.adminPort);
}

std::string websocketsConfig(const JanusConfig& c) {
  return fmt::format(
      "general: {{\n"
      "  json = \"compact\"\n"
      "  ws = true\n"
      "  ws_ip = \"127.0.0.1\"\n"
      "  ws_port = {}\n"
      "  wss = false\n"
      "}}\n"
      "admin: {{\n"
      "  admin_ws = false\n"
      "  admin_wss = false\n"
      "}}\n",
      c.wsPort);
}

std::string videoroomConfig(const JanusConfig& c) {
  return fmt::format(
      "general: {{\n"
      "  admin_key = {}\n"
      "  lock_rtp_forward = true\n"
      "}}\n",
      quoted(c.roomAdminKey));
}

void validate(const JanusConfig& c) {
  if (c.dir.empty()) throw std::runtime_error("janus config: dir is required");
  if (c.adminSecret.empty() || c.roomAdminKey.empty())
    throw std::runtime_error("janus config: adminSecret and roomAdminKey are required");
  if (c.wsPort == 0 || c.httpPort == 0 || c.adminPort == 0)
    throw std::runtime_error("janus config: wsPort, httpPort and adminPort are required");
  if (c.rtpMin <= 0 || c.rtpMax > 65535 || c.rtpMin > c.rtpMax)
    throw std::runtime_error(
        fmt::format("janus config: bad RTP port range {}-{}", c.rtpMin, c.rtpMax));
}

}  // namespace

void writeJanusConfig(const JanusConfig& config) {
  validate(config);
  std::error_code ec;
  fs::create_directories(config.dir, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("janus config: cannot create {}: {}", config.dir, ec.message()));
  ::chmod(config.dir.c_str(), 0700);
  writeFile(config.dir + "/janus.jcfg", coreConfig(config));
  writeFile(config.dir + "/janus.transport.http.jcfg", httpConfig(config));
  writeFile(config.dir + "/janus.transport.websockets.jcfg", websocketsConfig(config));
  writeFile(config.dir + "/janus.plugin.videoroom.jcfg", videoroomConfig(config));
}

}  // namespace amphi::sfu
