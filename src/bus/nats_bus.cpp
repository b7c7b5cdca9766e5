// nats.c implementation of Bus.
#include <nats/nats.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "bus/nats_bus_impl.hpp"
#include "bus/nats_util.hpp"
#include "core/error.hpp"

namespace amphi::bus {

std::vector<std::string> splitUrls(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first != std::string_view::npos) out.emplace_back(item.substr(first, last - first + 1));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

std::string redactUrls(std::string_view list) {
  std::string out;
  for (const auto& url : splitUrls(list)) {
    if (!out.empty()) out += ',';
    const auto scheme = url.find("://");
    const auto from = scheme == std::string::npos ? 0 : scheme + 3;
    const auto at = url.find('@', from);
    out += at == std::string::npos ? url : url.substr(0, from) + "***" + url.substr(at);
  }
  return out;
}

namespace impl {

constexpr auto kOrderedHeartbeat = std::chrono::seconds(1);

Headers readHeaders(natsMsg* msg) {
  Headers out;
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) != NATS_OK) return out;
  for (int i = 0; i < count; ++i) {
    const char* value = nullptr;
    if (natsMsgHeader_Get(msg, keys[i], &value) == NATS_OK && value) out.emplace_back(keys[i], value);
  }
  free(static_cast<void*>(keys));
  return out;
}

namespace {

void onOrderedMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* link = static_cast<SubLink*>(closure);
  MsgPtr guard(msg);
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return;  // a status/heartbeat message
  const uint64_t seq = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  auto& owner = *link->owner;
  uint64_t last = owner.lastSeq.load();
  if (seq <= last) return;  // already delivered by an earlier incarnation
  owner.lastSeq.store(seq);
  owner.handler(StreamMessage{seq, natsMsg_GetSubject(msg),
                              std::string(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)),
                              owner.withHeaders ? readHeaders(msg) : Headers{}});
}

void onSubComplete(void* closure) { delete static_cast<SubLink*>(closure); }

}  // namespace

SubscriptionHandle::~SubscriptionHandle() { bus_->unsubscribe(sub_); }

NatsBus::~NatsBus() {
  closing_ = true;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (maintainer_.joinable()) maintainer_.join();
  for (auto& sub : std::vector(subs_.begin(), subs_.end())) unsubscribe(sub);
  if (rooms_) kvStore_Destroy(rooms_);
  if (presence_) kvStore_Destroy(presence_);
  if (js_) jsCtx_Destroy(js_);
  if (nc_) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
}

void NatsBus::start() {
  natsOptions* raw = nullptr;
  check(natsOptions_Create(&raw), "create options");
  OptionsPtr opts(raw);
  // nats.c's SetURL takes one URL: a cluster's list goes to SetServers (the client also
  // learns the other members from the server it reaches).
  const std::vector<std::string> urls = splitUrls(options_.url);
  if (urls.empty()) throw std::runtime_error("bus: no NATS url given");
  std::vector<const char*> servers;
  for (const auto& u : urls) servers.push_back(u.c_str());
  check(natsOptions_SetServers(raw, servers.data(), static_cast<int>(servers.size())),
        "set servers " + redactUrls(options_.url));
  check(natsOptions_SetName(raw, options_.name.c_str()), "set name");
  check(natsOptions_SetMaxReconnect(raw, -1), "set unlimited reconnects");
  check(natsOptions_SetReconnectWait(raw, 250), "set reconnect wait");
  check(natsOptions_SetReconnectJitter(raw, 250, 1000), "set reconnect jitter");
  check(natsOptions_SetReconnectBufSize(raw, 8 * 1024 * 1024), "set reconnect buffer");
  check(natsOptions_SetTimeout(raw, 2000), "set connect timeout");
  check(natsOptions_SetRetryOnFailedConnect(raw, true, &NatsBus::onReconnected, this),
        "retry on failed connect");
  check(natsOptions_SetDisconnectedCB(raw, &NatsBus::onDisconnected, this), "disconnected cb");
  check(natsOptions_SetReconnectedCB(raw, &NatsBus::onReconnected, this), "reconnected cb");
  natsStatus s = natsConnection_Connect(&nc_, raw);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
    fail(s, "connect to " + redactUrls(options_.url));
  jsOptions jo = jsOpts();
  check(natsConnection_JetStream(&js_, nc_, &jo), "open JetStream context");
  maintainer_ = std::thread([this] { maintain(); });
}

jsOptions NatsBus::jsOpts() const {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options_.requestTimeout.count();
  return jo;
}

