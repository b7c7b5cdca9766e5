// Key-value and stream operations of the nats.c Bus.
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <thread>

#include "bus/nats_bus_impl.hpp"
#include "bus/nats_util.hpp"
#include "core/error.hpp"

namespace amphi::bus::impl {
namespace {

constexpr auto kPublishDeadline = std::chrono::seconds(10);

bool isWrongLastSequence(natsStatus status) {
  return status == NATS_ERR && describe(status).find("wrong last sequence") != std::string::npos;
}

std::string header(natsMsg* msg, const char* name) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, name, &value) != NATS_OK || !value) return {};
  return value;
}

}  // namespace

std::string describe(natsStatus status) {
  std::string text = natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail && *detail) {
    text += ": ";
    text += detail;
  }
  return text;
}

void fail(natsStatus status, const std::string& step) {
  throw core::Error(core::Errc::Unavailable, "NATS: " + step + " failed: " + describe(status));
}

std::optional<KvEntry> NatsBus::get(Bucket bucket, const std::string& key) {
  if (!ready()) fail(NATS_CONNECTION_CLOSED, "get " + key + " (not connected)");
  kvEntry* raw = nullptr;
  natsStatus s = kvStore_Get(&raw, kv(bucket), key.c_str());
  if (s == NATS_NOT_FOUND) return std::nullopt;
  check(s, "get " + key);
  EntryPtr entry(raw);
  return KvEntry{std::string(static_cast<const char*>(kvEntry_Value(raw)), kvEntry_ValueLen(raw)),
                 kvEntry_Revision(raw)};
}

uint64_t NatsBus::create(Bucket bucket, const std::string& key, std::string_view value) {
  if (!ready()) fail(NATS_CONNECTION_CLOSED, "create " + key + " (not connected)");
  uint64_t rev = 0;
  natsStatus s = kvStore_Create(&rev, kv(bucket), key.c_str(), value.data(),
                                static_cast<int>(value.size()));
  if (isWrongLastSequence(s)) throw CasConflict("key " + key + " exists");
  check(s, "create " + key);
  return rev;
}

uint64_t NatsBus::update(Bucket bucket, const std::string& key, std::string_view value,
                         uint64_t lastRevision) {
  if (!ready()) fail(NATS_CONNECTION_CLOSED, "update " + key + " (not connected)");
  uint64_t rev = 0;
  natsStatus s = kvStore_Update(&rev, kv(bucket), key.c_str(), value.data(),
                                static_cast<int>(value.size()), lastRevision);
  if (isWrongLastSequence(s)) throw CasConflict("key " + key + " changed");
  check(s, "update " + key);
  return rev;
}

uint64_t NatsBus::put(Bucket bucket, const std::string& key, std::string_view value) {
  if (!ready()) fail(NATS_CONNECTION_CLOSED, "put " + key + " (not connected)");
  uint64_t rev = 0;
  check(kvStore_Put(&rev, kv(bucket), key.c_str(), value.data(), static_cast<int>(value.size())),
        "put " + key);
  return rev;
}

std::vector<std::pair<std::string, std::string>> NatsBus::scan(Bucket bucket,
                                                               const std::string& pattern) {
  const std::string name = bucket == Bucket::Rooms ? kRoomsBucket : kPresenceBucket;
  const std::string stream = "KV_" + name;
  const std::string prefix = "$KV." + name + ".";
  const std::string filter = prefix + pattern;
  std::vector<std::pair<std::string, std::string>> out;
  uint64_t from = 1;
  jsOptions jo = jsOpts();
  for (;;) {
    jsDirectGetMsgOptions dg;
    jsDirectGetMsgOptions_Init(&dg);
    dg.Sequence = from;
    dg.NextBySubject = filter.c_str();
    natsMsg* raw = nullptr;
    natsStatus s = js_DirectGetMsg(&raw, js_, stream.c_str(), &jo, &dg);
    if (s == NATS_NOT_FOUND) break;
    check(s, "scan " + filter);
    MsgPtr msg(raw);
    from = natsMsg_GetSequence(raw) + 1;
    const std::string op = header(raw, "KV-Operation");
    if (op == "DEL" || op == "PURGE") continue;
    std::string subject = natsMsg_GetSubject(raw);
    out.emplace_back(subject.substr(prefix.size()),
                     std::string(natsMsg_GetData(raw), natsMsg_GetDataLength(raw)));
  }
  return out;
}

