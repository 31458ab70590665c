// The config watcher: a watched file written in place or replaced by a rename calls back
// once things settled; other files in the same directory, and unwatched ones, do not; a
// symlink on the way to a watched file being swapped (a Kubernetes ConfigMap update,
// `ln -sf`) calls back too, and keeps doing so after the swap.
#include "server/config_watcher.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace weir::server {
namespace {

using std::chrono::milliseconds;

class ConfigWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weir-watch-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write(dir_ / "envoy.yaml", "a");
    write(dir_ / "plugin.wasm", "b");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  // Runs `steps` 150 ms apart on the loop (an EventLoop runs once), each after recording
  // how many callbacks the previous step caused; returns those counts.
  std::vector<int> run_steps(event::EventLoop& loop, std::vector<std::function<void()>> steps) {
    std::vector<int> counts;
    int before = calls_;
    for (size_t i = 0; i <= steps.size(); ++i) {
      loop.add_timer(milliseconds(150 * static_cast<int>(i) + 100), [&, i] {
        counts.push_back(calls_ - before);
        before = calls_;
        if (i == steps.size()) {
          loop.stop();
        } else {
          steps[i]();
        }
      });
    }
    loop.run();
    return counts;
  }

  std::filesystem::path dir_;
  int calls_ = 0;
};

TEST_F(ConfigWatcherTest, WriteAndRenameOfWatchedFilesCallBackOnce) {
  event::EventLoop loop;
  ConfigWatcher watcher(
      loop, [this] { ++calls_; }, milliseconds(30));
  ASSERT_TRUE(watcher.watch({(dir_ / "envoy.yaml").string(), (dir_ / "plugin.wasm").string()}));
  auto counts =
      run_steps(loop, {
                          [&] { write(dir_ / "envoy.yaml", "changed in place"); },
                          [&] {
                            write(dir_ / "new.tmp", "replaced");
                            std::filesystem::rename(dir_ / "new.tmp", dir_ / "envoy.yaml");
                          },
                          [&] {  // several files changed together: one call
                            write(dir_ / "plugin.wasm", "x");
                            write(dir_ / "envoy.yaml", "y");
                            write(dir_ / "plugin.wasm", "z");
                          },
                      });
  EXPECT_EQ(counts, (std::vector<int>{0, 1, 1, 1}));
}

TEST_F(ConfigWatcherTest, OtherFilesDoNotCallBack) {
  event::EventLoop loop;
  ConfigWatcher watcher(
      loop, [this] { ++calls_; }, milliseconds(30));
  ASSERT_TRUE(watcher.watch({(dir_ / "envoy.yaml").string()}));
  auto counts = run_steps(loop, {
                                    [&] {
                                      write(dir_ / "plugin.wasm", "not watched");
                                      write(dir_ / "envoy.yaml.swp", "an editor's");
                                      std::filesystem::remove(dir_ / "envoy.yaml.swp");
                                    },
                                    [&] {  // watching another set replaces the first
                                      ASSERT_TRUE(watcher.watch({(dir_ / "plugin.wasm").string()}));
                                      write(dir_ / "envoy.yaml", "not watched now");
                                    },
                                    [&] { write(dir_ / "plugin.wasm", "watched"); },
                                });
  EXPECT_EQ(counts, (std::vector<int>{0, 0, 0, 1}));
}

TEST_F(ConfigWatcherTest, AMissingDirectoryIsNoFailure) {
  event::EventLoop loop;
  ConfigWatcher watcher(
      loop, [this] { ++calls_; }, milliseconds(30));
  EXPECT_TRUE(watcher.watch({(dir_ / "nowhere" / "plugin.wasm").string()}));
  EXPECT_EQ(run_steps(loop, {}), (std::vector<int>{0}));
}

