#include "core/hls_window.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>

namespace amphi::core::hls {
namespace {

constexpr int64_t kUsPerSecond = 1'000'000;
constexpr double kMaxPartSeconds = 60;
constexpr double kMaxPartTargetSeconds = 10;
constexpr double kMaxSegmentTargetSeconds = 60;
constexpr double kMaxRetentionSeconds = 7 * 24 * 3600;

enum class NumberError { None, Empty, NotDigits, LeadingZero, OutOfRange };

// Decimal digits only; canonical forbids leading zeros (names must have one spelling).
template <class T>
NumberError parseNumber(std::string_view text, bool canonical, T& out) {
  if (text.empty()) return NumberError::Empty;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return NumberError::NotDigits;
  }
  if (canonical && text.size() > 1 && text.front() == '0') return NumberError::LeadingZero;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  if (ec != std::errc{} || ptr != end) return NumberError::OutOfRange;
  return NumberError::None;
}

template <class T>
std::optional<T> canonicalNumber(std::string_view text) {
  T value{};
  if (parseNumber(text, true, value) != NumberError::None) return std::nullopt;
  return value;
}

std::optional<int64_t> toMicros(double seconds, double maxSeconds) {
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > maxSeconds) return std::nullopt;
  const auto us = std::llround(seconds * kUsPerSecond);
  if (us <= 0) return std::nullopt;
  return us;
}

void appendNumber(std::string& out, uint64_t value) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;  // 24 chars always suffice for a u64
  out.append(buf, ptr);
}

int64_t roundToMs(int64_t us) {
  return (us + 500) / 1000;
}
int64_t ceilToSeconds(int64_t us) {
  return (us + kUsPerSecond - 1) / kUsPerSecond;
}

Bytes concatenate(const std::vector<Part>& parts) {
  std::size_t size = 0;
  for (const auto& p : parts) size += p.bytes ? p.bytes->size() : 0;
  auto whole = std::make_shared<std::string>();
  whole->reserve(size);
  for (const auto& p : parts) {
    if (p.bytes) whole->append(*p.bytes);
  }
  return whole;
}

}  // namespace

std::string_view toString(AddResult result) {
  switch (result) {
    case AddResult::Added:
      return "added";
    case AddResult::Restarted:
      return "restarted";
    case AddResult::Duplicate:
      return "duplicate";
    case AddResult::Stale:
      return "stale";
    case AddResult::Gap:
      return "gap";
    case AddResult::NoInit:
      return "no_init";
    case AddResult::Invalid:
      return "invalid";
    case AddResult::Ended:
      return "ended";
  }
  return "unknown";
}

// --- names ---------------------------------------------------------------------------------

std::optional<MediaName> parseMediaName(std::string_view name) {
  const auto slash = name.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto epoch = canonicalNumber<uint64_t>(name.substr(0, slash));
  if (!epoch) return std::nullopt;
  const std::string_view rest = name.substr(slash + 1);
  if (rest == "init.mp4") return MediaName{MediaKind::Init, *epoch, 0, 0};
  constexpr std::string_view kExt = ".m4s";
  if (!rest.ends_with(kExt)) return std::nullopt;
  const std::string_view body = rest.substr(0, rest.size() - kExt.size());
  const auto dot = body.find('.');
  const auto msn = canonicalNumber<uint64_t>(body.substr(0, dot));
  if (!msn) return std::nullopt;
  if (dot == std::string_view::npos) return MediaName{MediaKind::Segment, *epoch, *msn, 0};
  const auto part = canonicalNumber<uint32_t>(body.substr(dot + 1));  // a 2nd dot: not digits
  if (!part) return std::nullopt;
  return MediaName{MediaKind::Part, *epoch, *msn, *part};
}

std::string mediaUri(const MediaName& name) {
  std::string out;
  appendNumber(out, name.epoch);
  out += '/';
  if (name.kind == MediaKind::Init) return out + "init.mp4";
  appendNumber(out, name.msn);
  if (name.kind == MediaKind::Part) {
    out += '.';
    appendNumber(out, name.part);
  }
  return out + ".m4s";
}

