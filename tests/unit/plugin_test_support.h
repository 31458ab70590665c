#pragma once
// What the unit tests that run real plugins share: one Wasmtime engine for the whole test
// binary (made before the first test, dropped after the last), a log sink that keeps the
// lines it is given, and a shell command's output for building test plugins.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "wasm/engine/engine.h"

namespace weir::test_support {

class SharedEngineEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto e = wasm::create_wasmtime_engine();
    ASSERT_TRUE(e.ok()) << e.error();
    engine_ = std::move(e.value());
  }
  void TearDown() override { engine_.reset(); }
  static wasm::Engine& engine() { return *engine_; }

 private:
  static inline std::unique_ptr<wasm::Engine> engine_;
};
// (An inline variable: one environment however many test files include this.)
[[maybe_unused]] inline ::testing::Environment* const kSharedEngineEnvironment =
    ::testing::AddGlobalTestEnvironment(new SharedEngineEnvironment);

inline wasm::Engine& test_engine() { return SharedEngineEnvironment::engine(); }

// Keeps every log line's message.
class LogLines : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  size_t count(std::string_view s) {
    size_t n = 0;
    for (const auto& line : lines()) n += line.find(s) != std::string::npos;
    return n;
  }
  bool contains(std::string_view s) { return count(s) > 0; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

// `cmd`'s output (stderr too), prefixed with "FAILED(status): " when it fails.
inline std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  if (rc != 0) out = "FAILED(" + std::to_string(rc) + "): " + out;
  return out;
}

}  // namespace weir::test_support