// The layout a Kubernetes ConfigMap volume has: envoy.yaml -> ..data/envoy.yaml,
// ..data -> ..v1 (a directory). An update writes ..v2, points a new ..data_tmp symlink at
// it, renames that over ..data and deletes ..v1; no entry named envoy.yaml changes.
TEST_F(ConfigWatcherTest, AConfigMapStyleSymlinkSwapCallsBackEachTime) {
  namespace fs = std::filesystem;
  const fs::path volume = dir_ / "volume";
  fs::create_directories(volume / "..v1");
  write(volume / "..v1" / "envoy.yaml", "one");
  fs::create_directory_symlink("..v1", volume / "..data");
  fs::create_symlink("..data/envoy.yaml", volume / "envoy.yaml");
  auto swap_to = [&](const std::string& version, const std::string& old) {
    fs::create_directories(volume / version);
    write(volume / version / "envoy.yaml", version);
    fs::create_directory_symlink(version, volume / "..data_tmp");
    fs::rename(volume / "..data_tmp", volume / "..data");
    fs::remove_all(volume / old);
  };
  event::EventLoop loop;
  ConfigWatcher watcher(
      loop, [this] { ++calls_; }, milliseconds(30));
  ASSERT_TRUE(watcher.watch({(volume / "envoy.yaml").string()}));
  auto counts = run_steps(loop, {
                                    [&] { swap_to("..v2", "..v1"); },
                                    [&] { swap_to("..v3", "..v2"); },
                                    [&] { write(volume / "unrelated", "x"); },
                                    [&] { write(volume / "..v3" / "envoy.yaml", "edited"); },
                                });
  EXPECT_EQ(counts, (std::vector<int>{0, 1, 1, 0, 1}));
}

// `ln -sf other.yaml envoy.yaml`: the link is removed and created again, pointing
// elsewhere; later edits of the new target call back, edits of the old one do not.
TEST_F(ConfigWatcherTest, ARetargetedSymlinkIsFollowed) {
  namespace fs = std::filesystem;
  fs::create_directories(dir_ / "a");
  fs::create_directories(dir_ / "b");
  write(dir_ / "a" / "one.yaml", "one");
  write(dir_ / "b" / "two.yaml", "two");
  fs::create_symlink(dir_ / "a" / "one.yaml", dir_ / "link.yaml");
  event::EventLoop loop;
  ConfigWatcher watcher(
      loop, [this] { ++calls_; }, milliseconds(30));
  ASSERT_TRUE(watcher.watch({(dir_ / "link.yaml").string()}));
  auto counts =
      run_steps(loop, {
                          [&] { write(dir_ / "a" / "one.yaml", "edited"); },
                          [&] {
                            fs::remove(dir_ / "link.yaml");
                            fs::create_symlink(dir_ / "b" / "two.yaml", dir_ / "link.yaml");
                          },
                          [&] { write(dir_ / "a" / "one.yaml", "not followed"); },
                          [&] { write(dir_ / "b" / "two.yaml", "followed"); },
                      });
  EXPECT_EQ(counts, (std::vector<int>{0, 1, 1, 0, 1}));
}

// A symlink loop (a hostile or broken volume) is no hang: the watch stops following it.
TEST_F(ConfigWatcherTest, ASymlinkLoopIsNoHang) {
  namespace fs = std::filesystem;
  fs::create_symlink("loop-b.yaml", dir_ / "loop-a.yaml");
  fs::create_symlink("loop-a.yaml", dir_ / "loop-b.yaml");
  event::EventLoop loop;
  ConfigWatcher watcher(
      loop, [this] { ++calls_; }, milliseconds(30));
  ASSERT_TRUE(watcher.watch({(dir_ / "loop-a.yaml").string()}));
  auto counts = run_steps(loop, {[&] {
                            fs::remove(dir_ / "loop-b.yaml");
                            write(dir_ / "loop-b.yaml", "a file now");
                          }});
  EXPECT_EQ(counts, (std::vector<int>{0, 1}));
}

}  // namespace
}  // namespace weir::server