std::string initUri(uint64_t epoch) {
  return mediaUri({MediaKind::Init, epoch, 0, 0});
}
std::string partUri(uint64_t epoch, uint64_t msn, uint32_t part) {
  return mediaUri({MediaKind::Part, epoch, msn, part});
}
std::string segmentUri(uint64_t epoch, uint64_t msn) {
  return mediaUri({MediaKind::Segment, epoch, msn, 0});
}

// --- window: ingest ------------------------------------------------------------------------

LiveWindow::LiveWindow(WindowOptions options) : options_(options) {
  options_.partsSegments = std::max(options_.partsSegments, 1);
  if (!std::isfinite(options_.retentionSeconds) || options_.retentionSeconds < 0) {
    options_.retentionSeconds = 0;
  }
  options_.retentionSeconds = std::min(options_.retentionSeconds, kMaxRetentionSeconds);
}

AddResult LiveWindow::addInit(const InitMeta& meta, Bytes bytes) {
  const auto partUs = toMicros(meta.partTarget, kMaxPartTargetSeconds);
  const auto segmentUs = toMicros(meta.segmentTarget, kMaxSegmentTargetSeconds);
  if (!bytes || !partUs || !segmentUs || *segmentUs < *partUs) return AddResult::Invalid;
  if (ended_) return AddResult::Ended;
  if (inits_.contains(meta.epoch)) return AddResult::Duplicate;
  // A newer run's init is held (or its parts are listed): this run is over.
  if (!inits_.empty() && meta.epoch < inits_.rbegin()->first) return AddResult::Stale;
  inits_.emplace(meta.epoch, InitEntry{meta, std::move(bytes), *partUs, *segmentUs});
  pruneInits();
  ++revision_;
  return AddResult::Added;
}

AddResult LiveWindow::addPart(const PartMeta& meta, Bytes bytes) {
  const auto durationUs = toMicros(meta.duration, kMaxPartSeconds);
  if (!bytes || !durationUs || meta.part >= kMaxPartsPerSegment) return AddResult::Invalid;
  if (ended_) return AddResult::Ended;
  const Verdict verdict = classify(meta);
  if (accepted(verdict.result)) apply(verdict.step, meta, *durationUs, std::move(bytes));
  return verdict.result;
}

LiveWindow::Verdict LiveWindow::classify(const PartMeta& m) const {
  if (segments_.empty()) {
    if (!inits_.contains(m.epoch)) return {AddResult::NoInit};
    if (m.part != 0) return {AddResult::Gap};
    return {AddResult::Added, Step::Open};
  }
  const Segment& open = segments_.back();
  const uint32_t lastPart = open.parts.back().meta.part;
  if (m.epoch < open.epoch) return {AddResult::Stale};
  if (m.epoch > open.epoch) return classifyNewEpoch(m, open.msn);
  if (m.msn < open.msn || (m.msn == open.msn && m.part <= lastPart)) {
    return {holds(m) ? AddResult::Duplicate : AddResult::Stale};
  }
  if (m.msn == open.msn) {
    return m.part == lastPart + 1 ? Verdict{AddResult::Added, Step::Append}
                                  : Verdict{AddResult::Gap};
  }
  if (m.part != 0) return {AddResult::Gap};
  return m.msn == open.msn + 1 ? Verdict{AddResult::Added, Step::Open}
                               : Verdict{AddResult::Restarted, Step::Restart};
}

LiveWindow::Verdict LiveWindow::classifyNewEpoch(const PartMeta& m, uint64_t lastMsn) const {
  if (m.msn <= lastMsn) return {AddResult::Stale};  // would reuse or go back in numbering
  if (!inits_.contains(m.epoch)) return {AddResult::NoInit};
  if (m.part != 0) return {AddResult::Gap};
  return m.msn == lastMsn + 1 ? Verdict{AddResult::Added, Step::OpenDiscontinuity}
                              : Verdict{AddResult::Restarted, Step::Restart};
}

