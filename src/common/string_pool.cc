#include "common/string_pool.h"

#include <utility>
#include <vector>

#include "common/recycled.h"

namespace weir {

namespace {

// Enough for the strings of the streams one worker has in flight at once; a string that
// grew past kMaxCapacity (a large head, a retried body) is freed rather than kept.
constexpr size_t kKeep = 32;
constexpr size_t kMaxCapacity = 16 * 1024;

struct Pool {
  std::vector<std::string> strings;
  ~Pool();
};
// Set once this thread's pool is destroyed: strings given back later are freed.
thread_local bool t_pool_gone = false;
thread_local Pool t_pool;
Pool::~Pool() { t_pool_gone = true; }

}  // namespace

std::string take_pooled_string() {
#if WEIR_RECYCLE_BLOCKS
  if (!t_pool_gone && !t_pool.strings.empty()) {
    std::string s = std::move(t_pool.strings.back());
    t_pool.strings.pop_back();
    return s;
  }
#endif
  return {};
}

void give_back_pooled_string(std::string&& s) {
#if WEIR_RECYCLE_BLOCKS
  // A short string's capacity is inside the object: nothing to keep.
  if (s.capacity() <= std::string().capacity() || s.capacity() > kMaxCapacity) return;
  if (t_pool_gone || t_pool.strings.size() >= kKeep) return;
  s.clear();
  t_pool.strings.push_back(std::move(s));
#else
  (void)s;
#endif
}

}  // namespace weir
