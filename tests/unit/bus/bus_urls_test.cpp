// --nats-url takes one server or a cluster's comma-separated list.
#include <gtest/gtest.h>

#include "bus/bus.hpp"

namespace amphi::bus {
namespace {

using Urls = std::vector<std::string>;

TEST(SplitUrls, OneServer) {
  EXPECT_EQ(splitUrls("nats://127.0.0.1:4222"), Urls{"nats://127.0.0.1:4222"});
}

TEST(SplitUrls, ClusterListWithSpacesAndEmptyItems) {
  EXPECT_EQ(splitUrls(" nats://a:4222,nats://b:4222 , ,nats://user:pw@c:4222,"),
            (Urls{"nats://a:4222", "nats://b:4222", "nats://user:pw@c:4222"}));
}

TEST(SplitUrls, NothingGiven) {
  EXPECT_TRUE(splitUrls("").empty());
  EXPECT_TRUE(splitUrls(" , ").empty());
}

}  // namespace
}  // namespace amphi::bus

namespace amphi::bus {
namespace {

TEST(RedactUrls, CredentialsNeverReachTheLog) {
  EXPECT_EQ(redactUrls("nats://s3cret@a:4222, nats://b:4222,nats://u:pw@c:4222"),
            "nats://***@a:4222,nats://b:4222,nats://***@c:4222");
}

}  // namespace
}  // namespace amphi::bus
