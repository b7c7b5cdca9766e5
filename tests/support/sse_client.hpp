// A blocking Server-Sent Events client for tests: one HTTP/1.1 GET with
// Accept: text/event-stream, read with poll() timeouts. Handles chunked and
// close-delimited bodies; parses events per the SSE spec (WHATWG HTML §9.2).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http_client.hpp"

namespace amphi::testing {

struct SseEvent {
  std::string id;     // the last event id in force (the spec's "last event ID": it carries over)
  std::string event;  // "message" when the event named none
  std::string data;   // data lines joined by '\n'
};

class SseClient {
 public:
  // Connects and reads the response head (throws on connection failure or no head within
  // timeout). A non-200 status is not an error: check status().
  SseClient(const std::string& baseUrl, const std::string& target,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            std::chrono::milliseconds timeout = 10s);

  int status() const { return head_.status; }
  const std::map<std::string, std::string>& headers() const { return head_.headers; }
  // The next event; nullopt on timeout or once the stream has ended. Comments
  // (": keepalive") and retry fields are skipped.
  std::optional<SseEvent> next(std::chrono::milliseconds timeout);
  // Up to n events, fewer if timeout (for all of them) passes or the stream ends.
  std::vector<SseEvent> collect(size_t n, std::chrono::milliseconds timeout);
  // True once the server closed the connection or ended the chunked body (checks the
  // socket without blocking; data that arrived meanwhile is kept for next()).
  bool closedByServer();
  // The raw body received so far that has not been parsed into events yet.
  const std::string& pending() const { return body_; }
  void close();

 private:
  bool pump(std::chrono::milliseconds timeout);  // reads once; false at end of stream
  std::optional<SseEvent> parseEvent();
  bool takeLine(std::string& line);

  wire::Socket socket_;
  wire::ResponseHead head_;
  std::optional<wire::BodyDecoder> decoder_;
  std::string raw_, body_;
  std::string lastId_, eventType_, data_;
  bool hasData_ = false;
  bool ended_ = false;
};

}  // namespace amphi::testing
