#pragma once
// Measures the time a request spends inside one HTTP filter (a Wasm plugin): a wrapper
// around the filter's factory whose filters time every callback into the real filter and
// record the per-request total, in microseconds, when the stream completes.
//
// Only the stream callbacks count (headers, body, trailers, completion); work a plugin
// does on timers or HTTP call answers belongs to no single request and is not included.
// Cheap enough to stay on: two reads of the vDSO monotonic clock per callback, one
// histogram record per request.
#include <memory>

#include "proxy/http_filter.h"
#include "stats/stats_store.h"

namespace weir::extensions {

std::unique_ptr<proxy::HttpFilterFactory> timed_filter_factory(
    std::unique_ptr<proxy::HttpFilterFactory> inner, stats::Histogram& time_us);

}  // namespace weir::extensions
