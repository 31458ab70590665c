#pragma once
// Measures the time a request spends inside one HTTP filter (a Wasm plugin): a wrapper
// around the filter's factory whose filters time every callback into the real filter and
// record the per-request total, in microseconds, when the stream completes.
//
// Only the stream callbacks count (headers, body, trailers, completion); work a plugin
// does on timers or HTTP call answers belongs to no single request and is not included.
#include <memory>

#include "proxy/http_filter.h"
#include "stats/stats_store.h"

namespace weir::stats {

std::unique_ptr<proxy::HttpFilterFactory> timed_filter_factory(
    std::unique_ptr<proxy::HttpFilterFactory> inner, Histogram& time_us);

}  // namespace weir::stats
