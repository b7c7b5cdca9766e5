#include "sse_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace amphi::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds left(Clock::time_point deadline) {
  return std::max(milliseconds(0),
                  std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

}  // namespace

SseClient::SseClient(const std::string& baseUrl, const std::string& target,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     milliseconds timeout)
    : socket_(wire::parseBaseUrl(baseUrl), timeout) {
  auto deadline = Clock::now() + timeout;
  auto ep = wire::parseBaseUrl(baseUrl);
  std::string req = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}:{}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n",
      target, ep.host, ep.port);
  for (const auto& [name, value] : headers) req += fmt::format("{}: {}\r\n", name, value);
  socket_.sendAll(req + "\r\n", left(deadline));
  std::optional<wire::ResponseHead> head;
  bool open = true;
  while (!(head = wire::takeHead(raw_))) {
    if (!open || left(deadline).count() == 0)
      throw std::runtime_error(fmt::format("SSE GET {}{}: no response head", baseUrl, target));
    open = socket_.receive(raw_, left(deadline));
  }
  head_ = std::move(*head);
  decoder_.emplace(head_);
  decoder_->feed(raw_, body_);
  ended_ = !open || decoder_->complete();
}

bool SseClient::pump(milliseconds timeout) {
  if (ended_) return false;
  bool open = socket_.receive(raw_, timeout);
  decoder_->feed(raw_, body_);
  ended_ = !open || decoder_->complete();
  return !ended_;
}

std::optional<SseEvent> SseClient::next(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (auto event = parseEvent()) return event;
    if (ended_ || left(deadline).count() == 0) return std::nullopt;
    pump(left(deadline));
  }
}

std::vector<SseEvent> SseClient::collect(size_t n, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::vector<SseEvent> events;
  while (events.size() < n) {
    auto event = next(left(deadline));
    if (!event) break;
    events.push_back(std::move(*event));
  }
  return events;
}

bool SseClient::closedByServer() {
  if (!ended_) pump(milliseconds(0));
  return ended_;
}

void SseClient::close() {
  socket_.close();
  ended_ = true;
}

// A line ends at CRLF, LF or CR. A CR at the end of what we have may be half of a CRLF:
// wait for more unless the stream has ended.
bool SseClient::takeLine(std::string& line) {
  size_t eol = body_.find_first_of("\r\n");
  if (eol == std::string::npos) return false;
  bool crlf = body_[eol] == '\r' && eol + 1 < body_.size() && body_[eol + 1] == '\n';
  if (body_[eol] == '\r' && eol + 1 == body_.size() && !ended_) return false;
  line = body_.substr(0, eol);
  body_.erase(0, eol + (crlf ? 2 : 1));
  return true;
}

std::optional<SseEvent> SseClient::parseEvent() {
  std::string line;
  while (takeLine(line)) {
    if (line.empty()) {
      if (!hasData_) {
        eventType_.clear();
        continue;
      }
      if (!data_.empty() && data_.back() == '\n') data_.pop_back();
      SseEvent event{lastId_, eventType_.empty() ? "message" : eventType_, std::move(data_)};
      data_.clear();
      eventType_.clear();
      hasData_ = false;
      return event;
    }
    if (line[0] == ':') continue;  // comment
    size_t colon = line.find(':');
    std::string field = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (field == "data") {
      data_ += value + "\n";
      hasData_ = true;
    } else if (field == "event") {
      eventType_ = value;
    } else if (field == "id" && value.find('\0') == std::string::npos) {
      lastId_ = value;
    }
  }
  return std::nullopt;
}

}  // namespace amphi::testing
