#pragma once
// Regular expressions from configuration (routes, header matchers, stats tags) and from
// admin queries, run by RE2 as in Envoy: matching takes time linear in the input and
// never recurses on it, so a client's 30 KB path can neither crash nor stall a worker.
// std::regex does both, and is not used anywhere in weir.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace re2 {
class RE2;
}

namespace weir {

class Regex {
 public:
  // Envoy's default for the runtime key re2.max_program_size.error_level: a pattern whose
  // compiled program is larger is a configuration error.
  static constexpr uint32_t kDefaultMaxProgramSize = 100;
  // No bound on the program size (RE2's own memory budget still applies): for patterns
  // weir writes itself, and for an operator's admin queries.
  static constexpr uint32_t kUnboundedProgramSize = UINT32_MAX;

  // Fails with RE2's message for an invalid pattern, and with Envoy's wording for one whose
  // program size exceeds `max_program_size`.
  static Result<std::shared_ptr<const Regex>> compile(std::string_view pattern,
                                                      uint32_t max_program_size);

  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // The whole of `text` matches (Envoy's semantics for every safe_regex matcher).
  bool full_match(std::string_view text) const;
  // Some part of `text` matches; `groups` (when given) receives capture groups 1..n,
  // nullopt for a group that did not take part.
  bool search(std::string_view text,
              std::vector<std::optional<std::string_view>>* groups = nullptr) const;

  const std::string& pattern() const { return pattern_; }
  int program_size() const;
  int capture_groups() const;

 private:
  explicit Regex(std::string pattern, std::unique_ptr<re2::RE2> compiled);

  std::string pattern_;
  std::unique_ptr<re2::RE2> re_;
};

using RegexPtr = std::shared_ptr<const Regex>;

}  // namespace weir