// The first segment of any run after the first: a discontinuity, even for a window whose
// history starts right there.
bool LiveWindow::startsLaterRun(const PartMeta& m) const {
  auto it = inits_.find(m.epoch);
  if (it == inits_.end()) return false;
  const InitMeta& init = it->second.meta;
  return init.run > 0 && init.firstMsn == m.msn && m.part == 0;
}

uint64_t LiveWindow::discontinuitySequence() const {
  if (segments_.empty()) return discontinuitySequence_;
  const Segment& first = segments_.front();
  const InitMeta* meta = init(first.epoch);
  if (meta == nullptr || !meta->firstMsn) return discontinuitySequence_;
  // Tags before `first`: one per earlier run start, not counting `first`'s own listed tag.
  const bool ownTag = first.discontinuity && first.msn == *meta->firstMsn && meta->run > 0;
  return std::max(discontinuitySequence_, meta->run - (ownTag ? 1 : 0));
}

bool LiveWindow::holds(const PartMeta& m) const {
  const Segment* segment = find(m.epoch, m.msn);
  return segment != nullptr && m.part < segment->parts.size();
}

void LiveWindow::apply(Step step, const PartMeta& meta, int64_t durationUs, Bytes bytes) {
  Part part{meta, durationUs, std::move(bytes)};
  if (step == Step::Append) {
    Segment& open = segments_.back();
    open.durationUs += durationUs;
    open.parts.push_back(std::move(part));
  } else {
    closeOpen();
    if (step == Step::Restart) {
      int64_t playlistUs = 0;
      for (const auto& s : segments_) playlistUs += s.durationUs;
      while (!segments_.empty()) {
        const int64_t d = segments_.front().durationUs;
        retireFront(playlistUs);
        playlistUs -= d;
      }
    }
    const bool discontinuity = step != Step::Open || startsLaterRun(meta);
    Segment segment{meta.epoch, meta.msn, {}, durationUs, false, discontinuity, nullptr};
    segment.parts.push_back(std::move(part));
    segments_.push_back(std::move(segment));
  }
  clockUs_ += durationUs;
  if (step != Step::Append) {
    releaseOldPartBytes();
    evict();
  }
  expireGrace();
  pruneInits();
  ++revision_;
}

void LiveWindow::endStream() {
  if (ended_) return;
  closeOpen();
  ended_ = true;
  ++revision_;
}

void LiveWindow::closeOpen() {
  if (segments_.empty() || segments_.back().complete) return;
  Segment& open = segments_.back();
  open.complete = true;
  open.bytes = concatenate(open.parts);
}

// playlistUs: duration of the playlist the front segment is removed from.
void LiveWindow::retireFront(int64_t playlistUs) {
  Segment segment = std::move(segments_.front());
  segments_.pop_front();
  if (segment.discontinuity) ++discontinuitySequence_;
  const int64_t expiresAtUs = clockUs_ + segment.durationUs + playlistUs;
  grace_.push_back(Removed{std::move(segment), expiresAtUs});
}

void LiveWindow::evict() {
  const int64_t keepUs = std::max<int64_t>(std::llround(options_.retentionSeconds * kUsPerSecond),
                                           int64_t{3} * targetDurationSeconds() * kUsPerSecond);
  int64_t listedUs = 0;
  int64_t playlistUs = 0;
  for (const auto& s : segments_) {
    playlistUs += s.durationUs;
    if (s.complete) listedUs += s.durationUs;
  }
  while (segments_.size() > 1 && segments_.front().complete &&
         listedUs - segments_.front().durationUs >= keepUs) {
    const int64_t d = segments_.front().durationUs;
    retireFront(playlistUs);
    listedUs -= d;
    playlistUs -= d;
  }
}

void LiveWindow::releaseOldPartBytes() {
  const int64_t keepUs =
      int64_t{options_.partsSegments + 3} * targetDurationSeconds() * kUsPerSecond;
  int64_t afterUs = 0;  // media after the end of the segment looked at
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    if (afterUs > keepUs && it->complete) {
      if (!it->parts.front().bytes) break;  // older ones were released before
      for (auto& part : it->parts) part.bytes.reset();
    }
    afterUs += it->durationUs;
  }
}

