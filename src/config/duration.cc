#include "config/duration.h"

#include <cctype>

namespace weir::config {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<ProtoDuration> parse_duration_text(std::string_view text) {
  if (text.size() < 2 || text.back() != 's') return std::nullopt;
  text.remove_suffix(1);

  ProtoDuration duration;
  size_t i = 0;
  if (!is_digit(text[0])) return std::nullopt;  // also refuses a sign
  for (; i < text.size() && is_digit(text[i]); ++i) {
    duration.seconds = duration.seconds * 10 + (text[i] - '0');
    if (duration.seconds > kMaxDurationSeconds) return std::nullopt;
  }
  if (i == text.size()) return duration;

  if (text[i] != '.') return std::nullopt;
  ++i;
  const size_t fraction_start = i;
  int32_t scale = 100'000'000;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    if (scale == 0) return std::nullopt;  // more than nanosecond precision
    duration.nanos += (text[i] - '0') * scale;
    scale /= 10;
  }
  if (i == fraction_start || i != text.size()) return std::nullopt;
  return duration;
}

std::chrono::milliseconds to_milliseconds(const ProtoDuration& duration) {
  constexpr int32_t kNanosPerMilli = 1'000'000;
  int64_t millis = duration.seconds * 1000 + duration.nanos / kNanosPerMilli;
  if (duration.nanos % kNanosPerMilli != 0) ++millis;
  return std::chrono::milliseconds(millis);
}

}  // namespace weir::config
