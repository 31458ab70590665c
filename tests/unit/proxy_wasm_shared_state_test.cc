// Shared data (compare-and-swap) and shared queues: the process-wide state plugins share.
#include <gtest/gtest.h>

#include "proxy_wasm/shared_state.h"

namespace weir::proxy_wasm {
namespace {

TEST(SharedDataTest, CompareAndSwapFollowsEnvoy) {
  SharedData& d = SharedData::instance();
  std::string value;
  uint32_t cas = 0;
  EXPECT_FALSE(d.get("unit-vm", "k", value, cas));
  EXPECT_EQ(d.set("unit-vm", "k", "v1", 0), SharedWrite::Ok);
  ASSERT_TRUE(d.get("unit-vm", "k", value, cas));
  EXPECT_EQ(value, "v1");
  EXPECT_NE(cas, 0u);
  EXPECT_EQ(d.set("unit-vm", "k", "v2", cas + 1), SharedWrite::CasMismatch);
  EXPECT_EQ(d.set("unit-vm", "k", "v2", cas), SharedWrite::Ok);
  EXPECT_EQ(d.set("unit-vm", "k", "v3", cas), SharedWrite::CasMismatch);  // stale now
  ASSERT_TRUE(d.get("unit-vm", "k", value, cas));
  EXPECT_EQ(value, "v2");
  // Scoped by vm_id.
  EXPECT_FALSE(d.get("other-vm", "k", value, cas));
  // An absent key takes any cas.
  EXPECT_EQ(d.set("unit-vm", "fresh", "x", 12345), SharedWrite::Ok);
}

TEST(SharedQueuesTest, RegisterResolveEnqueueDequeue) {
  SharedQueues& q = SharedQueues::instance();
  EXPECT_FALSE(q.resolve("unit-vm", "events").has_value());
  uint32_t token = q.register_queue("unit-vm", "events", QueueOwner{});
  EXPECT_NE(token, 0u);
  EXPECT_EQ(q.register_queue("unit-vm", "events", QueueOwner{}), token);  // same queue
  EXPECT_EQ(q.resolve("unit-vm", "events"), token);
  EXPECT_FALSE(q.resolve("other-vm", "events").has_value());
  std::string item;
  EXPECT_EQ(q.dequeue(token, item), WasmResult::Empty);
  EXPECT_EQ(q.enqueue(token, "a"), SharedWrite::Ok);
  EXPECT_EQ(q.enqueue(token, "b"), SharedWrite::Ok);
  EXPECT_EQ(q.dequeue(token, item), WasmResult::Ok);
  EXPECT_EQ(item, "a");
  EXPECT_EQ(q.dequeue(token, item), WasmResult::Ok);
  EXPECT_EQ(item, "b");
  EXPECT_EQ(q.dequeue(token, item), WasmResult::Empty);
  EXPECT_EQ(q.enqueue(999999, "x"), SharedWrite::NotFound);
  EXPECT_EQ(q.dequeue(999999, item), WasmResult::NotFound);
}

TEST(SharedDataTest, BytesPerVmIdAreBoundedAndShrinkingAlwaysSucceeds) {
  SharedData& d = SharedData::instance();
  constexpr uint64_t kOverhead = SharedData::kEntryOverheadBytes;
  const uint64_t max = 2 * (1 + 100 + kOverhead);  // two 1-byte keys with 100-byte values
  const std::string hundred(100, 'v');
  EXPECT_EQ(d.set("bounded-vm", "a", hundred, 0, max), SharedWrite::Ok);
  EXPECT_EQ(d.set("bounded-vm", "b", hundred, 0, max), SharedWrite::Ok);
  EXPECT_EQ(d.bytes("bounded-vm"), max);
  // A third key, or a longer value, would pass the bound.
  EXPECT_EQ(d.set("bounded-vm", "c", "", 0, max), SharedWrite::Full);
  EXPECT_EQ(d.set("bounded-vm", "a", hundred + "x", 0, max), SharedWrite::Full);
  std::string value;
  uint32_t cas = 0;
  EXPECT_FALSE(d.get("bounded-vm", "c", value, cas));
  ASSERT_TRUE(d.get("bounded-vm", "a", value, cas));
  EXPECT_EQ(value, hundred);  // unchanged
  // Replacing with the same size or less always works, also over a lowered bound.
  EXPECT_EQ(d.set("bounded-vm", "a", std::string(100, 'w'), 0, max), SharedWrite::Ok);
  EXPECT_EQ(d.set("bounded-vm", "a", "", 0, 1), SharedWrite::Ok);  // the "delete" idiom
  EXPECT_EQ(d.bytes("bounded-vm"), max - 100);
  // The 100 bytes freed take a new key: 1 + 35 + the overhead.
  EXPECT_EQ(d.set("bounded-vm", "c", std::string(36, 'c'), 0, max), SharedWrite::Full);
  EXPECT_EQ(d.set("bounded-vm", "c", std::string(35, 'c'), 0, max), SharedWrite::Ok);
  EXPECT_EQ(d.bytes("bounded-vm"), max);
  // Other vm_ids have their own budget.
  EXPECT_EQ(d.set("other-bounded-vm", "a", hundred, 0, max), SharedWrite::Ok);
}

TEST(SharedQueuesTest, ItemsAndBytesAreBoundedByTheOwner) {
  SharedQueues& q = SharedQueues::instance();
  QueueOwner owner;
  owner.max_items = 3;
  // 10 bytes of items, beside what the queue's name costs ("bounded-vm" '\0' "jobs", twice).
  owner.max_bytes = 10 + 2 * 15 + SharedQueues::kQueueOverheadBytes;
  uint32_t token = q.register_queue("bounded-vm", "jobs", owner);
  ASSERT_NE(token, 0u);
  EXPECT_EQ(q.enqueue(token, "1234"), SharedWrite::Ok);
  EXPECT_EQ(q.enqueue(token, "5678"), SharedWrite::Ok);
  EXPECT_EQ(q.enqueue(token, "abc"), SharedWrite::Full);  // 11 bytes
  EXPECT_EQ(q.enqueue(token, "ab"), SharedWrite::Ok);     // 10 bytes, 3 items
  EXPECT_EQ(q.enqueue(token, ""), SharedWrite::Full);     // a 4th item
  std::string item;
  EXPECT_EQ(q.dequeue(token, item), WasmResult::Ok);
  EXPECT_EQ(item, "1234");
  EXPECT_EQ(q.enqueue(token, "wxyz"), SharedWrite::Ok);  // room again
  // The owner going away keeps the bounds.
  q.forget_owner(nullptr);
  EXPECT_EQ(q.enqueue(token, "z"), SharedWrite::Full);
}

TEST(SharedQueuesTest, QueueNamesCountAgainstTheBytesOfTheVmId) {
  // Found by the host-call fuzzer: a plugin registering queue after queue under new, long
  // names grew the host without bound (names stay for good).
  SharedQueues& q = SharedQueues::instance();
  QueueOwner owner;
  owner.max_bytes = 64 * 1024;
  const std::string long_name(10000, 'n');
  int registered = 0;
  for (int i = 0; i < 1000; ++i) {
    if (q.register_queue("names-vm", std::to_string(i) + long_name, owner) == 0) break;
    ++registered;
  }
  EXPECT_EQ(registered, 3);  // 3 * (2 * 10010 + 128) fit in 64 KiB, a 4th does not
  // A known queue is still found and re-registered; items count against what is left.
  uint32_t first = q.register_queue("names-vm", "0" + long_name, owner);
  EXPECT_NE(first, 0u);
  EXPECT_EQ(q.enqueue(first, std::string(5000, 'x')), SharedWrite::Ok);
  EXPECT_EQ(q.enqueue(first, std::string(5000, 'x')), SharedWrite::Full);
  // Other vm_ids have their own budget.
  EXPECT_NE(q.register_queue("names-other-vm", long_name, owner), 0u);
}

}  // namespace
}  // namespace weir::proxy_wasm
