#pragma once
// A count of open connections with an optional ceiling, shared by every thread that
// accepts them: a listener's limit (Envoy's runtime key
// envoy.resource_limits.listener.<name>.connection_limit) or the global one (the overload
// manager's envoy.resource_monitors.global_downstream_max_connections).
#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>

namespace weir::net {

class ConnectionLimit {
 public:
  // Releases its connection's share when destroyed.
  class Lease {
   public:
    Lease() = default;
    explicit Lease(ConnectionLimit* limit) : limit_(limit) {}
    Lease(Lease&& other) noexcept : limit_(std::exchange(other.limit_, nullptr)) {}
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        reset();
        limit_ = std::exchange(other.limit_, nullptr);
      }
      return *this;
    }
    ~Lease() { reset(); }
    void reset() {
      if (limit_) limit_->release();
      limit_ = nullptr;
    }

   private:
    ConnectionLimit* limit_ = nullptr;
  };

  // No `max`: counts without a ceiling.
  explicit ConnectionLimit(std::optional<uint64_t> max = std::nullopt)
      : max_(max.value_or(UINT64_MAX)) {}
  ConnectionLimit(const ConnectionLimit&) = delete;
  ConnectionLimit& operator=(const ConnectionLimit&) = delete;

  // A share for one more connection, or nullopt at the ceiling.
  std::optional<Lease> try_acquire() {
    uint64_t current = active_.load(std::memory_order_relaxed);
    do {
      if (current >= max_) return std::nullopt;
    } while (!active_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
    return Lease(this);
  }
  uint64_t active() const { return active_.load(std::memory_order_relaxed); }
  uint64_t max() const { return max_; }

 private:
  void release() { active_.fetch_sub(1, std::memory_order_relaxed); }

  const uint64_t max_;
  std::atomic<uint64_t> active_{0};
};

}  // namespace weir::net
