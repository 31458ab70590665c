#pragma once
// Per-thread reuse of the memory of objects made and destroyed on every request.
//
// `class X : public Recycled<X>` gives X an operator new/delete that keep up to `kKeep`
// freed blocks of sizeof(X) on a list of the thread that freed them and hand them out
// again. It pays where the C library's own per-thread cache does not: glibc's tcache
// takes blocks up to 1,032 bytes, and a larger object (a stream, 1.6 KB) costs a trip
// through the arena on every request. Blocks of other sizes (a subclass) go to the heap.
// Under AddressSanitizer nothing is kept, so a use after free is still caught.
#include <cstddef>
#include <new>

// GCC says it builds with AddressSanitizer by __SANITIZE_ADDRESS__; clang (the fuzz
// build) only by __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define WEIR_RECYCLE_BLOCKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEIR_RECYCLE_BLOCKS 0
#endif
#endif
#ifndef WEIR_RECYCLE_BLOCKS
#define WEIR_RECYCLE_BLOCKS 1
#endif

namespace weir {

template <typename T, size_t kKeep = 256>
class Recycled {
 public:
  static void* operator new(size_t size) {
    static_assert(sizeof(T) >= sizeof(Block));
#if WEIR_RECYCLE_BLOCKS
    FreeList& list = free_list();
    if (size == sizeof(T) && list.head) {
      Block* block = list.head;
      list.head = block->next;
      --list.count;
      return block;
    }
#endif
    return ::operator new(size);
  }

  static void operator delete(void* p, size_t size) {
#if WEIR_RECYCLE_BLOCKS
    FreeList& list = free_list();
    if (size == sizeof(T) && list.count < kKeep) {
      list.head = ::new (p) Block{list.head};
      ++list.count;
      return;
    }
#else
    (void)size;
#endif
    ::operator delete(p);  // unsized: clang offers the sized one only with -fsized-deallocation
  }

 private:
  struct Block {
    Block* next;
  };
  struct FreeList {
    Block* head = nullptr;
    size_t count = 0;
    ~FreeList() {
      while (head) {
        Block* next = head->next;
        ::operator delete(head);
        head = next;
      }
    }
  };
  static FreeList& free_list() {
    thread_local FreeList list;
    return list;
  }
};

}  // namespace weir
