#pragma once
// The only state plugins share across workers: shared data (key/value with
// compare-and-swap) and shared queues, both process-wide and keyed by vm_id, as in Envoy.
// Each takes one mutex; no call into Wasm happens while it is held.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy_wasm/plugin_limits.h"
#include "proxy_wasm/types.h"
#include "proxy_wasm/worker_services.h"

namespace weir::proxy_wasm {

class Vm;

// The outcome of writing shared state; Full is a bound reached (the host function picks
// the status the plugin gets, see docs/ABI.md).
enum class SharedWrite : uint8_t { Ok, NotFound, CasMismatch, Full };

class SharedData {
 public:
  static SharedData& instance();

  // Copies the value and its cas out; false when the key is absent.
  bool get(std::string_view vm_id, std::string_view key, std::string& value, uint32_t& cas);
  // cas 0 sets unconditionally; a nonzero cas that is not the key's current one is
  // CasMismatch (an absent key takes any cas, as in Envoy). Full when the vm_id's data
  // would grow past `max_bytes` (keys, values and kEntryOverheadBytes per key); a set that
  // does not grow it always succeeds (an empty value is how plugins "delete", as the ABI
  // has no removal).
  SharedWrite set(std::string_view vm_id, std::string_view key, std::string_view value,
                  uint32_t cas, uint64_t max_bytes = PluginLimits{}.max_shared_data_bytes);
  // What the data of `vm_id` counts against max_bytes now.
  uint64_t bytes(std::string_view vm_id);
  // The host's bookkeeping per key, counted so that many small keys cannot use much
  // more memory than the bound says.
  static constexpr uint64_t kEntryOverheadBytes = 64;

 private:
  struct Entry {
    std::string value;
    uint32_t cas = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;      // vm_id '\0' key
  std::map<std::string, uint64_t, std::less<>> bytes_;  // by vm_id
  uint32_t next_cas_ = 1;
};

// Who is woken when a queue gets an item: a root context of a VM on one worker.
struct QueueOwner {
  std::shared_ptr<WorkerScheduler> scheduler;  // nullptr: nobody to wake (a start-up trial VM)
  std::weak_ptr<Vm> vm;                        // locked only on the owner's thread
  const Vm* vm_key = nullptr;                  // identity, for forget_owner()
  uint32_t root_context_id = 0;
  // The owner's bounds (its vm_config.weir_limits): items waiting, and their bytes.
  uint32_t max_items = PluginLimits{}.max_shared_queue_items;
  uint64_t max_bytes = PluginLimits{}.max_shared_data_bytes;
};

class SharedQueues {
 public:
  static SharedQueues& instance();

  // Registers (or re-registers: the latest owner wins, as in Envoy) the queue `name` of
  // `vm_id`; returns its token, or 0 when a new queue's name does not fit in the owner's
  // max_bytes (names of all the vm_id's queues and their queued items count together).
  uint32_t register_queue(std::string_view vm_id, std::string_view name, QueueOwner owner);
  std::optional<uint32_t> resolve(std::string_view vm_id, std::string_view name);
  // Appends and posts proxy_on_queue_ready to the owner's loop. NotFound: unknown token;
  // Full: the queue holds the owner's max_items items, or the vm_id's queues hold
  // max_bytes bytes (names and items), already.
  SharedWrite enqueue(uint32_t token, std::string_view data);
  // EMPTY when there is nothing; NOT_FOUND: unknown token.
  WasmResult dequeue(uint32_t token, std::string& out);
  // The VM is going away: its queues keep their items and tokens but wake nobody.
  void forget_owner(const Vm* vm);

  // What registering a queue charges against max_bytes: its name (kept twice) and this.
  static constexpr uint64_t kQueueOverheadBytes = 128;

 private:
  struct Queue {
    std::string key;  // vm_id '\0' name
    QueueOwner owner;
    std::deque<std::string> items;
    uint64_t bytes = 0;               // of the items
    uint64_t* vm_id_bytes = nullptr;  // in bytes_: all queues of the vm_id, names and items
  };
  std::mutex mu_;
  std::vector<std::unique_ptr<Queue>> queues_;  // token - 1
  std::unordered_map<std::string, uint32_t> tokens_;
  std::map<std::string, uint64_t, std::less<>> bytes_;  // by vm_id (node-based: stable)
};

}  // namespace weir::proxy_wasm
