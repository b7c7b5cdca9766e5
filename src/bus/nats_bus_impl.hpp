// Internal to src/bus: the nats.c implementation of Bus.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "bus/bus.hpp"

namespace amphi::bus::impl {

using Clock = std::chrono::steady_clock;

class NatsBus;

// One ordered subscription; re-created on reconnect from lastSeq + 1.
struct OrderedSub : std::enable_shared_from_this<OrderedSub> {
  NatsBus* bus = nullptr;
  std::string filter;
  const char* stream = kSignalsStream;
  bool withHeaders = false;
  int64_t startTimeNs = 0;  // used for the first start when nothing was delivered yet
  Bus::MessageHandler handler;
  std::atomic<uint64_t> lastSeq{0};
  std::mutex mu;
  natsSubscription* sub = nullptr;  // guarded by mu
  bool closed = false;              // guarded by mu
};

// The closure of one nats.c subscription; deleted by its on-complete callback.
struct SubLink {
  std::shared_ptr<OrderedSub> owner;
};

class SubscriptionHandle : public Subscription {
 public:
  SubscriptionHandle(NatsBus* bus, std::shared_ptr<OrderedSub> sub)
      : bus_(bus), sub_(std::move(sub)) {}
  ~SubscriptionHandle() override;

 private:
  NatsBus* bus_;
  std::shared_ptr<OrderedSub> sub_;
};

class NatsBus : public Bus {
 public:
  NatsBus(BusOptions options, ConnectionListener listener)
      : options_(std::move(options)), listener_(std::move(listener)) {}
  ~NatsBus() override;

  void start();
  bool ready() const override { return ready_.load(); }
  bool waitReady(std::chrono::milliseconds timeout) override;

  std::optional<KvEntry> get(Bucket bucket, const std::string& key) override;
  uint64_t create(Bucket bucket, const std::string& key, std::string_view value) override;
  uint64_t update(Bucket bucket, const std::string& key, std::string_view value,
                  uint64_t lastRevision) override;
  uint64_t put(Bucket bucket, const std::string& key, std::string_view value) override;
  std::vector<std::pair<std::string, std::string>> scan(Bucket bucket,
                                                        const std::string& pattern) override;
  uint64_t publish(const std::string& subject, std::string_view data,
                   const std::string& msgId) override;
  StreamBounds signalBounds() override;
  std::optional<StreamMessage> nextMessage(uint64_t fromSeq,
                                           const std::string& subjectFilter) override;
  std::unique_ptr<Subscription> subscribe(const std::string& subjectFilter, uint64_t startSeq,
                                          MessageHandler handler) override;

  uint64_t publishHls(const std::string& subject, std::string_view data, const Headers& headers,
                      const std::string& msgId) override;
  std::optional<StreamMessage> lastHls(const std::string& subject) override;
  std::unique_ptr<Subscription> subscribeHls(const std::string& subjectFilter, StartAt start,
                                             MessageHandler handler) override;
  std::size_t maxPayload() const override;

  void unsubscribe(const std::shared_ptr<OrderedSub>& sub);

 private:
  static void onDisconnected(natsConnection*, void* self);
  static void onReconnected(natsConnection*, void* self);
  void wake(bool lost);
  void maintain();
  uint64_t publishWithRetry(natsMsg* msg, const std::string& subject);
  void ensureStreams();
  void ensureStream(const char* name, const char* subjects, int64_t maxAgeNs,
                    int64_t maxPerSubject, int64_t duplicatesNs);
  std::unique_ptr<Subscription> addSub(std::shared_ptr<OrderedSub> sub);
  void ensureBucket(const char* name, int64_t ttlMs, kvStore** out);
  void resubscribeAll();
  void startSub(OrderedSub& sub);
  kvStore* kv(Bucket bucket) const { return bucket == Bucket::Rooms ? rooms_ : presence_; }
  jsOptions jsOpts() const;
  void setReady(bool ready);

  BusOptions options_;
  ConnectionListener listener_;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  kvStore* rooms_ = nullptr;
  kvStore* presence_ = nullptr;
  std::atomic<bool> ready_{false};
  std::atomic<bool> closing_{false};  // our own close: not worth a warning
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;          // guarded by mu_
  bool needsCheck_ = true;     // guarded by mu_
  std::set<std::shared_ptr<OrderedSub>> subs_;  // guarded by mu_
  std::thread maintainer_;
};

}  // namespace amphi::bus::impl
