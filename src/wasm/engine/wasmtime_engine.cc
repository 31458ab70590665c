// The Wasmtime Engine: Cranelift with epoch interruption, the epoch ticker, and the
// compiled-code cache in front of the compiler.
#include <spdlog/spdlog.h>
#include <valgrind/valgrind.h>
#include <wasmtime.h>

#include <chrono>

#include "wasm/engine/code_cache.h"
#include "wasm/engine/engine.h"
#include "wasm/engine/sha256.h"
#include "wasm/engine/wasmtime_engine_state.h"
#include "wasm/engine/wasmtime_module.h"
#include "wasm/engine/wasmtime_trap.h"

namespace weir::wasm {
namespace wt {
namespace {

// The epoch advances this often (or more often, for deadlines under 40 ms): a call is
// stopped between its deadline and two periods past it.
constexpr std::chrono::milliseconds kEpochPeriod{10};
// Valgrind's instrumented code runs some 50 times slower: deadlines stretch as much.
constexpr int kValgrindDeadlineMultiplier = 100;

// Everything that changes the machine code for the same module, for the code cache's
// key. (Wasmtime also refuses serialized code from another version or configuration.)
constexpr std::string_view kEngineFingerprint = "wasmtime " WASMTIME_VERSION
                                                "; cranelift, opt speed; epoch interruption; "
#if defined(__x86_64__)
                                                "x86_64"
#elif defined(__aarch64__)
                                                "aarch64"
#else
                                                "other"
#endif
    ;

class WtEngine final : public Engine {
 public:
  WtEngine(std::shared_ptr<EngineState> state, const EngineOptions& options)
      : state_(std::move(state)), cache_(options.code_cache_dir) {}

  std::string_view name() const override { return "wasmtime"; }

  Result<std::shared_ptr<const CompiledModule>> compile(std::span<const uint8_t> bytes) override {
    if (bytes.empty()) return Error{"empty module"};
    const Sha256 key =
        sha256({bytes, std::span(reinterpret_cast<const uint8_t*>(kEngineFingerprint.data()),
                                 kEngineFingerprint.size())});
    if (std::optional<std::vector<uint8_t>> cached = cache_.load(key)) {
      wasmtime_module_t* module = nullptr;
      // Sound only because the entry's checksum and key were verified (code_cache.h).
      wasmtime_error_t* error =
          wasmtime_module_deserialize(state_->engine, cached->data(), cached->size(), &module);
      if (!error) {
        auto compiled = WtCompiledModule::create(state_, module, /*from_code_cache=*/true);
        if (!compiled) return Error{compiled.error()};
        return std::shared_ptr<const CompiledModule>(std::move(*compiled));
      }
      spdlog::debug("wasm code cache: ignoring {}: {}", cache_.path_for(key),
                    take_error(error).message);
    }
    wasmtime_module_t* module = nullptr;
    if (wasmtime_error_t* error =
            wasmtime_module_new(state_->engine, bytes.data(), bytes.size(), &module)) {
      return Error{take_error(error).message};
    }
    auto compiled = WtCompiledModule::create(state_, module, /*from_code_cache=*/false);
    if (!compiled) return Error{compiled.error()};
    if (cache_.enabled()) {
      wasm_byte_vec_t serialized;
      if (wasmtime_error_t* error = wasmtime_module_serialize(module, &serialized)) {
        spdlog::warn("wasm code cache: cannot serialize a module: {}", take_error(error).message);
      } else {
        cache_.store(key,
                     std::span(reinterpret_cast<const uint8_t*>(serialized.data), serialized.size));
        wasm_byte_vec_delete(&serialized);
      }
    }
    return std::shared_ptr<const CompiledModule>(std::move(*compiled));
  }

  Result<std::shared_ptr<const LinkedModule>> link(
      std::shared_ptr<const CompiledModule> module,
      const std::vector<HostBinding>& bindings) override {
    auto wt_module = std::dynamic_pointer_cast<const WtCompiledModule>(module);
    if (!wt_module) return Error{"the module was not compiled by this engine"};
    if (wt_module->engine() != state_) return Error{"the module was compiled by another engine"};
    auto linked = WtLinkedModule::create(std::move(wt_module), bindings);
    if (!linked) return Error{linked.error()};
    return std::shared_ptr<const LinkedModule>(std::move(*linked));
  }

 private:
  std::shared_ptr<EngineState> state_;
  CodeCache cache_;
};

}  // namespace
}  // namespace wt

Result<std::unique_ptr<Engine>> create_wasmtime_engine(const EngineOptions& options) {
  auto state = std::make_shared<wt::EngineState>();
  wasm_config_t* config = wasm_config_new();
  if (!config) return Error{"cannot create a Wasmtime configuration"};
  wasmtime_config_epoch_interruption_set(config, true);
  wasmtime_config_strategy_set(config, WASMTIME_STRATEGY_CRANELIFT);
  wasmtime_config_cranelift_opt_level_set(config, WASMTIME_OPT_LEVEL_SPEED);
  state->engine = wasm_engine_new_with_config(config);  // takes the config
  if (!state->engine) return Error{"cannot create the Wasmtime engine"};
  if (RUNNING_ON_VALGRIND) {
    state->deadline_multiplier = wt::kValgrindDeadlineMultiplier;
    spdlog::info("running under valgrind: wasm call deadlines are {} times longer",
                 wt::kValgrindDeadlineMultiplier);
  }
  wasm_engine_t* engine = state->engine;
  state->ticker = std::make_unique<EpochTicker>(
      [engine] { wasmtime_engine_increment_epoch(engine); }, wt::kEpochPeriod);
  return std::unique_ptr<Engine>(std::make_unique<wt::WtEngine>(std::move(state), options));
}

}  // namespace weir::wasm
