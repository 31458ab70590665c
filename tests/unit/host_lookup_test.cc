// Host lookups within a deadline: a resolver that never answers costs the caller its
// deadline, not the resolver's timeout; abandoned lookups are counted, bounded, and free
// their answer when they finish.
#include "net/host_lookup.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace weir::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A resolver that answers (with the real getaddrinfo) only once released.
class HeldResolver {
 public:
  Resolver resolver() {
    return [this](const char* host, const char* service, const addrinfo* hints, addrinfo** found) {
      std::unique_lock lock(mutex_);
      released_cv_.wait(lock, [&] { return released_; });
      return ::getaddrinfo(host, service, hints, found);
    };
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    released_cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_cv_;
  bool released_ = false;
};

void wait_until_no_abandoned_lookup() {
  const auto give_up = steady_clock::now() + std::chrono::seconds(10);
  while (abandoned_lookups() > 0 && steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(abandoned_lookups(), 0);
}

TEST(HostLookupTest, ANumericHostResolves) {
  auto found = lookup_host("127.0.0.1", "8080", steady_clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(found.ok()) << found.error();
  const addrinfo* first = found.value().get();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->ai_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(first->ai_addr)->sin_port), 8080);
}

TEST(HostLookupTest, TheResolversErrorIsSaid) {
  Resolver refusing = [](const char*, const char*, const addrinfo*, addrinfo**) {
    return EAI_NONAME;
  };
  auto found =
      lookup_host("nowhere.invalid", "80", steady_clock::now() + milliseconds(500), refusing);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error(),
            std::string("cannot resolve 'nowhere.invalid': ") + gai_strerror(EAI_NONAME));
}

TEST(HostLookupTest, AResolverThatDoesNotAnswerCostsTheDeadline) {
  HeldResolver held;
  const auto start = steady_clock::now();
  auto found = lookup_host("localhost", "80", start + milliseconds(100), held.resolver());
  const auto waited = steady_clock::now() - start;
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error(), "cannot resolve 'localhost': no answer in time");
  EXPECT_GE(waited, milliseconds(100));
  EXPECT_LT(waited, std::chrono::seconds(5));  // not the resolver's time: it never answers
  EXPECT_EQ(abandoned_lookups(), 1);
  held.release();  // the abandoned thread finishes and frees its answer (LeakSanitizer)
  wait_until_no_abandoned_lookup();
}

TEST(HostLookupTest, AbandonedLookupsAreBounded) {
  HeldResolver held;
  for (int i = 0; i < kMaxAbandonedLookups; ++i) {
    auto found =
        lookup_host("localhost", "80", steady_clock::now() + milliseconds(1), held.resolver());
    ASSERT_FALSE(found.ok());
  }
  EXPECT_EQ(abandoned_lookups(), kMaxAbandonedLookups);
  auto refused = lookup_host("127.0.0.1", "80", steady_clock::now() + std::chrono::seconds(5));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(),
            "cannot resolve '127.0.0.1': too many earlier lookups still unanswered");
  held.release();
  wait_until_no_abandoned_lookup();
  EXPECT_TRUE(lookup_host("127.0.0.1", "80", steady_clock::now() + std::chrono::seconds(5)).ok());
}

}  // namespace
}  // namespace weir::net
