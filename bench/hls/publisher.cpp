#include "publisher.hpp"

#include <chrono>
#include <cstring>
#include <random>
#include <stdexcept>

#include "bus/bus.hpp"
#include "egress/cmaf.hpp"
#include "egress/publisher.hpp"
#include "http_util.hpp"

namespace bench::hls {
namespace {

namespace hls = amphi::core::hls;

int64_t wallMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void putBe32(std::string& s, std::size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    s[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (24 - 8 * i));
}

}  // namespace

SyntheticPublisher::SyntheticPublisher(PublisherOptions options) : options_(std::move(options)) {
  // Incompressible bytes, made once; each part stamps its name into a copy.
  std::mt19937 rng(12345);
  pattern_.resize(std::max<std::size_t>(options_.partBytes, 64));
  for (auto& ch : pattern_) ch = static_cast<char>(rng());
}

SyntheticPublisher::~SyntheticPublisher() {
  stop();
}

void SyntheticPublisher::start() {
  bus_ =
      amphi::bus::Bus::connect({.url = options_.natsUrl, .name = "hls-bench-publisher"}, nullptr);
  if (!bus_->waitReady(std::chrono::seconds(15))) {
    throw std::runtime_error("the publisher cannot reach NATS at " + options_.natsUrl);
  }
  const auto point = amphi::egress::startPoint(*bus_, options_.room, wallMs());
  epoch_ = point.epoch;
  firstMsn_ = point.firstMsn;
  // AAC-LC, 48 kHz, stereo: the packager writes a real ftyp + moov for it.
  amphi::egress::AudioConfig audio{std::string("\x11\x90", 2)};
  amphi::egress::CmafPackager packager(
      std::nullopt, audio,
      {options_.partSeconds, options_.partSeconds * options_.partsPerSegment, firstMsn_, 0});
  hls::InitMeta meta;
  meta.epoch = epoch_;
  meta.codecs = packager.codecs();
  meta.width = 1280;
  meta.height = 720;
  meta.bandwidth =
      static_cast<uint32_t>(static_cast<double>(options_.partBytes) * 8 / options_.partSeconds);
  meta.partTarget = options_.partSeconds;
  meta.segmentTarget = options_.partSeconds * options_.partsPerSegment;
  amphi::egress::HlsPublisher(*bus_, options_.room).publishInit(meta, packager.initSegment());
  thread_ = std::thread([this] { loop(); });
}

void SyntheticPublisher::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

// An mdat box of partBytes whose payload starts with the part's name.
std::string SyntheticPublisher::partBytes(PartKey key) const {
  std::string bytes = pattern_.substr(0, options_.partBytes);
  putBe32(bytes, 0, static_cast<uint32_t>(bytes.size()));
  std::memcpy(bytes.data() + 4, "mdat", 4);
  putBe32(bytes, 8, static_cast<uint32_t>(keyMsn(key)));
  putBe32(bytes, 12, keyPart(key));
  return bytes;
}

void SyntheticPublisher::loop() {
  amphi::egress::HlsPublisher publisher(*bus_, options_.room);
  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.partSeconds));
  auto due = std::chrono::steady_clock::now();
  for (uint64_t k = 0; !stop_; ++k, due += period) {
    std::this_thread::sleep_until(due);
    if (stop_) break;
    hls::PartMeta meta;
    meta.epoch = epoch_;
    meta.msn = firstMsn_ + k / static_cast<uint64_t>(options_.partsPerSegment);
    meta.part = static_cast<uint32_t>(k % static_cast<uint64_t>(options_.partsPerSegment));
    meta.duration = options_.partSeconds;
    meta.independent = meta.part == 0;
    meta.captureMs = wallMs();
    const PartKey key = partKey(meta.msn, meta.part);
    std::string bytes = partBytes(key);
    PublishedPart entry{key, nowNs(), 0, true};
    try {
      publisher.publishPart(meta, bytes);
    } catch (const std::exception&) {
      entry.ok = false;
      errors_++;
    }
    entry.returnNs = nowNs();
    std::lock_guard lock(mu_);
    log_.push_back(entry);
    recent_.emplace(key, std::move(bytes));
    while (recent_.size() > options_.keepParts) recent_.erase(recent_.begin());
    published_++;
  }
}

std::vector<PublishedPart> SyntheticPublisher::log() const {
  std::lock_guard lock(mu_);
  return log_;
}

std::optional<std::string> SyntheticPublisher::bytes(PartKey key) const {
  std::lock_guard lock(mu_);
  auto it = recent_.find(key);
  if (it == recent_.end()) return std::nullopt;
  return it->second;
}

PartKey SyntheticPublisher::after(PartKey key, int n) const {
  const auto perSegment = static_cast<uint32_t>(options_.partsPerSegment);
  for (int i = 0; i < n; ++i) {
    key = keyPart(key) + 1 < perSegment ? key + 1 : partKey(keyMsn(key) + 1, 0);
  }
  return key;
}

bool SyntheticPublisher::waitParts(std::size_t count, int timeoutMs) const {
  const std::size_t want = published() + count;
  for (int waited = 0; published() < want; waited += 10) {
    if (waited >= timeoutMs) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace bench::hls