void NatsBus::onDisconnected(natsConnection*, void* self) {
  static_cast<NatsBus*>(self)->wake(true);
}

void NatsBus::onReconnected(natsConnection*, void* self) {
  static_cast<NatsBus*>(self)->wake(false);
}

void NatsBus::wake(bool lost) {
  if (lost) setReady(false);
  {
    std::lock_guard lock(mu_);
    needsCheck_ = true;
  }
  cv_.notify_all();
}

void NatsBus::setReady(bool ready) {
  if (ready_.exchange(ready) != ready) {
    if (ready) {
      spdlog::info("bus: NATS ready at {}", redactUrls(options_.url));
    } else if (!closing_) {
      spdlog::warn("bus: NATS connection lost ({}); reconnecting", redactUrls(options_.url));
    }
    if (listener_) listener_(ready);
  }
  cv_.notify_all();
}

// Runs on its own thread: makes sure streams exist after every (re)connect and
// re-creates ordered subscriptions, so no nats.c callback does blocking requests.
void NatsBus::maintain() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || needsCheck_; });
    if (stop_) break;
    const bool connected = natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
    if (!connected) {
      if (ready_) setReady(false);
      // needsCheck_ stays set for when the connection is back: sleep rather than spin
      // (and release mu_ so the destructor can stop us).
      cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; });
      continue;
    }
    if (!needsCheck_ && ready_) continue;
    needsCheck_ = false;
    lock.unlock();
    try {
      ensureStreams();
      resubscribeAll();
      setReady(true);
    } catch (const std::exception& e) {
      spdlog::warn("bus: setting up streams failed: {}; retrying in 1 s", e.what());
    }
    lock.lock();
  }
}

bool NatsBus::waitReady(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return ready_.load() || stop_; });
  return ready_.load();
}

void NatsBus::ensureStreams() {
  ensureStream(kSignalsStream, "room.>",
               std::chrono::nanoseconds(options_.signalsMaxAge).count(),
               options_.maxMsgsPerSubject,
               std::chrono::nanoseconds(options_.duplicateWindow).count());
  ensureStream(kHlsStream, "hls.>", std::chrono::nanoseconds(options_.hlsMaxAge).count(), -1,
               std::chrono::nanoseconds(std::chrono::minutes(2)).count());
  if (!rooms_) ensureBucket(kRoomsBucket, 0, &rooms_);
  if (!presence_) {
    ensureBucket(kPresenceBucket,
                 std::chrono::duration_cast<std::chrono::milliseconds>(options_.presenceTtl).count(),
                 &presence_);
  }
}

void NatsBus::ensureStream(const char* name, const char* subject, int64_t maxAgeNs,
                           int64_t maxPerSubject, int64_t duplicatesNs) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {subject};
  cfg.Name = name;
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.MaxAge = maxAgeNs;
  cfg.MaxMsgsPerSubject = maxPerSubject;
  cfg.Duplicates = std::min(duplicatesNs, maxAgeNs);
  cfg.AllowDirect = true;
  cfg.Replicas = options_.replicas;
  jsOptions jo = jsOpts();
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsStreamInfo* si = nullptr;
  natsStatus s = js_AddStream(&si, js_, &cfg, &jo, &jerr);
  if (s != NATS_OK && jerr == JSStreamNameExistErr) {
    s = js_UpdateStream(&si, js_, &cfg, &jo, &jerr);
  }
  if (si) jsStreamInfo_Destroy(si);
  if (s != NATS_OK) fail(s, std::string("create stream ") + name);
}

// Creates the bucket's stream ourselves (as nats.c would) so that a TTL shorter than
// the default 2-minute duplicate window is accepted, then binds to it.
void NatsBus::ensureBucket(const char* name, int64_t ttlMs, kvStore** out) {
  const std::string stream = std::string("KV_") + name;
  const std::string subject = std::string("$KV.") + name + ".>";
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = options_.replicas;
  cfg.MaxMsgsPerSubject = 1;
  cfg.Discard = js_DiscardNew;
  cfg.AllowRollup = true;
  cfg.DenyDelete = true;
  cfg.AllowDirect = true;
  if (ttlMs > 0) {
    cfg.MaxAge = ttlMs * 1'000'000;
    cfg.Duplicates = cfg.MaxAge;
  }
  jsOptions jo = jsOpts();
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsStreamInfo* si = nullptr;
  natsStatus s = js_AddStream(&si, js_, &cfg, &jo, &jerr);
  if (s != NATS_OK && jerr == JSStreamNameExistErr) s = js_UpdateStream(&si, js_, &cfg, &jo, &jerr);
  if (si) jsStreamInfo_Destroy(si);
  if (s != NATS_OK) fail(s, std::string("create KV bucket ") + name);
  check(js_KeyValue(out, js_, name), std::string("open KV bucket ") + name);
}

