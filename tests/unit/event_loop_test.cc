// The event loop: timers that are cancelled leave the heap, and a watch the kernel
// refuses is reported to its owner instead of being ignored.
#include "event/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace weir::event {
namespace {

using std::chrono::milliseconds;

// A connection re-arms its idle timer on every event: add, cancel, add, cancel ... With
// cancelled entries left in the heap until they would have fired, 100,000 cycles made a
// heap of 100,000 entries for 10 live timers.
TEST(EventLoopTimers, CancelledTimersLeaveTheHeap) {
  EventLoop loop;
  std::vector<EventLoop::TimerId> live;
  for (int i = 0; i < 10; ++i) live.push_back(loop.add_timer(milliseconds(60000), [] {}));
  size_t largest_heap = 0;
  for (int cycle = 0; cycle < 100000; ++cycle) {
    auto& id = live[static_cast<size_t>(cycle) % live.size()];
    loop.cancel_timer(id);
    id = loop.add_timer(milliseconds(60000 + cycle), [] {});
    largest_heap = std::max(largest_heap, loop.timer_heap_size());
  }
  EXPECT_EQ(loop.live_timers(), 10u);
  EXPECT_LE(largest_heap, 2 * 10 + 64 + 1);
  for (auto id : live) loop.cancel_timer(id);
  EXPECT_EQ(loop.live_timers(), 0u);
  EXPECT_LE(loop.timer_heap_size(), 64u + 1);
}

TEST(EventLoopTimers, SurvivingTimersFireInOrderAfterCompaction) {
  EventLoop loop;
  std::vector<int> fired;
  std::vector<EventLoop::TimerId> doomed;
  for (int i = 0; i < 500; ++i) doomed.push_back(loop.add_timer(milliseconds(1), [] { FAIL(); }));
  loop.add_timer(milliseconds(30), [&] { fired.push_back(3); });
  loop.add_timer(milliseconds(10), [&] { fired.push_back(1); });
  loop.add_timer(milliseconds(20), [&] { fired.push_back(2); });
  for (auto id : doomed) loop.cancel_timer(id);  // compacts several times on the way
  EXPECT_LE(loop.timer_heap_size(), 3u + 64u + 1);
  loop.add_timer(milliseconds(40), [&] { loop.stop(); });
  loop.run();
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
}

// epoll refuses regular files (EPERM): the owner hears kWatchFailed once, after the
// current work, and never if it unwatched first.
TEST(EventLoopWatch, RefusedWatchIsReportedToItsOwner) {
  EventLoop loop;
  char path[] = "/tmp/weir-event-loop-test-XXXXXX";
  int file = mkstemp(path);
  ASSERT_GE(file, 0);
  unlink(path);
  std::vector<uint32_t> seen;
  EXPECT_FALSE(loop.watch(file, [&](uint32_t events) { seen.push_back(events); }));
  EXPECT_TRUE(seen.empty());  // not from inside watch()
  loop.run_deferred();
  EXPECT_EQ(seen, (std::vector<uint32_t>{kWatchFailed}));
  loop.run_deferred();
  EXPECT_EQ(seen.size(), 1u);

  // An owner that unwatches (is destroyed) before the report hears nothing.
  bool heard = false;
  EXPECT_FALSE(loop.watch(file, [&](uint32_t) { heard = true; }));
  loop.unwatch(file);
  loop.run_deferred();
  EXPECT_FALSE(heard);
  close(file);
}

TEST(EventLoopWatch, WatchSurvivesAStaleRegistration) {
  EventLoop loop;
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  int readable = 0;
  ASSERT_TRUE(loop.watch(pair[0], [&](uint32_t) {}));
  // The fd is closed without unwatch and its number reused by a new socket: MOD would
  // fail with ENOENT, so the loop adds it instead.
  close(pair[0]);
  int again[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, again), 0);
  ASSERT_EQ(again[0], pair[0]);
  ASSERT_TRUE(loop.watch(again[0], [&](uint32_t events) {
    if (events & kReadable) ++readable;
    loop.stop();
  }));
  ASSERT_EQ(write(again[1], "x", 1), 1);
  loop.add_timer(milliseconds(5000), [&] { loop.stop(); });
  loop.run();
  EXPECT_GE(readable, 1);
  loop.unwatch(again[0]);
  close(again[0]);
  close(again[1]);
  close(pair[1]);
}

}  // namespace
}  // namespace weir::event