// Publishes msg (with its Nats-Msg-Id set), retrying transient failures with the same id
// until the deadline. Returns the stream sequence.
uint64_t NatsBus::publishWithRetry(natsMsg* msg, const std::string& subject) {
  const auto deadline = Clock::now() + kPublishDeadline;
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = options_.requestTimeout.count();
  for (int attempt = 1;; ++attempt) {
    jsPubAck* ack = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PublishMsg(&ack, js_, msg, &po, &jerr);
    if (s == NATS_OK) {
      const uint64_t seq = ack->Sequence;
      jsPubAck_Destroy(ack);
      return seq;
    }
    const bool transient = s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS ||
                           s == NATS_CONNECTION_DISCONNECTED || s == NATS_NOT_YET_CONNECTED;
    if (!transient || Clock::now() >= deadline) fail(s, "publish " + subject);
    spdlog::debug("bus: publish {} attempt {} failed ({}); retrying with the same id", subject,
                  attempt, natsStatus_GetText(s));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50 * attempt, 500)));
  }
}

uint64_t NatsBus::publish(const std::string& subject, std::string_view data,
                          const std::string& msgId) {
  return publishHls(subject, data, {}, msgId);
}

uint64_t NatsBus::publishHls(const std::string& subject, std::string_view data,
                             const Headers& headers, const std::string& msgId) {
  natsMsg* raw = nullptr;
  check(natsMsg_Create(&raw, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size())),
        "create message for " + subject);
  MsgPtr msg(raw);
  for (const auto& [name, value] : headers) {
    check(natsMsgHeader_Set(raw, name.c_str(), value.c_str()), "set header " + name);
  }
  check(natsMsgHeader_Set(raw, "Nats-Msg-Id", msgId.c_str()), "set message id");
  return publishWithRetry(raw, subject);
}

std::optional<StreamMessage> NatsBus::lastHls(const std::string& subject) {
  jsOptions jo = jsOpts();
  jsDirectGetMsgOptions dg;
  jsDirectGetMsgOptions_Init(&dg);
  dg.LastBySubject = subject.c_str();
  natsMsg* raw = nullptr;
  natsStatus s = js_DirectGetMsg(&raw, js_, kHlsStream, &jo, &dg);
  if (s == NATS_NOT_FOUND) return std::nullopt;
  check(s, "read the last message on " + subject);
  MsgPtr msg(raw);
  return StreamMessage{natsMsg_GetSequence(raw), natsMsg_GetSubject(raw),
                       std::string(natsMsg_GetData(raw), natsMsg_GetDataLength(raw)),
                       readHeaders(raw)};
}

std::size_t NatsBus::maxPayload() const {
  const int64_t max = nc_ ? natsConnection_GetMaxPayload(nc_) : 0;
  return max > 0 ? static_cast<std::size_t>(max) : 1024 * 1024;
}

StreamBounds NatsBus::signalBounds() {
  jsOptions jo = jsOpts();
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  check(js_GetStreamInfo(&si, js_, kSignalsStream, &jo, &jerr), "read stream info");
  StreamBounds bounds{si->State.Msgs > 0 ? si->State.FirstSeq : 0, si->State.LastSeq};
  jsStreamInfo_Destroy(si);
  return bounds;
}

std::optional<StreamMessage> NatsBus::nextMessage(uint64_t fromSeq,
                                                  const std::string& subjectFilter) {
  jsOptions jo = jsOpts();
  jsDirectGetMsgOptions dg;
  jsDirectGetMsgOptions_Init(&dg);
  dg.Sequence = fromSeq;
  dg.NextBySubject = subjectFilter.c_str();
  natsMsg* raw = nullptr;
  natsStatus s = js_DirectGetMsg(&raw, js_, kSignalsStream, &jo, &dg);
  if (s == NATS_NOT_FOUND) return std::nullopt;
  check(s, "read " + subjectFilter + " from " + std::to_string(fromSeq));
  MsgPtr msg(raw);
  return StreamMessage{natsMsg_GetSequence(raw), natsMsg_GetSubject(raw),
                       std::string(natsMsg_GetData(raw), natsMsg_GetDataLength(raw))};
}

}  // namespace amphi::bus::impl