void NatsBus::resubscribeAll() {
  std::vector<std::shared_ptr<OrderedSub>> subs;
  {
    std::lock_guard lock(mu_);
    subs.assign(subs_.begin(), subs_.end());
  }
  for (auto& sub : subs) startSub(*sub);
}

void NatsBus::startSub(OrderedSub& sub) {
  std::lock_guard lock(sub.mu);
  if (sub.closed) return;
  if (sub.sub) {
    natsSubscription_Unsubscribe(sub.sub);
    natsSubscription_Destroy(sub.sub);
    sub.sub = nullptr;
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = sub.stream;
  so.Ordered = true;
  // The server's idle heartbeat lets nats.c notice a consumer that vanished with its
  // NATS node (the connection itself may be to another, healthy node) and recreate it
  // after the last delivered sequence. nats.c's default (5 s) left moderators ~10-20 s
  // without events after a node of a cluster died.
  so.Config.Heartbeat = std::chrono::nanoseconds(kOrderedHeartbeat).count();
  if (sub.lastSeq.load() == 0 && sub.startTimeNs > 0) {
    so.Config.DeliverPolicy = js_DeliverByStartTime;
    so.Config.OptStartTime = sub.startTimeNs;
  } else {
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = sub.lastSeq.load() + 1;
  }
  jsOptions jo = jsOpts();
  jsErrCode jerr = static_cast<jsErrCode>(0);
  auto* link = new SubLink{sub.shared_from_this()};
  natsStatus s = js_Subscribe(&sub.sub, js_, sub.filter.c_str(), &onOrderedMessage, link, &jo,
                              &so, &jerr);
  if (s != NATS_OK) {
    delete link;
    sub.sub = nullptr;
    fail(s, "subscribe to " + sub.filter);
  }
  natsSubscription_SetOnCompleteCB(sub.sub, &onSubComplete, link);
}

std::unique_ptr<Subscription> NatsBus::subscribe(const std::string& subjectFilter,
                                                 uint64_t startSeq, MessageHandler handler) {
  auto sub = std::make_shared<OrderedSub>();
  sub->bus = this;
  sub->filter = subjectFilter;
  sub->handler = std::move(handler);
  sub->lastSeq = startSeq > 0 ? startSeq - 1 : 0;
  return addSub(std::move(sub));
}

std::unique_ptr<Subscription> NatsBus::subscribeHls(const std::string& subjectFilter,
                                                    StartAt start, MessageHandler handler) {
  auto sub = std::make_shared<OrderedSub>();
  sub->bus = this;
  sub->filter = subjectFilter;
  sub->stream = kHlsStream;
  sub->withHeaders = true;
  sub->handler = std::move(handler);
  sub->lastSeq = start.seq > 0 ? start.seq - 1 : 0;
  if (start.seq == 0) {
    sub->startTimeNs = std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::nanoseconds>(start.time.time_since_epoch())
               .count());
  }
  return addSub(std::move(sub));
}

std::unique_ptr<Subscription> NatsBus::addSub(std::shared_ptr<OrderedSub> sub) {
  {
    std::lock_guard lock(mu_);
    subs_.insert(sub);
  }
  try {
    if (ready()) startSub(*sub);  // otherwise the maintainer starts it once ready
  } catch (const std::exception& e) {
    spdlog::warn("bus: {}; will retry after reconnect", e.what());
    wake(false);
  }
  return std::make_unique<SubscriptionHandle>(this, std::move(sub));
}

void NatsBus::unsubscribe(const std::shared_ptr<OrderedSub>& sub) {
  {
    std::lock_guard lock(mu_);
    subs_.erase(sub);
  }
  std::lock_guard lock(sub->mu);
  sub->closed = true;
  if (sub->sub) {
    natsSubscription_Unsubscribe(sub->sub);
    natsSubscription_Destroy(sub->sub);
    sub->sub = nullptr;
  }
}

}  // namespace impl
}  // namespace amphi::bus

namespace amphi::bus {

std::unique_ptr<Bus> Bus::connect(BusOptions options, ConnectionListener listener) {
  auto bus = std::make_unique<impl::NatsBus>(std::move(options), std::move(listener));
  bus->start();
  return bus;
}

}  // namespace amphi::bus
