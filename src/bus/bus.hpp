// NATS JetStream as Amphi's bus and state store: the ROOM_SIGNALS stream and the
// AMPHI_ROOMS / AMPHI_PRESENCE key-value buckets. Hides nats.c; callbacks arrive on
// nats.c threads and must be posted elsewhere by the receiver.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace amphi::bus {

inline constexpr const char* kSignalsStream = "ROOM_SIGNALS";
inline constexpr const char* kRoomsBucket = "AMPHI_ROOMS";
inline constexpr const char* kPresenceBucket = "AMPHI_PRESENCE";
// CMAF init segments and parts of live rooms: hls.<room>.init, hls.<room>.part.
inline constexpr const char* kHlsStream = "HLS";

// "nats://a:4222, nats://b:4222" -> its URLs (spaces trimmed, empty items dropped).
std::vector<std::string> splitUrls(std::string_view list);
// The same list for logs: credentials (token or user:password before '@') become ***.
std::string redactUrls(std::string_view list);

struct BusOptions {
  std::string url;                     // nats://host:port[,nats://host:port...]: a cluster
  std::string name = "amphi-serve";    // connection name shown by the server
  int replicas = 1;                    // R3 on a cluster
  std::chrono::seconds signalsMaxAge{std::chrono::hours(24)};
  std::chrono::seconds duplicateWindow{std::chrono::minutes(5)};
  int64_t maxMsgsPerSubject = 1000;
  std::chrono::seconds presenceTtl{30};
  std::chrono::seconds hlsMaxAge{180};  // the HLS stream keeps a few minutes of media
  std::chrono::milliseconds requestTimeout{3000};
};

enum class Bucket { Rooms, Presence };

struct KvEntry {
  std::string value;
  uint64_t revision = 0;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct StreamMessage {
  uint64_t seq = 0;
  std::string subject;
  std::string data;
  Headers headers;  // filled for HLS messages only
  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

// Where an HLS subscription starts: a stream sequence, or (when seq is 0) the first
// message at or after a wall-clock time.
struct StartAt {
  uint64_t seq = 0;
  std::chrono::system_clock::time_point time{};
};

struct StreamBounds {
  uint64_t first = 0;  // 0 when the stream is empty
  uint64_t last = 0;
};

// A compare-and-set lost the race: somebody else wrote the key first.
class CasConflict : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Unsubscribes when destroyed.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

class Bus {
 public:
  using ConnectionListener = std::function<void(bool ready)>;
  using MessageHandler = std::function<void(StreamMessage)>;

  // Returns at once; connects in the background and reconnects forever. The
  // listener hears when the bus becomes ready (connected, streams present) or not.
  static std::unique_ptr<Bus> connect(BusOptions options, ConnectionListener listener);
  virtual ~Bus() = default;

  virtual bool ready() const = 0;
  // Waits until ready or the timeout passes; returns ready().
  virtual bool waitReady(std::chrono::milliseconds timeout) = 0;

  // Key-value. Errors other than the documented ones throw core::Error(Unavailable).
  virtual std::optional<KvEntry> get(Bucket bucket, const std::string& key) = 0;
  // Throws CasConflict when the key exists.
  virtual uint64_t create(Bucket bucket, const std::string& key, std::string_view value) = 0;
  // Throws CasConflict when the revision is not the latest.
  virtual uint64_t update(Bucket bucket, const std::string& key, std::string_view value,
                          uint64_t lastRevision) = 0;
  virtual uint64_t put(Bucket bucket, const std::string& key, std::string_view value) = 0;
  // Latest values of keys matching a pattern (NATS wildcards), e.g. "demo.*".
  virtual std::vector<std::pair<std::string, std::string>> scan(Bucket bucket,
                                                                const std::string& pattern) = 0;

  // Publishes to ROOM_SIGNALS with a Nats-Msg-Id; a retry repeats the id, so the
  // stream stores the message once. Returns the stream sequence.
  virtual uint64_t publish(const std::string& subject, std::string_view data,
                           const std::string& msgId) = 0;
  virtual StreamBounds signalBounds() = 0;
  // The first message at or after fromSeq whose subject matches the filter.
  virtual std::optional<StreamMessage> nextMessage(uint64_t fromSeq,
                                                   const std::string& subjectFilter) = 0;
  // Ordered delivery of ROOM_SIGNALS messages matching the filter, from startSeq
  // on. Survives reconnects and server restarts: it resumes after the last
  // sequence it delivered, never delivering one twice.
  virtual std::unique_ptr<Subscription> subscribe(const std::string& subjectFilter,
                                                  uint64_t startSeq, MessageHandler handler) = 0;

  // The HLS stream. Publishes with headers and a Nats-Msg-Id (retries repeat it).
  virtual uint64_t publishHls(const std::string& subject, std::string_view data,
                              const Headers& headers, const std::string& msgId) = 0;
  // The newest message on exactly this subject, if the stream still holds one.
  virtual std::optional<StreamMessage> lastHls(const std::string& subject) = 0;
  // Ordered delivery (with headers) like subscribe(), on the HLS stream.
  virtual std::unique_ptr<Subscription> subscribeHls(const std::string& subjectFilter,
                                                     StartAt start, MessageHandler handler) = 0;
  // The server's max_payload: larger HLS parts are split into chunks below it.
  virtual std::size_t maxPayload() const = 0;
};

}  // namespace amphi::bus
