#pragma once
// A host name looked up within a deadline. getaddrinfo has no timeout of its own (the
// resolver's, from resolv.conf, can add up to half a minute), so the lookup runs on a
// thread of its own and is abandoned at the deadline: the caller gets an error at once,
// and the thread frees its answer whenever the resolver gives up. At most
// kMaxAbandonedLookups may be pending that way; past that, lookups fail at once rather
// than pile up threads behind a resolver that never answers.
#include <netdb.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"

namespace weir::net {

struct AddrInfoFree {
  void operator()(addrinfo* list) const { freeaddrinfo(list); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoFree>;

// getaddrinfo's signature: tests put a resolver that hangs in its place.
using Resolver = std::function<int(const char* host, const char* service, const addrinfo* hints,
                                   addrinfo** found)>;

inline constexpr int kMaxAbandonedLookups = 16;

// Addresses for `host`:`service` (TCP), or why there are none: "cannot resolve 'HOST':
// REASON" (REASON "no answer in time" at the deadline).
Result<AddrInfoList> lookup_host(const std::string& host, const std::string& service,
                                 std::chrono::steady_clock::time_point deadline,
                                 const Resolver& resolver = ::getaddrinfo);

// Lookups abandoned at their deadline whose thread has not finished yet.
int abandoned_lookups();

}  // namespace weir::net
