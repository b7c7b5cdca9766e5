#include "sfu/turn_config.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace amphi::sfu {
namespace {

namespace fs = std::filesystem;

// Ranges a relay must not reach (RFC 6890 special-purpose addresses), unless allowed.
constexpr const char* kDeniedPeers[] = {
    "0.0.0.0-0.255.255.255",
    "10.0.0.0-10.255.255.255",
    "100.64.0.0-100.127.255.255",
    "127.0.0.0-127.255.255.255",
    "169.254.0.0-169.254.255.255",
    "172.16.0.0-172.31.255.255",
    "192.0.0.0-192.0.0.255",
    "192.168.0.0-192.168.255.255",
    "198.18.0.0-198.19.255.255",
    "240.0.0.0-255.255.255.255",
    "::1",
    "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
};

// A value on one line of turnserver.conf (no newlines, no '#', which starts a comment).
const std::string& checked(const std::string& value, const char* what) {
  if (value.find_first_of("\r\n#") != std::string::npos)
    throw std::runtime_error(fmt::format("turn config: bad character in {}", what));
  return value;
}

std::string configText(const TurnConfig& c) {
  std::string t = "# Written by amphi at each start of coturn; edits are lost.\n";
  t += fmt::format("listening-port={}\n", c.port);
  if (!c.listenIp.empty()) {
    t += fmt::format("listening-ip={}\nrelay-ip={}\n", checked(c.listenIp, "listenIp"), c.listenIp);
  }
  if (!c.externalIp.empty())
    t += fmt::format("external-ip={}\n", checked(c.externalIp, "externalIp"));
  t += fmt::format("min-port={}\nmax-port={}\n", c.relayMin, c.relayMax);
  t += fmt::format("use-auth-secret\nstatic-auth-secret={}\nrealm={}\n",
                   checked(c.secret, "secret"), checked(c.realm, "realm"));
  if (c.tlsPort != 0 && !c.cert.empty()) {
    t += fmt::format("tls-listening-port={}\ncert={}\npkey={}\nno-tlsv1\nno-tlsv1_1\n", c.tlsPort,
                     checked(c.cert, "cert"), checked(c.key, "key"));
  } else {
    t += "no-tls\n";
  }
  t += "fingerprint\nno-cli\nno-dtls\nno-multicast-peers\nno-software-attribute\nno-rfc5780\n"
       "stale-nonce=600\n";
  for (const char* range : kDeniedPeers) t += fmt::format("denied-peer-ip={}\n", range);
  for (const auto& peer : c.allowedPeers)
    t += fmt::format("allowed-peer-ip={}\n", checked(peer, "allowedPeers"));
  t += fmt::format("pidfile={}/turnserver.pid\nuserdb={}/turndb\nlog-file=stdout\nsimple-log\n",
                   checked(c.dir, "dir"), c.dir);
  return t;
}

void validate(const TurnConfig& c) {
  if (c.dir.empty()) throw std::runtime_error("turn config: dir is required");
  if (c.secret.empty()) throw std::runtime_error("turn config: secret is required");
  if (c.port == 0) throw std::runtime_error("turn config: port is required");
  if (c.cert.empty() != c.key.empty())
    throw std::runtime_error(
        "turn config: a TLS certificate needs its key, and the other way round");
  if (!c.cert.empty() && (c.tlsPort == 0 || c.tlsPort == c.port))
    throw std::runtime_error("turn config: TLS needs a port of its own");
  if (c.relayMin < 1024 || c.relayMax > 65535 || c.relayMin > c.relayMax)
    throw std::runtime_error(
        fmt::format("turn config: bad relay port range {}-{}", c.relayMin, c.relayMax));
}

uint16_t parsePort(const std::string& text, const std::string& url) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
    throw std::runtime_error(fmt::format("turn url '{}': bad port", url));
  return static_cast<uint16_t>(value);
}

// "host" of "scheme://host[:port][/…]" (IPv6 without brackets).
std::string urlHost(const std::string& url) {
  auto start = url.find("://");
  if (start == std::string::npos) return {};
  std::string authority = url.substr(start + 3, url.find('/', start + 3) - start - 3);
  if (!authority.empty() && authority.front() == '[')
    return authority.substr(1, authority.find(']') - 1);
  return authority.substr(0, authority.find(':'));
}

bool isLoopback(const std::string& host) {
  return host.empty() || host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

std::string turnHost(const TurnHostHints& h, const std::vector<std::string>& addresses) {
  if (!h.turnHost.empty()) return h.turnHost;
  if (!h.publicIp.empty()) return h.publicIp;
  if (const auto host = urlHost(h.publicUrl); !isLoopback(host)) return host;
  if (!h.listenIp.empty()) return h.listenIp;
  for (const auto& a : addresses)
    if (a.find(':') == std::string::npos) return a;
  return addresses.empty() ? std::string() : addresses.front();
}

TurnEndpoint parseTurnUrl(const std::string& url) {
  TurnEndpoint e;
  std::string rest;
  if (url.rfind("turns:", 0) == 0) {
    e.tls = true;
    e.port = 5349;
    rest = url.substr(6);
  } else if (url.rfind("turn:", 0) == 0) {
    rest = url.substr(5);
  } else {
    throw std::runtime_error(fmt::format("turn url '{}': must start with turn: or turns:", url));
  }
  rest = rest.substr(0, rest.find('?'));
  std::string port;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    auto close = rest.find(']');
    if (close == std::string::npos)
      throw std::runtime_error(fmt::format("turn url '{}': unclosed [", url));
    e.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':')
        throw std::runtime_error(fmt::format("turn url '{}': bad host", url));
      port = rest.substr(close + 2);
    }
  } else {
    auto colon = rest.find(':');
    e.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (e.host.empty() || e.host.find_first_of("/@ ") != std::string::npos)
    throw std::runtime_error(fmt::format("turn url '{}': bad host", url));
  if (!port.empty()) e.port = parsePort(port, url);
  return e;
}

std::vector<std::string> turnUrls(const TurnEndpoint& e) {
  const std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
  if (e.tls) return {fmt::format("turns:{}:{}?transport=tcp", host, e.port)};
  return {fmt::format("turn:{}:{}?transport=udp", host, e.port),
          fmt::format("turn:{}:{}?transport=tcp", host, e.port)};
}

std::string turnConfigFile(const std::string& dir) {
  return dir + "/turnserver.conf";
}

void writeTurnConfig(const TurnConfig& config) {
  validate(config);
  std::error_code ec;
  fs::create_directories(config.dir, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("turn config: cannot create {}: {}", config.dir, ec.message()));
  ::chmod(config.dir.c_str(), 0700);
  const std::string path = turnConfigFile(config.dir);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream file(tmp, std::ios::trunc);
    if (!file) throw std::runtime_error(fmt::format("turn config: cannot write {}", tmp));
    ::chmod(tmp.c_str(), 0600);
    file << configText(config);
    if (!file.flush()) throw std::runtime_error(fmt::format("turn config: cannot write {}", tmp));
  }
  fs::rename(tmp, path, ec);
  if (ec)
    throw std::runtime_error(fmt::format("turn config: cannot write {}: {}", path, ec.message()));
}

}  // namespace amphi::sfu
