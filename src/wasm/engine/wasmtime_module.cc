#include "wasm/engine/wasmtime_module.h"

#include <array>
#include <map>
#include <optional>
#include <string_view>

#include "wasm/engine/function_type.h"
#include "wasm/engine/wasmtime_host_function.h"
#include "wasm/engine/wasmtime_instance.h"
#include "wasm/engine/wasmtime_trap.h"

namespace weir::wasm::wt {

namespace {

std::string to_string(const wasm_name_t* name) {
  return name && name->data ? std::string(name->data, name->size) : std::string();
}

// Compared with types of its own, never asked wasm_valtype_kind(): the C API aborts the
// process on a kind it has no number for (v128, GC references), and the module is hostile.
std::optional<ValType> to_val_type(const wasm_valtype_t* type) {
  struct Known {
    wasm_valtype_t* type;
    ValType ours;
  };
  static const std::array<Known, 4> known = {
      Known{wasm_valtype_new(WASM_I32), ValType::I32},
      Known{wasm_valtype_new(WASM_I64), ValType::I64},
      Known{wasm_valtype_new(WASM_F32), ValType::F32},
      Known{wasm_valtype_new(WASM_F64), ValType::F64},
  };
  for (const Known& k : known) {
    if (wasmtime_wasm_valtype_equal(type, k.type)) return k.ours;
  }
  return std::nullopt;  // v128, references: nothing the host passes
}

std::optional<FunctionType> to_function_type(const wasm_functype_t* type) {
  FunctionType out;
  const wasm_valtype_vec_t* params = wasm_functype_params(type);
  for (size_t i = 0; i < params->size; ++i) {
    std::optional<ValType> t = to_val_type(params->data[i]);
    if (!t) return std::nullopt;
    out.params.push_back(*t);
  }
  const wasm_valtype_vec_t* results = wasm_functype_results(type);
  for (size_t i = 0; i < results->size; ++i) {
    std::optional<ValType> t = to_val_type(results->data[i]);
    if (!t) return std::nullopt;
    out.results.push_back(*t);
  }
  return out;
}

wasm_valkind_t to_kind(ValType type) {
  switch (type) {
    case ValType::I32:
      return WASM_I32;
    case ValType::I64:
      return WASM_I64;
    case ValType::F32:
      return WASM_F32;
    case ValType::F64:
      return WASM_F64;
  }
  return WASM_I32;
}

wasm_functype_t* make_functype(const FunctionType& type) {
  auto vec = [](const std::vector<ValType>& types) {
    wasm_valtype_vec_t out;
    wasm_valtype_vec_new_uninitialized(&out, types.size());
    for (size_t i = 0; i < types.size(); ++i) out.data[i] = wasm_valtype_new(to_kind(types[i]));
    return out;
  };
  wasm_valtype_vec_t params = vec(type.params);
  wasm_valtype_vec_t results = vec(type.results);
  return wasm_functype_new(&params, &results);
}

std::string_view kind_name(wasm_externkind_t kind) {
  switch (kind) {
    case WASM_EXTERN_FUNC:
      return "function";
    case WASM_EXTERN_GLOBAL:
      return "global";
    case WASM_EXTERN_TABLE:
      return "table";
    case WASM_EXTERN_MEMORY:
      return "memory";
    default:
      return "tag";
  }
}

}  // namespace

// ---------------------------------------------------------------- WtCompiledModule

Result<std::shared_ptr<const WtCompiledModule>> WtCompiledModule::create(
    std::shared_ptr<EngineState> engine, wasmtime_module_t* module, bool from_code_cache) {
  std::shared_ptr<WtCompiledModule> compiled(
      new WtCompiledModule(std::move(engine), module, from_code_cache));
  if (Status types = compiled->read_types(); !types) return Error{types.error()};
  return std::shared_ptr<const WtCompiledModule>(std::move(compiled));
}

WtCompiledModule::~WtCompiledModule() { wasmtime_module_delete(module_); }

Status WtCompiledModule::read_types() {
  wasm_importtype_vec_t imports;
  wasmtime_module_imports(module_, &imports);
  std::optional<std::string> problem;
  for (size_t i = 0; i < imports.size && !problem; ++i) {
    const wasm_importtype_t* import = imports.data[i];
    std::string module_name = to_string(wasm_importtype_module(import));
    std::string name = to_string(wasm_importtype_name(import));
    std::string qualified = std::string(module_name).append(".").append(name);
    const wasm_externtype_t* type = wasm_importtype_type(import);
    const wasm_externkind_t kind = wasm_externtype_kind(type);
    if (kind == WASM_EXTERN_MEMORY) {
      problem =
          "module imports its memory (" + qualified + "); it must define and export it instead";
    } else if (kind != WASM_EXTERN_FUNC) {
      problem = "module imports a " + std::string(kind_name(kind)) + " (" + qualified +
                "); only functions can be imported";
    } else if (std::optional<FunctionType> ft =
                   to_function_type(wasm_externtype_as_functype_const(type))) {
      imports_.push_back(FunctionImport{std::move(module_name), std::move(name), std::move(*ft)});
    } else {
      problem =
          "module imports " + qualified + " with a type the host cannot call (v128 or references)";
    }
  }
  wasm_importtype_vec_delete(&imports);
  if (problem) return Error{*problem};

  // One host function serves every import of a name, so they need one type.
  std::map<std::pair<std::string_view, std::string_view>, const FunctionType*> seen;
  for (const FunctionImport& import : imports_) {
    auto [it, inserted] = seen.try_emplace({import.module, import.name}, &import.type);
    if (!inserted && !same_type(*it->second, import.type)) {
      return Error{"module imports " + import.module + "." + import.name +
                   " twice with different types"};
    }
  }

  wasm_exporttype_vec_t exports;
  wasmtime_module_exports(module_, &exports);
  for (size_t i = 0; i < exports.size; ++i) {
    const wasm_exporttype_t* exported = exports.data[i];
    std::string name = to_string(wasm_exporttype_name(exported));
    const wasm_externtype_t* type = wasm_exporttype_type(exported);
    switch (wasm_externtype_kind(type)) {
      case WASM_EXTERN_FUNC:
        // Functions with types the host cannot pass are left out: they are not callable.
        if (std::optional<FunctionType> ft =
                to_function_type(wasm_externtype_as_functype_const(type))) {
          exports_.push_back(FunctionExport{std::move(name), std::move(*ft)});
        }
        break;
      case WASM_EXTERN_MEMORY:
        // Proxy-Wasm's memory is "memory"; a module exporting it under another name gets
        // its first exported memory used.
        if (memory_export_.empty() || name == "memory") {
          const wasm_memorytype_t* memory = wasm_externtype_as_memorytype_const(type);
          initial_memory_pages_ = static_cast<uint32_t>(wasmtime_memorytype_minimum(memory));
          memory_export_ = std::move(name);
        }
        break;
      default:
        break;
    }
  }
  wasm_exporttype_vec_delete(&exports);
  return Ok{};
}

const FunctionExport* WtCompiledModule::find_export(std::string_view name) const {
  for (const FunctionExport& exported : exports_) {
    if (exported.name == name) return &exported;
  }
  return nullptr;
}

// ---------------------------------------------------------------- WtLinkedModule

Result<std::shared_ptr<const WtLinkedModule>> WtLinkedModule::create(
    std::shared_ptr<const WtCompiledModule> module, const std::vector<HostBinding>& bindings) {
  std::shared_ptr<WtLinkedModule> linked(new WtLinkedModule(std::move(module)));
  linked->linker_ = wasmtime_linker_new(linked->module_->engine()->engine);
  std::map<std::pair<std::string_view, std::string_view>, const HostBinding*> by_name;
  for (const HostBinding& binding : bindings) {
    by_name.try_emplace({binding.module, binding.name}, &binding);
  }

  std::map<std::pair<std::string_view, std::string_view>, bool> defined;
  for (const FunctionImport& import : linked->module_->function_imports()) {
    const std::string qualified = import.module + "." + import.name;
    if (!defined.try_emplace({import.module, import.name}, true).second) continue;
    auto it = by_name.find({import.module, import.name});
    if (it == by_name.end() || !it->second->function) {
      return Error{"no host function for the import " + qualified};
    }
    const HostBinding& binding = *it->second;
    if (!same_type(binding.type, import.type)) {
      return Error{"the import " + qualified + " is declared " + to_string(import.type) +
                   " but bound to a host function of type " + to_string(binding.type)};
    }
    auto bound = std::make_unique<BoundHostFunction>(
        BoundHostFunction{binding.function, binding.type, qualified});
    wasm_functype_t* type = make_functype(binding.type);
    wasmtime_error_t* error = wasmtime_linker_define_func_unchecked(
        linked->linker_, import.module.data(), import.module.size(), import.name.data(),
        import.name.size(), type, &host_function_trampoline, bound.get(), nullptr);
    wasm_functype_delete(type);
    if (error) return Error{"binding " + qualified + ": " + take_error(error).message};
    linked->functions_.push_back(std::move(bound));
  }
  wasmtime_error_t* error = wasmtime_linker_instantiate_pre(
      linked->linker_, linked->module_->handle(), &linked->instance_pre_);
  if (error) return Error{take_error(error).message};
  return std::shared_ptr<const WtLinkedModule>(std::move(linked));
}

WtLinkedModule::~WtLinkedModule() {
  if (instance_pre_) wasmtime_instance_pre_delete(instance_pre_);
  if (linker_) wasmtime_linker_delete(linker_);
}

Result<std::unique_ptr<Instance>> WtLinkedModule::instantiate(void* host_data,
                                                              const InstanceLimits& limits) const {
  return WtInstance::create(shared_from_this(), host_data, limits);
}

}  // namespace weir::wasm::wt
