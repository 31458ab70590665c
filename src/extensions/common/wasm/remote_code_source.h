#pragma once
// "Give me the bytes of this code source" for vm_config.code.remote: an http(s) URI fetched
// through its cluster, or an oci:// reference pulled from a registry. Cached on disk by
// sha256 (remote_code_cache.h), retried with back-off, checked against the configured
// sha256. Blocking: called at load time on the main thread. Whoever decides to load again
// (start-up, a reload) simply calls it again: a tag is then resolved again.
#include <string>

#include "common/result.h"
#include "config/config.h"
#include "stats/stats_store.h"

namespace weir::extensions::wasm {

// `stats` (may be null): Envoy's wasm.remote_load_* counters.
Result<std::string> fetch_remote_code(const config::RemoteCodeConfig& remote,
                                      stats::StatsStore* stats);

}  // namespace weir::extensions::wasm