void LiveWindow::expireGrace() {
  std::erase_if(grace_, [this](const Removed& r) { return r.expiresAtUs <= clockUs_; });
}

// Keeps the inits of held segments (listed or in grace) and the newest one (its run may not
// have sent parts yet); older unreferenced runs are gone for good.
void LiveWindow::pruneInits() {
  if (inits_.empty()) return;
  const uint64_t newest = inits_.rbegin()->first;
  auto referenced = [this](uint64_t epoch) {
    auto same = [epoch](const Segment& s) { return s.epoch == epoch; };
    return std::any_of(segments_.begin(), segments_.end(), same) ||
           std::any_of(grace_.begin(), grace_.end(),
                       [&](const Removed& r) { return same(r.segment); });
  };
  std::erase_if(
      inits_, [&](const auto& entry) { return entry.first != newest && !referenced(entry.first); });
}

// --- window: queries -----------------------------------------------------------------------

std::optional<Position> LiveWindow::liveEdge() const {
  if (segments_.empty()) return std::nullopt;
  const Segment& last = segments_.back();
  return Position{last.epoch, last.msn, last.parts.back().meta.part};
}

uint64_t LiveWindow::mediaSequence() const {
  return segments_.empty() ? 0 : segments_.front().msn;
}

template <class F>
void LiveWindow::forEachListedInit(F&& visit) const {
  std::optional<uint64_t> lastEpoch;
  for (const auto& s : segments_) {
    if (s.epoch == lastEpoch) continue;
    lastEpoch = s.epoch;
    if (const auto it = inits_.find(s.epoch); it != inits_.end()) visit(it->second);
  }
}

int LiveWindow::targetDurationSeconds() const {
  int64_t seconds = 1;
  for (const auto& s : segments_) {
    if (s.complete) seconds = std::max(seconds, (roundToMs(s.durationUs) + 500) / 1000);
  }
  forEachListedInit(
      [&](const InitEntry& e) { seconds = std::max(seconds, ceilToSeconds(e.segmentTargetUs)); });
  return static_cast<int>(seconds);
}

int64_t LiveWindow::partTargetUs() const {
  int64_t ms = 1;
  for (const auto& s : segments_) {
    for (const auto& p : s.parts) ms = std::max(ms, roundToMs(p.durationUs));
  }
  forEachListedInit([&](const InitEntry& e) { ms = std::max(ms, (e.partTargetUs + 999) / 1000); });
  return ms * 1000;
}

const InitMeta* LiveWindow::init(uint64_t epoch) const {
  const auto it = inits_.find(epoch);
  return it == inits_.end() ? nullptr : &it->second.meta;
}

const InitMeta* LiveWindow::latestInit() const {
  return inits_.empty() ? nullptr : &inits_.rbegin()->second.meta;
}

Bytes LiveWindow::initBytes(uint64_t epoch) const {
  const auto it = inits_.find(epoch);
  return it == inits_.end() ? nullptr : it->second.bytes;
}

const Segment* LiveWindow::find(uint64_t epoch, uint64_t msn) const {
  if (!segments_.empty() && msn >= segments_.front().msn && msn <= segments_.back().msn) {
    const Segment& s = segments_[static_cast<std::size_t>(msn - segments_.front().msn)];
    if (s.epoch == epoch) return &s;
  }
  const auto it = std::find_if(grace_.begin(), grace_.end(), [&](const Removed& r) {
    return r.segment.epoch == epoch && r.segment.msn == msn;
  });
  return it == grace_.end() ? nullptr : &it->segment;
}

Bytes LiveWindow::partBytes(uint64_t epoch, uint64_t msn, uint32_t part) const {
  const Segment* s = find(epoch, msn);
  if (s == nullptr || part >= s->parts.size()) return nullptr;
  return s->parts[part].bytes;
}

