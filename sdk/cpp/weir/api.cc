// Host helpers of the weir C++ plugin SDK: thin typed wrappers over weir/abi.h.
#include "weir/abi.h"
#include "weir/plugin.h"

namespace weir {
namespace {

Status st(uint32_t raw) { return static_cast<Status>(raw); }

HostBytes take(uint32_t raw, char* data, size_t size) {
  if (st(raw) != Status::Ok) {
    std::free(data);
    return HostBytes(st(raw));
  }
  return HostBytes(data, size);
}

}  // namespace

// ---- Logging

void log(LogLevel level, std::string_view message) {
  proxy_log(static_cast<uint32_t>(level), message.data(), message.size());
}

LogLevel log_level() {
  uint32_t level = 0;
  if (st(proxy_get_log_level(&level)) != Status::Ok) return LogLevel::Trace;
  return static_cast<LogLevel>(level);
}

// ---- Configuration

HostBytes get_vm_configuration() { return get_buffer(BufferType::VmConfiguration); }
HostBytes get_plugin_configuration() { return get_buffer(BufferType::PluginConfiguration); }

// ---- Header maps

HeaderPairs::HeaderPairs(HostBytes raw) : raw_(std::move(raw)) {
  if (raw_.ok() && !sdk::parse_header_map(raw_.view(), pairs_)) {
    raw_ = HostBytes(Status::ParseFailure);
  }
}

std::optional<std::string_view> HeaderPairs::get(std::string_view name) const {
  for (const auto& [k, v] : pairs_) {
    if (k == name) return v;
  }
  return std::nullopt;
}

HostBytes Headers::get(std::string_view name) const {
  char* data = nullptr;
  size_t size = 0;
  uint32_t r = proxy_get_header_map_value(static_cast<uint32_t>(type_), name.data(), name.size(),
                                          &data, &size);
  return take(r, data, size);
}

Status Headers::add(std::string_view name, std::string_view value) const {
  return st(proxy_add_header_map_value(static_cast<uint32_t>(type_), name.data(), name.size(),
                                       value.data(), value.size()));
}

Status Headers::replace(std::string_view name, std::string_view value) const {
  return st(proxy_replace_header_map_value(static_cast<uint32_t>(type_), name.data(), name.size(),
                                           value.data(), value.size()));
}

Status Headers::remove(std::string_view name) const {
  return st(proxy_remove_header_map_value(static_cast<uint32_t>(type_), name.data(), name.size()));
}

HeaderPairs Headers::pairs() const {
  char* data = nullptr;
  size_t size = 0;
  uint32_t r = proxy_get_header_map_pairs(static_cast<uint32_t>(type_), &data, &size);
  return HeaderPairs(take(r, data, size));
}

Status Headers::set_pairs(const std::vector<HeaderPair>& pairs) const {
  std::string raw = sdk::serialize_header_map(pairs);
  return st(proxy_set_header_map_pairs(static_cast<uint32_t>(type_), raw.data(), raw.size()));
}

std::optional<size_t> Headers::byte_size() const {
  size_t size = 0;
  if (st(proxy_get_header_map_size(static_cast<uint32_t>(type_), &size)) != Status::Ok) {
    return std::nullopt;
  }
  return size;
}

// ---- Buffers

HostBytes get_buffer(BufferType type, size_t start, size_t max_size) {
  char* data = nullptr;
  size_t size = 0;
  uint32_t r = proxy_get_buffer_bytes(static_cast<uint32_t>(type), start, max_size, &data, &size);
  return take(r, data, size);
}

Status set_buffer(BufferType type, size_t start, size_t length, std::string_view data) {
  return st(
      proxy_set_buffer_bytes(static_cast<uint32_t>(type), start, length, data.data(), data.size()));
}

std::optional<size_t> buffer_size(BufferType type) {
  size_t size = 0;
  uint32_t flags = 0;
  if (st(proxy_get_buffer_status(static_cast<uint32_t>(type), &size, &flags)) != Status::Ok) {
    return std::nullopt;
  }
  return size;
}

// Replace and append use the buffered size the host reports: start 0 / length = size, and
// start = size, are what every host (Envoy included) reads as "all" and "at the end".
Status Body::replace(std::string_view data) const {
  auto size = buffer_size(type_);
  if (!size) return Status::NotFound;
  return set_buffer(type_, 0, *size, data);
}

Status Body::append(std::string_view data) const {
  auto size = buffer_size(type_);
  if (!size) return Status::NotFound;
  return set_buffer(type_, *size, 0, data);
}

// ---- Stream control

Status continue_request() {
  return st(proxy_continue_stream(static_cast<uint32_t>(StreamType::HttpRequest)));
}
Status continue_response() {
  return st(proxy_continue_stream(static_cast<uint32_t>(StreamType::HttpResponse)));
}
Status close_request() {
  return st(proxy_close_stream(static_cast<uint32_t>(StreamType::HttpRequest)));
}
Status close_response() {
  return st(proxy_close_stream(static_cast<uint32_t>(StreamType::HttpResponse)));
}
Status continue_downstream() {
  return st(proxy_continue_stream(static_cast<uint32_t>(StreamType::Downstream)));
}
Status continue_upstream() {
  return st(proxy_continue_stream(static_cast<uint32_t>(StreamType::Upstream)));
}
Status close_downstream() {
  return st(proxy_close_stream(static_cast<uint32_t>(StreamType::Downstream)));
}
Status close_upstream() {
  return st(proxy_close_stream(static_cast<uint32_t>(StreamType::Upstream)));
}

Status send_local_response(uint32_t status_code, std::string_view body,
                           const std::vector<HeaderPair>& headers, std::string_view details,
                           int32_t grpc_status) {
  std::string raw = sdk::serialize_header_map(headers);
  return st(proxy_send_local_response(status_code, details.data(), details.size(), body.data(),
                                      body.size(), raw.data(), raw.size(), grpc_status));
}

// ---- Properties

HostBytes get_property(PropertyPath path) {
  std::string p = sdk::property_path(path);
  char* data = nullptr;
  size_t size = 0;
  uint32_t r = proxy_get_property(p.data(), p.size(), &data, &size);
  return take(r, data, size);
}

std::optional<std::string> get_property_string(PropertyPath path) {
  HostBytes b = get_property(path);
  if (!b) return std::nullopt;
  return b.str();
}

std::optional<int64_t> get_property_int64(PropertyPath path) {
  HostBytes b = get_property(path);
  if (!b) return std::nullopt;
  return sdk::decode_int64(b.view());
}

std::optional<bool> get_property_bool(PropertyPath path) {
  HostBytes b = get_property(path);
  if (!b) return std::nullopt;
  return sdk::decode_bool(b.view());
}

Status set_property(PropertyPath path, std::string_view value) {
  std::string p = sdk::property_path(path);
  return st(proxy_set_property(p.data(), p.size(), value.data(), value.size()));
}

Status set_property_int64(PropertyPath path, int64_t value) {
  return set_property(path, sdk::encode_int64(value));
}

// ---- Time and timers

uint64_t current_time_ns() {
  uint64_t t = 0;
  if (st(proxy_get_current_time_nanoseconds(&t)) != Status::Ok) return 0;
  return t;
}

Status set_tick_period_ms(uint32_t period_ms) {
  return st(proxy_set_tick_period_milliseconds(period_ms));
}

// ---- Metrics

std::optional<uint32_t> define_metric(MetricType type, std::string_view name) {
  uint32_t id = 0;
  if (st(proxy_define_metric(static_cast<uint32_t>(type), name.data(), name.size(), &id)) !=
      Status::Ok) {
    return std::nullopt;
  }
  return id;
}

namespace {
std::optional<uint64_t> metric_value(bool valid, uint32_t id) {
  uint64_t v = 0;
  if (!valid || st(proxy_get_metric(id, &v)) != Status::Ok) return std::nullopt;
  return v;
}
}  // namespace

Counter Counter::define(std::string_view name) {
  Counter c;
  if (auto id = define_metric(MetricType::Counter, name)) {
    c.id_ = *id;
    c.valid_ = true;
  }
  return c;
}
Status Counter::increment(uint64_t by) const {
  if (!valid_) return Status::BadArgument;
  return st(proxy_increment_metric(id_, static_cast<int64_t>(by)));
}
std::optional<uint64_t> Counter::value() const { return metric_value(valid_, id_); }

Gauge Gauge::define(std::string_view name) {
  Gauge g;
  if (auto id = define_metric(MetricType::Gauge, name)) {
    g.id_ = *id;
    g.valid_ = true;
  }
  return g;
}
Status Gauge::set(uint64_t value) const {
  if (!valid_) return Status::BadArgument;
  return st(proxy_record_metric(id_, value));
}
Status Gauge::add(int64_t delta) const {
  if (!valid_) return Status::BadArgument;
  return st(proxy_increment_metric(id_, delta));
}
std::optional<uint64_t> Gauge::value() const { return metric_value(valid_, id_); }

Histogram Histogram::define(std::string_view name) {
  Histogram h;
  if (auto id = define_metric(MetricType::Histogram, name)) {
    h.id_ = *id;
    h.valid_ = true;
  }
  return h;
}
Status Histogram::record(uint64_t value) const {
  if (!valid_) return Status::BadArgument;
  return st(proxy_record_metric(id_, value));
}

// ---- Shared data and queues

SharedData get_shared_data(std::string_view key) {
  char* data = nullptr;
  size_t size = 0;
  uint32_t cas = 0;
  uint32_t r = proxy_get_shared_data(key.data(), key.size(), &data, &size, &cas);
  SharedData out;
  out.value = take(r, data, size);
  out.cas = out.value.ok() ? cas : 0;
  return out;
}

Status set_shared_data(std::string_view key, std::string_view value, uint32_t cas) {
  return st(proxy_set_shared_data(key.data(), key.size(), value.data(), value.size(), cas));
}

std::optional<uint32_t> register_shared_queue(std::string_view name) {
  uint32_t id = 0;
  if (st(proxy_register_shared_queue(name.data(), name.size(), &id)) != Status::Ok) {
    return std::nullopt;
  }
  return id;
}

std::optional<uint32_t> resolve_shared_queue(std::string_view vm_id, std::string_view name) {
  uint32_t id = 0;
  if (st(proxy_resolve_shared_queue(vm_id.data(), vm_id.size(), name.data(), name.size(), &id)) !=
      Status::Ok) {
    return std::nullopt;
  }
  return id;
}

Status enqueue_shared_queue(uint32_t queue_id, std::string_view data) {
  return st(proxy_enqueue_shared_queue(queue_id, data.data(), data.size()));
}

HostBytes dequeue_shared_queue(uint32_t queue_id) {
  char* data = nullptr;
  size_t size = 0;
  uint32_t r = proxy_dequeue_shared_queue(queue_id, &data, &size);
  return take(r, data, size);
}

Status set_effective_context(uint32_t context_id) {
  return st(proxy_set_effective_context(context_id));
}

}  // namespace weir
