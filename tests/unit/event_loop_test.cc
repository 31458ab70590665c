// The event loop: timers that are cancelled leave the heap, and a watch the kernel
// refuses is reported to its owner instead of being ignored.
#include "event/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
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

// Owned timers: re-armed many times, each fires once, in deadline order, and a disarmed or
// destroyed one never fires.
TEST(EventLoopOwnedTimers, FireInDeadlineOrderAndReArm) {
  EventLoop loop;
  std::vector<int> fired;
  EventLoop::Timer a(loop, [&] { fired.push_back(1); });
  EventLoop::Timer b(loop, [&] { fired.push_back(2); });
  EventLoop::Timer c(loop, [&] { fired.push_back(3); });
  auto doomed = std::make_unique<EventLoop::Timer>(loop, [&] { fired.push_back(99); });
  EventLoop::Timer disarmed(loop, [&] { fired.push_back(98); });
  EventLoop::Timer stop(loop, [&] { loop.stop(); });
  for (int i = 0; i < 1000; ++i) {
    a.arm(milliseconds(5 + i % 7));
    c.arm(milliseconds(1 + i % 3));
  }
  a.arm(milliseconds(30));  // last arm wins: later than b
  b.arm(milliseconds(20));
  c.arm(milliseconds(10));
  doomed->arm(milliseconds(15));
  disarmed.arm(milliseconds(15));
  disarmed.disarm();
  EXPECT_FALSE(disarmed.armed());
  doomed.reset();
  stop.arm(milliseconds(60));
  EXPECT_TRUE(a.armed());
  loop.run();
  EXPECT_EQ(fired, (std::vector<int>{3, 2, 1}));
  EXPECT_FALSE(a.armed());
}

TEST(EventLoopOwnedTimers, CallbackMayReArmItsOwnTimer) {
  EventLoop loop;
  int count = 0;
  std::unique_ptr<EventLoop::Timer> timer;
  timer = std::make_unique<EventLoop::Timer>(loop, [&] {
    if (++count < 3) {
      timer->arm(milliseconds(1));
    } else {
      loop.stop();
    }
  });
  timer->arm(milliseconds(1));
  loop.run();
  EXPECT_EQ(count, 3);
}

TEST(EventLoopScheduledCall, RunsOnceAfterTheCurrentWorkAndNeverAfterCancel) {
  EventLoop loop;
  int runs = 0, cancelled_runs = 0;
  EventLoop::ScheduledCall call(loop, [&] { ++runs; });
  EventLoop::ScheduledCall cancelled(loop, [&] { ++cancelled_runs; });
  call.schedule();
  call.schedule();  // already scheduled: still once
  cancelled.schedule();
  cancelled.cancel();
  {
    EventLoop::ScheduledCall destroyed(loop, [&] { ++cancelled_runs; });
    destroyed.schedule();
  }
  EXPECT_EQ(runs, 0);
  loop.run_deferred();
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(cancelled_runs, 0);
  EXPECT_FALSE(call.scheduled());
  call.schedule();  // again, as a connection does per request
  loop.run_deferred();
  EXPECT_EQ(runs, 2);
}

TEST(EventLoopDeferDelete, DestroysAfterTheCurrentWork) {
  struct Flag {
    bool& destroyed;
    ~Flag() { destroyed = true; }
  };
  EventLoop loop;
  bool destroyed = false;
  loop.defer_delete(std::make_unique<Flag>(destroyed));
  EXPECT_FALSE(destroyed);
  loop.run_deferred();
  EXPECT_TRUE(destroyed);
}

}  // namespace
}  // namespace weir::event
