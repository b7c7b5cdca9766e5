#include "core/layout.hpp"

#include <algorithm>
#include <cstdint>

namespace amphi::core {
namespace {

constexpr std::size_t kMinThumbSlots = 4;  // thumbnails never wider than a quarter frame
constexpr double kSilentDb = -200.0;

int evenDown(std::int64_t v) {
  return static_cast<int>(v < 0 ? 0 : v - (v % 2));
}

}  // namespace

std::vector<Rect> speakerLayout(int width, int height, std::size_t count, std::size_t speaker) {
  if (count == 0 || width < 2 || height < 2) return {};
  const int w = evenDown(width);
  const int h = evenDown(height);
  if (count == 1) return {Rect{0, 0, w, h}};
  if (speaker >= count) speaker = 0;

  const std::size_t thumbs = count - 1;
  const auto slots = static_cast<std::int64_t>(std::max(thumbs, kMinThumbSlots));
  const int tw = evenDown(w / slots);
  const int th = evenDown(std::int64_t{tw} * h / w);
  const int sh = h - th;
  const int sw = evenDown(std::int64_t{sh} * w / h);

  std::vector<Rect> rects(count);
  rects[speaker] = Rect{evenDown((w - sw) / 2), 0, sw, sh};
  const int x0 = evenDown((w - std::int64_t{tw} * static_cast<std::int64_t>(thumbs)) / 2);
  int slot = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (i == speaker) continue;
    rects[i] = Rect{x0 + slot * tw, sh, tw, th};
    ++slot;
  }
  return rects;
}

SpeakerSelector::SpeakerSelector(SpeakerOptions options) : options_(options) {}

void SpeakerSelector::add(const std::string& id) {
  if (find(id) != nullptr) return;
  entries_.push_back(Entry{id});
  if (speaker_.empty()) speaker_ = id;
}

bool SpeakerSelector::remove(const std::string& id, Ms now) {
  std::erase_if(entries_, [&](const Entry& e) { return e.id == id; });
  if (id != speaker_) return false;
  speaker_.clear();
  double best = options_.silenceFloorDb;
  for (const Entry& e : entries_) {
    const double level = effectiveLevel(e, now);
    if (level > best) {
      best = level;
      speaker_ = e.id;
    }
  }
  if (speaker_.empty() && !entries_.empty()) speaker_ = entries_.front().id;
  resetRuns();
  return true;
}

bool SpeakerSelector::update(const std::string& id, double levelDb, Ms now) {
  Entry* e = find(id);
  if (e == nullptr) return false;
  e->levelDb = levelDb;
  e->levelAt = now;
  if (id == speaker_) return false;

  const Entry* current = find(speaker_);
  const double currentDb = current ? effectiveLevel(*current, now) : kSilentDb;
  const double needed = std::max(currentDb, options_.silenceFloorDb) + options_.marginDb;
  if (levelDb <= options_.silenceFloorDb || levelDb < needed) return false;

  if (e->runStart.count() < 0 || now - e->runLast > options_.dipTolerance) e->runStart = now;
  e->runLast = now;
  if (now - e->runStart < options_.hold) return false;
  speaker_ = id;
  resetRuns();
  return true;
}

double SpeakerSelector::effectiveLevel(const Entry& e, Ms now) const {
  if (e.levelAt.count() < 0 || now - e.levelAt > options_.staleAfter) return kSilentDb;
  return e.levelDb;
}

SpeakerSelector::Entry* SpeakerSelector::find(const std::string& id) {
  for (Entry& e : entries_) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

void SpeakerSelector::resetRuns() {
  for (Entry& e : entries_) e.runStart = e.runLast = Ms{-1};
}

}  // namespace amphi::core
