#pragma once
// SpiderMonkey's process-wide state: JS_Init on first use, JS_ShutDown when the last holder
// lets go. Everything that needs SpiderMonkey alive (engines, thread contexts, compiled
// modules) holds a reference, so JS_ShutDown runs last whatever order they die in.
#include <memory>
#include <mutex>

#include "common/result.h"

namespace weir::wasm::sm {

class Library {
 public:
  // Fails once SpiderMonkey was shut down: it cannot be initialized twice in one process
  // (JS_Init after JS_ShutDown crashes on first use).
  static Result<std::shared_ptr<Library>> acquire();
  // Whether SpiderMonkey is initialized and held by anyone now (for tests).
  static bool in_use();

  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library();

  // SpiderMonkey wants contexts created one at a time (the first one, at least).
  std::mutex& context_creation_mutex() { return context_creation_mutex_; }

 private:
  Library() = default;
  std::mutex context_creation_mutex_;
};

}  // namespace weir::wasm::sm
