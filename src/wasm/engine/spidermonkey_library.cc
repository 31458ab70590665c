#include "wasm/engine/spidermonkey_library.h"

#include <js/Initialization.h>

namespace weir::wasm::sm {
namespace {

std::mutex library_mutex;
std::weak_ptr<Library> current_library;
bool initialized_once = false;  // guarded by library_mutex

}  // namespace

Result<std::shared_ptr<Library>> Library::acquire() {
  std::lock_guard lock(library_mutex);
  if (std::shared_ptr<Library> library = current_library.lock()) return library;
  // Also covers a shutdown still in progress on another thread (weak_ptr expired, ~Library
  // running): initializing now would race with it.
  if (initialized_once) {
    return Error{
        "SpiderMonkey was shut down and cannot be initialized again in this process; keep "
        "one Engine alive for the process lifetime"};
  }
  if (const char* failure = JS_InitWithFailureDiagnostic()) {
    return Error{std::string("JS_Init failed: ") + failure};
  }
  initialized_once = true;
  std::shared_ptr<Library> library(new Library());
  current_library = library;
  return library;
}

bool Library::in_use() {
  std::lock_guard lock(library_mutex);
  return !current_library.expired();
}

Library::~Library() { JS_ShutDown(); }

}  // namespace weir::wasm::sm
