// libFuzzer: what reaches the LL-HLS origin from outside — media names and blocking-reload
// query values from viewers, and metadata headers of HLS messages from the bus — and a
// live window fed a stream of made-up parts, rendered after every message.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/hls_window.hpp"
#include "core/hls_wire.hpp"
#include "core/playlist.hpp"

namespace hls = amphi::core::hls;

namespace {

// Splits the input at '\n' into up to n pieces.
std::vector<std::string_view> pieces(std::string_view text, std::size_t n) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) break;
    out.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  out.push_back(text);
  return out;
}

void fuzzWindow(const uint8_t* data, size_t size) {
  hls::LiveWindow window({6, 2});
  hls::InitMeta init;
  init.epoch = 1;
  init.codecs = "avc1.64001f,mp4a.40.2";
  init.width = 640;
  init.height = 360;
  init.bandwidth = 300000;
  init.partTarget = 0.5;
  init.segmentTarget = 2;
  window.addInit(init, std::make_shared<const std::string>("init"));
  for (size_t i = 0; i + 4 <= size; i += 4) {
    hls::PartMeta m;
    m.epoch = 1 + (data[i] & 1);
    m.msn = data[i + 1] % 64;
    m.part = data[i + 2] % 8;
    m.duration = (data[i + 3] % 12 + 1) * 0.1;
    m.independent = m.part == 0 || (data[i + 3] & 0x80);
    m.captureMs = static_cast<int64_t>(i) * 100;
    if (m.epoch == 2 && !window.init(2)) {
      auto second = init;
      second.epoch = 2;
      window.addInit(second, std::make_shared<const std::string>("init2"));
    }
    window.addPart(m, std::make_shared<const std::string>("p"));
    (void)hls::renderMediaPlaylist(window);
    hls::BlockingRequest req{m.msn, m.part};
    if (!hls::validate(req, window)) (void)hls::satisfied(req, window);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto name = hls::parseMediaName(text)) (void)hls::mediaUri(*name);
  auto parts = pieces(text, 8);
  std::optional<std::string_view> msn, part;
  if (parts.size() > 0) msn = parts[0];
  if (parts.size() > 1) part = parts[1];
  (void)hls::parseBlockingRequest(msn, part);
  hls::WireHeaders headers;
  const char* names[] = {"Amphi-Epoch", "Amphi-Msn", "Amphi-Part", "Amphi-Duration",
                         "Amphi-Independent", "Amphi-Capture", "Amphi-Chunk"};
  for (std::size_t i = 0; i < parts.size() && i < 7; ++i) headers.emplace_back(names[i], parts[i]);
  if (auto chunk = hls::decodePart(headers)) {
    hls::PartAssembler assembler;
    (void)assembler.add(*chunk, std::string(text));
  }
  (void)hls::decodeInit(headers);
  fuzzWindow(data, size);
  return 0;
}
