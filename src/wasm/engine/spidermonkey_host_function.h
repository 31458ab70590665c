#pragma once
// The JS functions a Wasm instance imports: each calls one HostFunction, converting the
// arguments and result by the import's declared type.
#include <jsapi.h>

#include "wasm/engine/spidermonkey_instance.h"

namespace weir::wasm::sm {

// A new JS function that calls `import` (which must outlive it); nullptr on failure, with
// an exception pending.
JSObject* new_host_function(JSContext* cx, HostImport& import);

}  // namespace weir::wasm::sm
