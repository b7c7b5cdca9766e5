#include "core/hls_wire.hpp"

#include <charconv>
#include <cstdio>

namespace amphi::core::hls {
namespace {

const std::string* find(const WireHeaders& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

template <typename T>
std::optional<T> number(const WireHeaders& headers, std::string_view name) {
  const std::string* text = find(headers, name);
  if (!text || text->empty()) return std::nullopt;
  T value{};
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return value;
}

std::string seconds(double value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, 6);
  return ec == std::errc() ? std::string(buf, end) : "0";
}

}  // namespace

std::string initSubject(std::string_view room) { return "hls." + std::string(room) + ".init"; }
std::string partSubject(std::string_view room) { return "hls." + std::string(room) + ".part"; }
std::string roomFilter(std::string_view room) { return "hls." + std::string(room) + ".*"; }

WireHeaders encodeInit(const InitMeta& m) {
  WireHeaders h{{"Amphi-Epoch", std::to_string(m.epoch)},
          {"Amphi-Codecs", m.codecs},
          {"Amphi-Width", std::to_string(m.width)},
          {"Amphi-Height", std::to_string(m.height)},
          {"Amphi-Bandwidth", std::to_string(m.bandwidth)},
          {"Amphi-Part-Target", seconds(m.partTarget)},
          {"Amphi-Segment-Target", seconds(m.segmentTarget)},
          {"Amphi-Run", std::to_string(m.run)}};
  if (m.firstMsn) h.emplace_back("Amphi-First-Msn", std::to_string(*m.firstMsn));
  return h;
}

std::optional<InitMeta> decodeInit(const WireHeaders& h) {
  auto epoch = number<uint64_t>(h, "Amphi-Epoch");
  auto width = number<int>(h, "Amphi-Width");
  auto height = number<int>(h, "Amphi-Height");
  auto bandwidth = number<uint32_t>(h, "Amphi-Bandwidth");
  auto part = number<double>(h, "Amphi-Part-Target");
  auto segment = number<double>(h, "Amphi-Segment-Target");
  const std::string* codecs = find(h, "Amphi-Codecs");
  if (!epoch || !width || !height || !bandwidth || !part || !segment || !codecs) return std::nullopt;
  if (*part <= 0 || *segment < *part) return std::nullopt;
  InitMeta m;
  m.epoch = *epoch;
  m.codecs = *codecs;
  m.width = *width;
  m.height = *height;
  m.bandwidth = *bandwidth;
  m.partTarget = *part;
  m.segmentTarget = *segment;
  // Both optional (an older egress sends neither); present but malformed is refused.
  if (find(h, "Amphi-Run") != nullptr) {
    auto run = number<uint64_t>(h, "Amphi-Run");
    if (!run) return std::nullopt;
    m.run = *run;
  }
  if (find(h, "Amphi-First-Msn") != nullptr) {
    m.firstMsn = number<uint64_t>(h, "Amphi-First-Msn");
    if (!m.firstMsn) return std::nullopt;
  }
  return m;
}

WireHeaders encodePart(const PartMeta& m, uint32_t index, uint32_t count) {
  return {{"Amphi-Epoch", std::to_string(m.epoch)},
          {"Amphi-Msn", std::to_string(m.msn)},
          {"Amphi-Part", std::to_string(m.part)},
          {"Amphi-Duration", seconds(m.duration)},
          {"Amphi-Independent", m.independent ? "1" : "0"},
          {"Amphi-Capture", std::to_string(m.captureMs)},
          {"Amphi-Chunk", std::to_string(index) + "/" + std::to_string(count)}};
}

std::optional<PartChunk> decodePart(const WireHeaders& h) {
  auto epoch = number<uint64_t>(h, "Amphi-Epoch");
  auto msn = number<uint64_t>(h, "Amphi-Msn");
  auto part = number<uint32_t>(h, "Amphi-Part");
  auto duration = number<double>(h, "Amphi-Duration");
  auto independent = number<int>(h, "Amphi-Independent");
  auto capture = number<int64_t>(h, "Amphi-Capture");
  const std::string* chunk = find(h, "Amphi-Chunk");
  if (!epoch || !msn || !part || !duration || !independent || !capture || !chunk) return std::nullopt;
  if (*duration <= 0 || *duration > 60) return std::nullopt;
  const auto slash = chunk->find('/');
  if (slash == std::string::npos) return std::nullopt;
  WireHeaders pieces{{"i", chunk->substr(0, slash)}, {"n", chunk->substr(slash + 1)}};
  auto index = number<uint32_t>(pieces, "i");
  auto count = number<uint32_t>(pieces, "n");
  if (!index || !count || *count == 0 || *index >= *count) return std::nullopt;
  PartChunk out;
  out.meta.epoch = *epoch;
  out.meta.msn = *msn;
  out.meta.part = *part;
  out.meta.duration = *duration;
  out.meta.independent = *independent != 0;
  out.meta.captureMs = *capture;
  out.index = *index;
  out.count = *count;
  return out;
}

std::string partMessageId(std::string_view room, const PartMeta& m, uint32_t index) {
  return std::string(room) + ":" + std::to_string(m.epoch) + ":" + std::to_string(m.msn) + "." +
         std::to_string(m.part) + ":" + std::to_string(index);
}

std::string initMessageId(std::string_view room, uint64_t epoch, uint64_t repeat) {
  std::string id = std::string(room) + ":" + std::to_string(epoch) + ":init";
  if (repeat > 0) id += "." + std::to_string(repeat);
  return id;
}

std::vector<std::string_view> splitChunks(std::string_view bytes, std::size_t limit) {
  std::vector<std::string_view> out;
  if (limit == 0) limit = 1;
  for (std::size_t at = 0; at < bytes.size(); at += limit) out.push_back(bytes.substr(at, limit));
  if (out.empty()) out.push_back(bytes);
  return out;
}

std::optional<std::pair<PartMeta, std::string>> PartAssembler::add(const PartChunk& chunk,
                                                                    std::string data) {
  const bool samePart = current_ && current_->meta.epoch == chunk.meta.epoch &&
                        current_->meta.msn == chunk.meta.msn &&
                        current_->meta.part == chunk.meta.part &&
                        current_->count == chunk.count && current_->index + 1 == chunk.index;
  if (chunk.index == 0) {
    current_ = chunk;
    bytes_ = std::move(data);
  } else if (samePart) {
    current_->index = chunk.index;
    bytes_ += data;
  } else {
    current_.reset();  // missed the start, or interrupted: drop it
    bytes_.clear();
    return std::nullopt;
  }
  if (current_->index + 1 < current_->count) return std::nullopt;
  auto meta = current_->meta;
  current_.reset();
  return std::make_pair(meta, std::move(bytes_));
}

}  // namespace amphi::core::hls
