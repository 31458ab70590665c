#include "common/regex.h"

#include <re2/re2.h>

namespace weir {

Regex::Regex(std::string pattern, std::unique_ptr<re2::RE2> compiled)
    : pattern_(std::move(pattern)), re_(std::move(compiled)) {}

Regex::~Regex() = default;

Result<std::shared_ptr<const Regex>> Regex::compile(std::string_view pattern,
                                                    uint32_t max_program_size) {
  // Quiet: RE2 would otherwise log a bad pattern to stderr itself; the caller reports it.
  auto compiled =
      std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), RE2::Quiet);
  if (!compiled->ok()) {
    return Error{"invalid regex \"" + std::string(pattern) + "\": " + compiled->error()};
  }
  const int size = compiled->ProgramSize();
  if (size < 0 || static_cast<uint64_t>(size) > max_program_size) {
    return Error{"regex \"" + std::string(pattern) + "\" compiles to an RE2 program of size " +
                 std::to_string(size) + ", over the limit of " + std::to_string(max_program_size) +
                 " (runtime key re2.max_program_size.error_level): simplify the pattern or raise "
                 "the limit"};
  }
  return std::shared_ptr<const Regex>(new Regex(std::string(pattern), std::move(compiled)));
}

bool Regex::full_match(std::string_view text) const {
  return re2::RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

bool Regex::search(std::string_view text,
                   std::vector<std::optional<std::string_view>>* groups) const {
  const re2::StringPiece input(text.data(), text.size());
  if (!groups) return re_->Match(input, 0, input.size(), RE2::UNANCHORED, nullptr, 0);
  const int count = 1 + re_->NumberOfCapturingGroups();
  std::vector<re2::StringPiece> submatches(static_cast<size_t>(count));
  if (!re_->Match(input, 0, input.size(), RE2::UNANCHORED, submatches.data(), count)) {
    return false;
  }
  groups->clear();
  for (int i = 1; i < count; ++i) {
    const re2::StringPiece& group = submatches[static_cast<size_t>(i)];
    if (group.data() == nullptr) {
      groups->push_back(std::nullopt);
    } else {
      groups->push_back(std::string_view(group.data(), group.size()));
    }
  }
  return true;
}

int Regex::program_size() const { return re_->ProgramSize(); }

int Regex::capture_groups() const { return re_->NumberOfCapturingGroups(); }

}  // namespace weir
