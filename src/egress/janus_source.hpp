// The stage as the egress's source: keeps one rtp_forward per Janus publisher of the room
// (audio and video to local UDP ports, video RTCP to a socket of ours), adds and removes
// the publishers in the graph as they come and go, and answers Janus's RTCP with a PLI
// when a forward starts or a decoder must resync (Janus sends no keyframe by itself).
#pragma once

#include <memory>
#include <string>

namespace amphi::egress {

class Graph;

class JanusSource {
 public:
  // target: JSON {httpUrl, adminUrl, adminSecret, roomAdminKey, room, secret}. Throws
  // std::runtime_error saying what is missing.
  JanusSource(std::string room, const std::string& target, Graph& graph);
  ~JanusSource();  // stops every forward
  JanusSource(const JanusSource&) = delete;
  JanusSource& operator=(const JanusSource&) = delete;

  // Brings forwards in line with the room's publishers; called about once a second.
  void poll();
  // Sends a PLI for this publisher's video (any thread).
  void requestKeyframe(const std::string& publisherId);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace amphi::egress
