#include "proxy_wasm/shared_state.h"

#include "proxy_wasm/vm.h"

namespace weir::proxy_wasm {

namespace {
std::string scoped_key(std::string_view vm_id, std::string_view key) {
  std::string k;
  k.reserve(vm_id.size() + 1 + key.size());
  k.append(vm_id);
  k.push_back('\0');
  k.append(key);
  return k;
}
}  // namespace

// ---------------------------------------------------------------- shared data

SharedData& SharedData::instance() {
  static SharedData d;
  return d;
}

bool SharedData::get(std::string_view vm_id, std::string_view key, std::string& value,
                     uint32_t& cas) {
  const std::string k = scoped_key(vm_id, key);
  std::lock_guard lk(mu_);
  auto it = entries_.find(k);
  if (it == entries_.end()) return false;
  value.assign(it->second.value);
  cas = it->second.cas;
  return true;
}

SharedWrite SharedData::set(std::string_view vm_id, std::string_view key, std::string_view value,
                            uint32_t cas, uint64_t max_bytes) {
  std::string k = scoped_key(vm_id, key);
  std::lock_guard lk(mu_);
  auto it = entries_.find(k);
  if (it != entries_.end() && cas != 0 && cas != it->second.cas) return SharedWrite::CasMismatch;
  auto used = bytes_.find(vm_id);
  if (used == bytes_.end()) used = bytes_.emplace(std::string(vm_id), 0).first;
  const uint64_t before =
      it == entries_.end() ? 0 : key.size() + it->second.value.size() + kEntryOverheadBytes;
  const uint64_t after = key.size() + value.size() + kEntryOverheadBytes;
  if (after > before && used->second - before + after > max_bytes) return SharedWrite::Full;
  if (it == entries_.end()) it = entries_.emplace(std::move(k), Entry{}).first;
  it->second.value.assign(value);
  if (value.size() < it->second.value.capacity() / 2) it->second.value.shrink_to_fit();
  used->second = used->second - before + after;
  it->second.cas = next_cas_++;
  if (next_cas_ == 0) next_cas_ = 1;  // 0 means "no cas"
  return SharedWrite::Ok;
}

uint64_t SharedData::bytes(std::string_view vm_id) {
  std::lock_guard lk(mu_);
  auto it = bytes_.find(vm_id);
  return it == bytes_.end() ? 0 : it->second;
}

// ---------------------------------------------------------------- shared queues

SharedQueues& SharedQueues::instance() {
  static SharedQueues q;
  return q;
}

uint32_t SharedQueues::register_queue(std::string_view vm_id, std::string_view name,
                                      QueueOwner owner) {
  std::string k = scoped_key(vm_id, name);
  std::lock_guard lk(mu_);
  if (auto it = tokens_.find(k); it != tokens_.end()) {
    queues_[it->second - 1]->owner = std::move(owner);
    return it->second;
  }
  // A queue's name stays for good: it counts against the vm_id's bytes, so that a plugin
  // cannot grow the host by registering ever more queues.
  uint64_t& used = bytes_[std::string(vm_id)];
  const uint64_t cost = 2 * k.size() + kQueueOverheadBytes;  // the name is kept twice
  if (used + cost > owner.max_bytes) return 0;
  used += cost;
  auto q = std::make_unique<Queue>();
  q->key = k;
  q->vm_id_bytes = &used;
  q->owner = std::move(owner);
  queues_.push_back(std::move(q));
  const auto token = static_cast<uint32_t>(queues_.size());
  tokens_.emplace(std::move(k), token);
  return token;
}

std::optional<uint32_t> SharedQueues::resolve(std::string_view vm_id, std::string_view name) {
  const std::string k = scoped_key(vm_id, name);
  std::lock_guard lk(mu_);
  auto it = tokens_.find(k);
  if (it == tokens_.end()) return std::nullopt;
  return it->second;
}

SharedWrite SharedQueues::enqueue(uint32_t token, std::string_view data) {
  std::lock_guard lk(mu_);
  if (token == 0 || token > queues_.size()) return SharedWrite::NotFound;
  Queue& q = *queues_[token - 1];
  if (q.items.size() >= q.owner.max_items || *q.vm_id_bytes + data.size() > q.owner.max_bytes) {
    return SharedWrite::Full;
  }
  q.items.emplace_back(data);
  q.bytes += data.size();
  *q.vm_id_bytes += data.size();
  // Posted under the lock: forget_owner() (run before the owner's worker goes away)
  // cannot slip in between reading the scheduler and posting to it.
  if (q.owner.scheduler) {
    q.owner.scheduler->post([vm = q.owner.vm, root_id = q.owner.root_context_id, token] {
      auto owner = vm.lock();
      if (owner) owner->on_queue_ready(root_id, token);
    });
  }
  return SharedWrite::Ok;
}

WasmResult SharedQueues::dequeue(uint32_t token, std::string& out) {
  std::lock_guard lk(mu_);
  if (token == 0 || token > queues_.size()) return WasmResult::NotFound;
  Queue& q = *queues_[token - 1];
  if (q.items.empty()) return WasmResult::Empty;
  out.assign(q.items.front());  // into the caller's buffer, keeping its capacity
  q.bytes -= q.items.front().size();
  *q.vm_id_bytes -= q.items.front().size();
  q.items.pop_front();
  return WasmResult::Ok;
}

void SharedQueues::forget_owner(const Vm* vm) {
  std::lock_guard lk(mu_);
  for (auto& q : queues_) {
    if (q->owner.vm_key == vm) {
      // Nobody to wake; the bounds stay.
      q->owner.scheduler.reset();
      q->owner.vm.reset();
      q->owner.vm_key = nullptr;
      q->owner.root_context_id = 0;
    }
  }
}

}  // namespace weir::proxy_wasm
