// Test helpers shared by the live-window tests: media blobs, init metadata, a feeder of
// consecutive parts and the rendered playlist.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <string_view>

#include "core/hls_window.hpp"
#include "core/playlist.hpp"

namespace amphi::core::hls {

inline Bytes blob(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

inline InitMeta initMeta(uint64_t epoch) {
  InitMeta meta;
  meta.epoch = epoch;
  meta.codecs = "avc1.64001f,mp4a.40.2";
  meta.width = 1280;
  meta.height = 720;
  meta.bandwidth = 2500000;
  return meta;
}

// Feeds parts of one epoch; each part's bytes are its own name, its capture time follows on.
struct Feeder {
  LiveWindow& window;
  uint64_t epoch;
  int64_t captureMs;

  AddResult part(uint64_t msn, uint32_t index, double duration = 0.5) {
    PartMeta meta{epoch, msn, index, duration, index == 0, captureMs};
    captureMs += std::llround(duration * 1000);
    return window.addPart(meta, blob(partUri(epoch, msn, index)));
  }
  void segment(uint64_t msn, uint32_t parts = 4, double duration = 0.5) {
    for (uint32_t i = 0; i < parts; ++i) ASSERT_TRUE(accepted(part(msn, i, duration)));
  }
};

inline std::size_t count(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

inline std::string render(const LiveWindow& window) {
  auto text = renderMediaPlaylist(window);
  EXPECT_TRUE(text.has_value());
  return text.value_or("");
}

}  // namespace amphi::core::hls
