// amphi: command line entry point.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "app/config.hpp"
#include "app/serve.hpp"
#include "egress/egress.hpp"

namespace {

using amphi::app::Config;

// Every config field becomes a flag (--nats-url for nats_url); values given on the
// command line are applied after the TOML file and the environment. Boolean fields may
// be given bare (--turn for --turn true).
void addConfigFlags(CLI::App& cmd, std::map<std::string, std::string>& given) {
  for (const auto& field : amphi::app::configFields()) {
    std::string flag = std::string("--") + field.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    std::string help = std::string(field.help) + "  [env AMPHI_";
    for (const char* p = field.name; *p; ++p) help += static_cast<char>(std::toupper(*p));
    help += "]";
    const bool isBool = std::holds_alternative<bool amphi::app::Config::*>(field.ref);
    auto* option = cmd.add_option_function<std::string>(
        flag,
        [&given, name = std::string(field.name), isBool](const std::string& v) {
          given[name] = isBool && v.empty() ? "true" : v;  // a bare --turn means true
        },
        help);
    if (isBool) option->expected(0, 1);
  }
}

Config loadConfig(const std::string& file, const std::map<std::string, std::string>& given) {
  Config config;
  if (!file.empty()) amphi::app::applyTomlFile(config, file);
  amphi::app::applyEnvironment(config, amphi::app::processEnvironment());
  for (const auto& field : amphi::app::configFields()) {
    if (auto it = given.find(field.name); it != given.end()) {
      amphi::app::setField(config, field, it->second);
    }
  }
  amphi::app::validate(config);
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Amphi: a self-hosted hybrid live classroom (WebRTC stage + LL-HLS audience)"};
  app.require_subcommand(1);
  std::string configFile;
  std::map<std::string, std::string> given;

  auto* serve = app.add_subcommand("serve", "Run the server: API, event streams, web app");
  serve->add_option("--config", configFile, "TOML config file (see amphi.example.toml)");
  addConfigFlags(*serve, given);

  std::string roomId, role = "viewer";
  auto* token = app.add_subcommand("token", "Print the invite link of a room for a role");
  token->add_option("--room", roomId, "room id")->required();
  token->add_option("--role", role, "moderator or viewer")
      ->check(CLI::IsMember({"moderator", "viewer"}));
  token->add_option("--config", configFile, "TOML config file");
  addConfigFlags(*token, given);

  amphi::egress::EgressOptions eg;
  std::string size = "1280x720";
  auto* egress = app.add_subcommand(
      "egress", "Broadcast one room as LL-HLS (serve starts it; runnable by hand for debugging)");
  egress->add_option("--room", eg.room, "room id")->required();
  egress->add_option("--nats-url", eg.natsUrl, "NATS server or cluster of the serves")
      ->envname("AMPHI_NATS_URL")->required();
  egress->add_option("--nats-replicas", eg.natsReplicas,
                     "replicas of the streams it may create (serve passes its own)")
      ->check(CLI::IsMember({1, 3, 5}))->capture_default_str();
  egress->add_option("--source", eg.source, "janus: the room's stage; test: pattern, clock, tone")
      ->check(CLI::IsMember({"janus", "test"}))->capture_default_str();
  egress->add_option("--title", eg.title, "slate title (default: the room's title)");
  egress->add_option("--size", size, "picture WIDTHxHEIGHT")->capture_default_str();
  egress->add_option("--fps", eg.fps, "frames per second")->check(CLI::Range(5, 60))->capture_default_str();
  egress->add_option("--video-kbps", eg.videoKbps, "H.264 bitrate")->check(CLI::Range(50, 20000))->capture_default_str();
  egress->add_option("--audio-kbps", eg.audioKbps, "AAC bitrate")->check(CLI::Range(32, 320))->capture_default_str();
  egress->add_option("--part-seconds", eg.partSeconds, "LL-HLS part target")->check(CLI::Range(0.1, 1.0))->capture_default_str();
  egress->add_option("--segment-seconds", eg.segmentSeconds, "segment duration (keyframe interval)")
      ->check(CLI::Range(0.5, 10.0))->capture_default_str();
  egress->add_option("--init-every", eg.initEverySeconds,
                     "seconds between repeats of the init segment (the HLS stream keeps 180 s)")
      ->check(CLI::Range(0.5, 120.0))->capture_default_str();
  egress->add_option("--log-level", eg.logLevel, "trace, debug, info, warn, error")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (egress->parsed()) {
    try {
      if (std::sscanf(size.c_str(), "%dx%d", &eg.width, &eg.height) != 2 || eg.width < 160 ||
          eg.height < 90 || eg.width % 2 || eg.height % 2) {
        throw std::runtime_error("--size: WIDTHxHEIGHT with even numbers, at least 160x90");
      }
      if (const char* target = std::getenv("AMPHI_EGRESS_JANUS")) eg.janusTarget = target;
      return amphi::egress::runEgress(eg);
    } catch (const std::exception& e) {
      std::cerr << "amphi egress: " << e.what() << "\n";
      return 2;
    }
  }
  try {
    Config config = loadConfig(configFile, given);
    if (serve->parsed()) return amphi::app::runServe(std::move(config));
    return amphi::app::runToken(std::move(config), roomId, role);
  } catch (const std::exception& e) {
    std::cerr << "amphi: " << e.what() << "\n";
    return 2;
  }
}
