#include "common/string_pool.h"

#include <utility>

#include "common/spare_pool.h"

namespace weir {

namespace {

// A string that grew past kMaxCapacity (a large head, a retried body) is freed rather
// than kept.
constexpr size_t kMaxCapacity = 16 * 1024;
using StringSpares = SparePool<std::string>;

}  // namespace

std::string take_pooled_string() { return StringSpares::take(); }

void give_back_pooled_string(std::string&& s) {
  // A short string's capacity is inside the object: nothing to keep.
  if (s.capacity() <= std::string().capacity() || s.capacity() > kMaxCapacity) return;
  s.clear();
  StringSpares::give_back(std::move(s));
}

}  // namespace weir
