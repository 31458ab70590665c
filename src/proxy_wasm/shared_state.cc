#include "proxy_wasm/shared_state.h"

#include "event/event_loop.h"
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

WasmResult SharedData::set(std::string_view vm_id, std::string_view key, std::string_view value,
                           uint32_t cas) {
  std::string k = scoped_key(vm_id, key);
  std::lock_guard lk(mu_);
  auto it = entries_.find(k);
  if (it != entries_.end() && cas != 0 && cas != it->second.cas) return WasmResult::CasMismatch;
  if (it == entries_.end()) it = entries_.emplace(std::move(k), Entry{}).first;
  it->second.value.assign(value);
  it->second.cas = next_cas_++;
  if (next_cas_ == 0) next_cas_ = 1;  // 0 means "no cas"
  return WasmResult::Ok;
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
  auto q = std::make_unique<Queue>();
  q->key = k;
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

WasmResult SharedQueues::enqueue(uint32_t token, std::string_view data) {
  std::lock_guard lk(mu_);
  if (token == 0 || token > queues_.size()) return WasmResult::NotFound;
  Queue& q = *queues_[token - 1];
  q.items.emplace_back(data);
  // Posted under the lock: forget_owner() (run before the owner's loop goes away) cannot
  // slip in between reading the loop pointer and posting to it.
  if (q.owner.loop) {
    q.owner.loop->post([vm = q.owner.vm, root_id = q.owner.root_context_id, token] {
      auto owner = vm.lock();
      if (owner) owner->on_queue_ready(root_id, token);
    });
  }
  return WasmResult::Ok;
}

WasmResult SharedQueues::dequeue(uint32_t token, std::string& out) {
  std::lock_guard lk(mu_);
  if (token == 0 || token > queues_.size()) return WasmResult::NotFound;
  Queue& q = *queues_[token - 1];
  if (q.items.empty()) return WasmResult::Empty;
  out = std::move(q.items.front());
  q.items.pop_front();
  return WasmResult::Ok;
}

void SharedQueues::forget_owner(const Vm* vm) {
  std::lock_guard lk(mu_);
  for (auto& q : queues_) {
    if (q->owner.vm_key == vm) q->owner = QueueOwner{};
  }
}

}  // namespace weir::proxy_wasm
