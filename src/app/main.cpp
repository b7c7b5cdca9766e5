// amphi: command line entry point.
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/config.hpp"
#include "app/serve.hpp"

namespace {

using amphi::app::Config;

// Every config field becomes a flag (--nats-url for nats_url); values given on the
// command line are applied after the TOML file and the environment.
void addConfigFlags(CLI::App& cmd, std::map<std::string, std::string>& given) {
  for (const auto& field : amphi::app::configFields()) {
    std::string flag = std::string("--") + field.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    std::string help = std::string(field.help) + "  [env AMPHI_";
    for (const char* p = field.name; *p; ++p) help += static_cast<char>(std::toupper(*p));
    help += "]";
    cmd.add_option_function<std::string>(
        flag, [&given, name = std::string(field.name)](const std::string& v) { given[name] = v; },
        help);
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

  CLI11_PARSE(app, argc, argv);
  try {
    Config config = loadConfig(configFile, given);
    if (serve->parsed()) return amphi::app::runServe(std::move(config));
    return amphi::app::runToken(std::move(config), roomId, role);
  } catch (const std::exception& e) {
    std::cerr << "amphi: " << e.what() << "\n";
    return 2;
  }
}
