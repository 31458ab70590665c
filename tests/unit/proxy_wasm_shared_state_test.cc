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
  EXPECT_EQ(d.set("unit-vm", "k", "v1", 0), WasmResult::Ok);
  ASSERT_TRUE(d.get("unit-vm", "k", value, cas));
  EXPECT_EQ(value, "v1");
  EXPECT_NE(cas, 0u);
  EXPECT_EQ(d.set("unit-vm", "k", "v2", cas + 1), WasmResult::CasMismatch);
  EXPECT_EQ(d.set("unit-vm", "k", "v2", cas), WasmResult::Ok);
  EXPECT_EQ(d.set("unit-vm", "k", "v3", cas), WasmResult::CasMismatch);  // stale now
  ASSERT_TRUE(d.get("unit-vm", "k", value, cas));
  EXPECT_EQ(value, "v2");
  // Scoped by vm_id.
  EXPECT_FALSE(d.get("other-vm", "k", value, cas));
  // An absent key takes any cas.
  EXPECT_EQ(d.set("unit-vm", "fresh", "x", 12345), WasmResult::Ok);
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
  EXPECT_EQ(q.enqueue(token, "a"), WasmResult::Ok);
  EXPECT_EQ(q.enqueue(token, "b"), WasmResult::Ok);
  EXPECT_EQ(q.dequeue(token, item), WasmResult::Ok);
  EXPECT_EQ(item, "a");
  EXPECT_EQ(q.dequeue(token, item), WasmResult::Ok);
  EXPECT_EQ(item, "b");
  EXPECT_EQ(q.dequeue(token, item), WasmResult::Empty);
  EXPECT_EQ(q.enqueue(999999, "x"), WasmResult::NotFound);
  EXPECT_EQ(q.dequeue(999999, item), WasmResult::NotFound);
}

}  // namespace
}  // namespace weir::proxy_wasm
