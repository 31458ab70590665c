// The config watcher: a watched file written in place or replaced by a rename calls back
// once things settled; other files in the same directory, and unwatched ones, do not.
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

}  // namespace
}  // namespace weir::server
