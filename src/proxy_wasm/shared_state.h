#pragma once
// The only state plugins share across workers: shared data (key/value with
// compare-and-swap) and shared queues, both process-wide and keyed by vm_id, as in Envoy.
// Each takes one mutex; no call into Wasm happens while it is held.
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy_wasm/types.h"

namespace weir::event {
class EventLoop;
}

namespace weir::proxy_wasm {

class Vm;

class SharedData {
 public:
  static SharedData& instance();

  // Copies the value and its cas out; false when the key is absent.
  bool get(std::string_view vm_id, std::string_view key, std::string& value, uint32_t& cas);
  // cas 0 sets unconditionally; a nonzero cas that is not the key's current one is
  // CAS_MISMATCH (an absent key takes any cas, as in Envoy).
  WasmResult set(std::string_view vm_id, std::string_view key, std::string_view value,
                 uint32_t cas);

 private:
  struct Entry {
    std::string value;
    uint32_t cas = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // vm_id '\0' key
  uint32_t next_cas_ = 1;
};

// Who is woken when a queue gets an item: a root context of a VM on one worker's loop.
struct QueueOwner {
  event::EventLoop* loop = nullptr;  // nullptr: nobody to wake (a start-up trial VM)
  std::weak_ptr<Vm> vm;              // locked only on the owner's thread
  const Vm* vm_key = nullptr;        // identity, for forget_owner()
  uint32_t root_context_id = 0;
};

class SharedQueues {
 public:
  static SharedQueues& instance();

  // Registers (or re-registers: the latest owner wins, as in Envoy) the queue `name` of
  // `vm_id`; returns its token (never 0).
  uint32_t register_queue(std::string_view vm_id, std::string_view name, QueueOwner owner);
  std::optional<uint32_t> resolve(std::string_view vm_id, std::string_view name);
  // Appends and posts proxy_on_queue_ready to the owner's loop. NOT_FOUND: unknown token.
  WasmResult enqueue(uint32_t token, std::string_view data);
  // EMPTY when there is nothing; NOT_FOUND: unknown token.
  WasmResult dequeue(uint32_t token, std::string& out);
  // The VM is going away: its queues keep their items and tokens but wake nobody.
  void forget_owner(const Vm* vm);

 private:
  struct Queue {
    std::string key;  // vm_id '\0' name
    QueueOwner owner;
    std::deque<std::string> items;
  };
  std::mutex mu_;
  std::vector<std::unique_ptr<Queue>> queues_;  // token - 1
  std::unordered_map<std::string, uint32_t> tokens_;
};

}  // namespace weir::proxy_wasm