Bytes LiveWindow::segmentBytes(uint64_t epoch, uint64_t msn) const {
  const Segment* s = find(epoch, msn);
  return s != nullptr && s->complete ? s->bytes : nullptr;
}

Bytes LiveWindow::bytes(const MediaName& name) const {
  switch (name.kind) {
    case MediaKind::Init:
      return initBytes(name.epoch);
    case MediaKind::Part:
      return partBytes(name.epoch, name.msn, name.part);
    case MediaKind::Segment:
      return segmentBytes(name.epoch, name.msn);
  }
  return nullptr;
}

Availability LiveWindow::availability(const MediaName& name) const {
  if (bytes(name)) return Availability::Available;
  const auto edge = liveEdge();
  if (ended_ || !edge || name.kind != MediaKind::Part || name.epoch != edge->epoch) {
    return Availability::Absent;
  }
  const bool nextInSegment = name.msn == edge->msn && name.part == edge->part + 1;
  const bool nextSegment = name.msn == edge->msn + 1 && name.part == 0;
  return nextInSegment || nextSegment ? Availability::Pending : Availability::Absent;
}

// --- blocking reload -----------------------------------------------------------------------

namespace {

template <class T>
std::string numberProblem(std::string_view parameter, std::string_view text, T& out) {
  switch (parseNumber(text, false, out)) {
    case NumberError::None:
      return {};
    case NumberError::Empty:
      return std::string(parameter) + " is empty";
    case NumberError::NotDigits:
      return std::string(parameter) + " must be a decimal integer (digits only)";
    case NumberError::LeadingZero:  // not raised: leading zeros are valid decimal-integers
    case NumberError::OutOfRange:
      return std::string(parameter) + " is out of range";
  }
  return std::string(parameter) + " is invalid";
}

}  // namespace

BlockingParse parseBlockingRequest(std::optional<std::string_view> msn,
                                   std::optional<std::string_view> part) {
  if (part && !msn) return {std::nullopt, "_HLS_part requires _HLS_msn"};
  BlockingRequest request;
  if (msn) {
    uint64_t value = 0;
    if (auto problem = numberProblem("_HLS_msn", *msn, value); !problem.empty()) {
      return {std::nullopt, std::move(problem)};
    }
    request.msn = value;
  }
  if (part) {
    uint32_t value = 0;
    if (auto problem = numberProblem("_HLS_part", *part, value); !problem.empty()) {
      return {std::nullopt, std::move(problem)};
    }
    request.part = value;
  }
  return {request, {}};
}

std::optional<std::string> validate(const BlockingRequest& request, const LiveWindow& window) {
  if (!request.msn) {
    if (request.part) return "_HLS_part requires _HLS_msn";
    return std::nullopt;
  }
  const auto edge = window.liveEdge();
  if (!edge || window.ended()) return std::nullopt;
  const uint64_t m = *request.msn;
  if (m > edge->msn && m - edge->msn > 2) {
    return "_HLS_msn is more than two segments past the last one (" + std::to_string(edge->msn) +
           ")";
  }
  if (!request.part) return std::nullopt;
  const double partTarget = static_cast<double>(window.partTargetUs()) / kUsPerSecond;
  const double advanceLimit = partTarget < 1 ? 3 / partTarget : 3;
  const uint32_t p = *request.part;
  // Past segment M's last part, the distance is larger than p alone: reject on p.
  const double ahead = m == edge->msn  ? (p > edge->part ? p - edge->part : 0.0)
                       : m > edge->msn ? static_cast<double>(p)
                                       : 0.0;
  if (ahead > advanceLimit) return "_HLS_part is too far past the last part";
  return std::nullopt;
}

bool satisfied(const BlockingRequest& request, const LiveWindow& window) {
  if (!request.msn || window.ended()) return true;
  const auto edge = window.liveEdge();
  if (!edge) return false;
  if (edge->msn != *request.msn) return edge->msn > *request.msn;
  return request.part && edge->part >= *request.part;
}

}  // namespace amphi::core::hls
