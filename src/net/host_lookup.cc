#include "net/host_lookup.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace weir::net {

namespace {

std::atomic<int> g_abandoned{0};

// What the lookup thread and the waiting caller share; whichever is last frees it.
struct Lookup {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  bool abandoned = false;
  int rc = 0;
  addrinfo* found = nullptr;
};

Error cannot_resolve(const std::string& host, const std::string& why) {
  return Error{"cannot resolve '" + host + "': " + why};
}

}  // namespace

int abandoned_lookups() { return g_abandoned.load(); }

Result<AddrInfoList> lookup_host(const std::string& host, const std::string& service,
                                 std::chrono::steady_clock::time_point deadline,
                                 const Resolver& resolver) {
  if (g_abandoned.load() >= kMaxAbandonedLookups) {
    return cannot_resolve(host, "too many earlier lookups still unanswered");
  }
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, host, service, resolver] {
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* found = nullptr;
      const int rc = resolver(host.c_str(), service.c_str(), &hints, &found);
      std::lock_guard lock(lookup->mutex);
      if (lookup->abandoned) {
        if (rc == 0 && found) freeaddrinfo(found);
        g_abandoned.fetch_sub(1);
        return;
      }
      lookup->rc = rc;
      lookup->found = rc == 0 ? found : nullptr;
      lookup->done = true;
      lookup->done_cv.notify_one();
    }).detach();
  } catch (const std::system_error& e) {
    return cannot_resolve(host, std::string("no thread for the lookup: ") + e.what());
  }
  std::unique_lock lock(lookup->mutex);
  if (!lookup->done_cv.wait_until(lock, deadline, [&] { return lookup->done; })) {
    lookup->abandoned = true;
    g_abandoned.fetch_add(1);
    return cannot_resolve(host, "no answer in time");
  }
  if (lookup->rc != 0) return cannot_resolve(host, gai_strerror(lookup->rc));
  if (!lookup->found) return cannot_resolve(host, "no address");
  return AddrInfoList(lookup->found);
}

}  // namespace weir::net
