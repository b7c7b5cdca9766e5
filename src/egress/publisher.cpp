#include "egress/publisher.hpp"

#include <algorithm>

#include "bus/bus.hpp"
#include "core/hls_wire.hpp"

namespace amphi::egress {

namespace hls = core::hls;

StartPoint startPoint(bus::Bus& bus, const std::string& room, int64_t nowMs) {
  StartPoint p{static_cast<uint64_t>(nowMs), 0};
  if (auto last = bus.lastHls(hls::partSubject(room))) {
    if (auto chunk = hls::decodePart(last->headers)) {
      p.firstMsn = chunk->meta.msn + 1;
      p.epoch = std::max(p.epoch, chunk->meta.epoch + 1);
    }
  }
  if (auto init = bus.lastHls(hls::initSubject(room))) {
    if (auto meta = hls::decodeInit(init->headers)) {
      p.epoch = std::max(p.epoch, meta->epoch + 1);
      p.run = meta->run + 1;
    }
  }
  // Parts without an init (its run older than the stream keeps): at least one run before.
  if (p.run == 0 && p.firstMsn > 0) p.run = 1;
  return p;
}

HlsPublisher::HlsPublisher(bus::Bus& bus, std::string room, std::chrono::milliseconds initEvery)
    : bus_(bus), room_(std::move(room)), initEvery_(initEvery) {
  // Headers and protocol overhead fit in the margin.
  const std::size_t max = bus_.maxPayload();
  chunkLimit_ = max > 16 * 1024 ? max - 8 * 1024 : max / 2;
}

void HlsPublisher::publishInit(const hls::InitMeta& meta, const std::string& bytes) {
  initMeta_ = meta;
  initBytes_ = bytes;
  inits_ = 0;
  initAt_ = std::chrono::steady_clock::now();
  bus_.publishHls(hls::initSubject(room_), bytes, hls::encodeInit(meta),
                  hls::initMessageId(room_, meta.epoch, inits_));
  ++inits_;
}

void HlsPublisher::publishPart(const hls::PartMeta& meta, const std::string& bytes) {
  const auto now = std::chrono::steady_clock::now();
  if (inits_ > 0 && now - initAt_ >= initEvery_) {
    initAt_ = now;
    bus_.publishHls(hls::initSubject(room_), initBytes_, hls::encodeInit(initMeta_),
                    hls::initMessageId(room_, initMeta_.epoch, inits_));
    ++inits_;
  }
  const auto chunks = hls::splitChunks(bytes, chunkLimit_);
  const auto count = static_cast<uint32_t>(chunks.size());
  for (uint32_t i = 0; i < count; ++i) {
    bus_.publishHls(hls::partSubject(room_), chunks[i], hls::encodePart(meta, i, count),
                    hls::partMessageId(room_, meta, i));
  }
  ++parts_;
  bytes_ += bytes.size();
}

void HlsPublisher::publishEnd(uint64_t epoch) {
  bus_.publishHls("hls." + room_ + ".end", "", {{"Amphi-Epoch", std::to_string(epoch)}},
                  room_ + ":" + std::to_string(epoch) + ":end");
}

}  // namespace amphi::egress
