#include "api/fanout.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <latch>
#include <thread>

namespace amphi::api {
namespace {

// Below this many streams a hand-over to another thread costs more than it saves.
constexpr std::size_t kMinPerThread = 256;

void sendRange(const std::vector<std::shared_ptr<http::SseStream>>& streams, std::size_t begin, std::size_t end,
               const std::shared_ptr<const std::string>& frame) {
  for (std::size_t i = begin; i < end; ++i) streams[i]->send(frame);
}

}  // namespace

Fanout::Fanout(std::size_t helpers) : helpers_(helpers), pool_(std::max<std::size_t>(helpers, 1)) {}

Fanout::~Fanout() {
  pool_.stop();
  pool_.join();
}

std::size_t Fanout::defaultHelpers() {
  const std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  return std::min<std::size_t>(cpus - 1, 3);
}

void Fanout::send(const std::vector<std::shared_ptr<http::SseStream>>& streams,
                  const std::shared_ptr<const std::string>& frame) {
  const std::size_t parts =
      std::min(helpers_ + 1, std::max<std::size_t>(1, streams.size() / kMinPerThread));
  if (parts <= 1) return sendRange(streams, 0, streams.size(), frame);
  const std::size_t per = (streams.size() + parts - 1) / parts;
  std::latch done(static_cast<std::ptrdiff_t>(parts - 1));
  for (std::size_t p = 1; p < parts; ++p) {
    const std::size_t begin = p * per;
    const std::size_t end = std::min(streams.size(), begin + per);
    boost::asio::post(pool_, [&streams, &frame, &done, begin, end] {
      sendRange(streams, begin, end, frame);
      done.count_down();
    });
  }
  sendRange(streams, 0, std::min(per, streams.size()), frame);
  done.wait();
}

}  // namespace amphi::api
