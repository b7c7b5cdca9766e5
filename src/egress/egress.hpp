// `amphi egress --room ID`: one room's broadcast. Composes the stage (Janus rtp_forward)
// or a test source with GStreamer, packages CMAF parts and publishes them to the HLS
// stream until SIGTERM; then drains, and tells origins the broadcast ended when the room
// is no longer live (a restart or a move to another serve is not an end).
#pragma once

#include <string>

namespace amphi::egress {

struct EgressOptions {
  std::string room;
  std::string natsUrl;
  int natsReplicas = 1;           // serve's nats_replicas: the streams are shared
  std::string source = "janus";   // "janus" or "test"
  std::string title;              // empty: the room's title from NATS
  int width = 1280, height = 720, fps = 30;
  int videoKbps = 2500, audioKbps = 128;
  double partSeconds = 0.5;
  double segmentSeconds = 2.0;
  double initEverySeconds = 30;   // the init again, for origins that start following later
  std::string janusTarget;        // JSON from serve (env AMPHI_EGRESS_JANUS), janus source
  std::string logLevel = "info";
};

// Returns the process exit code.
int runEgress(const EgressOptions& options);

}  // namespace amphi::egress
