#pragma once
// google.protobuf.Duration as Envoy's YAML writes it: "0.25s", "5s", "1.000000001s".
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace weir::config {

struct ProtoDuration {
  int64_t seconds = 0;
  int32_t nanos = 0;  // 0..999'999'999
};

// The largest Duration protobuf allows (10000 years), so conversions cannot overflow.
inline constexpr int64_t kMaxDurationSeconds = 315'576'000'000;

// Parses the JSON form: decimal seconds, up to 9 fractional digits, an "s" suffix.
// Negative durations and other units are refused (nullopt): Envoy refuses them too.
std::optional<ProtoDuration> parse_duration_text(std::string_view text);

// Whole milliseconds, rounding a sub-millisecond rest up: 0.0001s must not become 0,
// which weir's timeouts read as "disabled".
std::chrono::milliseconds to_milliseconds(const ProtoDuration& duration);

}  // namespace weir::config
