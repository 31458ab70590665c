#pragma once
// A per-thread stack of spare containers, for objects whose buffers would otherwise be
// allocated and freed on every request (a header map's fields, a response head, a stream's
// filter list). give_back() keeps a container, in whatever state the caller left it, if
// fewer than kKeep are kept; take() hands the last one back out, or an empty one. What a
// kept container may hold is bounded by its users. Under AddressSanitizer nothing is kept
// (see recycled.h), so a use after free is still caught.
#include <cstddef>
#include <utility>
#include <vector>

#include "common/recycled.h"

namespace weir {

template <typename Container, size_t kKeep = 32>
class SparePool {
 public:
  static Container take() {
#if WEIR_RECYCLE_BLOCKS
    if (!gone() && !spares().kept.empty()) {
      Container c = std::move(spares().kept.back());
      spares().kept.pop_back();
      return c;
    }
#endif
    return Container{};
  }

  static void give_back(Container&& c) {
#if WEIR_RECYCLE_BLOCKS
    if (gone() || spares().kept.size() >= kKeep) return;
    spares().kept.push_back(std::move(c));
#else
    (void)c;
#endif
  }

 private:
  struct Spares {
    std::vector<Container> kept;
    ~Spares() { gone() = true; }
  };
  // Set once this thread's spares are destroyed: a container given back later (a static
  // destroyed at exit) is freed instead.
  static bool& gone() {
    thread_local bool flag = false;
    return flag;
  }
  static Spares& spares() {
    thread_local Spares s;
    return s;
  }
};

}  // namespace weir
