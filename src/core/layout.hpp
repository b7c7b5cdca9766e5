// Stage layout of the egress picture and the choice of who is the speaker. Pure: no media.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace amphi::core {

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
  friend bool operator==(const Rect&, const Rect&) = default;
};

// Boxes for `count` publishers in a width x height frame; rects[i] is publisher i's box.
// One publisher fills the frame. With more, the speaker gets the large box at the top
// (centred) and the others, in order, a row of equal thumbnails along the bottom (at least
// four slots wide, so thumbnails stay a quarter of the width or less). Every box keeps the
// frame's aspect ratio, lies inside the frame, overlaps no other and has even x, y, w, h.
// A speaker index out of range counts as 0. Empty when count is 0 or the frame is < 2x2.
std::vector<Rect> speakerLayout(int width, int height, std::size_t count, std::size_t speaker);

struct SpeakerOptions {
  double marginDb = 6.0;                        // a challenger must be this much louder...
  std::chrono::milliseconds hold{1500};         // ...for this long to take the floor
  std::chrono::milliseconds dipTolerance{500};  // pauses shorter than this keep the run going
  double silenceFloorDb = -50.0;                // at or below: silent, never takes the floor
  std::chrono::milliseconds staleAfter{1000};   // no level for this long counts as silent
};

// Picks the active speaker from audio levels (dBov, e.g. the RMS of GStreamer's `level`)
// with hysteresis: the first publisher added holds the floor until another has been louder
// than it (and than the silence floor) by marginDb for `hold`, allowing short dips.
class SpeakerSelector {
 public:
  using Ms = std::chrono::milliseconds;

  explicit SpeakerSelector(SpeakerOptions options = {});

  void add(const std::string& id);  // no-op when present
  // Drops the publisher; when it was the speaker, the loudest recent one above the floor
  // (else the earliest added) takes over. Returns true when the speaker changed.
  bool remove(const std::string& id, Ms now);
  // Feeds one level; unknown ids are ignored. Returns true when the speaker changed.
  bool update(const std::string& id, double levelDb, Ms now);

  const std::string& speaker() const { return speaker_; }  // empty when nobody is known

 private:
  struct Entry {
    std::string id;
    double levelDb = -200.0;
    Ms levelAt{-1};
    Ms runStart{-1};  // start of the current run of being clearly louder than the speaker
    Ms runLast{-1};   // last level of that run
  };

  double effectiveLevel(const Entry& e, Ms now) const;
  Entry* find(const std::string& id);
  void resetRuns();

  SpeakerOptions options_;
  std::vector<Entry> entries_;  // in order of addition
  std::string speaker_;
};

}  // namespace amphi::core
