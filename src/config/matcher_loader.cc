// envoy.type.matcher.v3 RegexMatcher and StringMatcher. Regexes compile here, with RE2,
// so an invalid pattern or one over the program-size limit fails the load at its line.
#include "config/envoy_names.h"
#include "config/loaders.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

}  // namespace

RegexPtr compile_regex(const ConfigNode& pattern, std::optional<uint32_t> max_program_size) {
  LoadContext& context = pattern.context();
  const std::string text = pattern.as_nonempty_string();
  Result<RegexPtr> compiled =
      Regex::compile(text, max_program_size.value_or(context.regex_max_program_size));
  if (!compiled) pattern.fail(compiled.error());
  const RegexPtr& regex = *compiled;
  if (!max_program_size &&
      static_cast<uint64_t>(regex->program_size()) > context.regex_warn_program_size) {
    pattern.warn("regex \"" + text + "\" compiles to an RE2 program of size " +
                 std::to_string(regex->program_size()) + ", over the warning level of " +
                 std::to_string(context.regex_warn_program_size) +
                 " (runtime key re2.max_program_size.warn_level)");
  }
  return regex;
}

RegexPtr load_regex_matcher(const ConfigNode& regex_matcher) {
  regex_matcher.expect_fields(names::kRegexMatcher, {"regex", "google_re2"});
  // google_re2 names the engine (RE2 is the only one); its deprecated max_program_size
  // replaces the runtime's limit for this pattern, as in Envoy.
  const ConfigNode google_re2 = regex_matcher.field("google_re2");
  google_re2.expect_fields(names::kGoogleRe2, {"max_program_size"});
  std::optional<uint32_t> max_program_size;
  if (google_re2.has("max_program_size")) {
    max_program_size =
        static_cast<uint32_t>(google_re2.field("max_program_size").as_uint(0, UINT32_MAX));
  }
  return compile_regex(regex_matcher.required("regex"), max_program_size);
}

StringMatch load_string_matcher(const ConfigNode& string_matcher) {
  string_matcher.expect_fields(names::kStringMatcher, {"exact", "prefix", "suffix", "contains",
                                                       "safe_regex", "ignore_case"});
  int patterns = 0;
  for (std::string_view field : {"exact", "prefix", "suffix", "contains", "safe_regex", "custom"}) {
    patterns += string_matcher.has(field);
  }
  if (patterns != 1) {
    string_matcher.fail(
        "a string matcher takes exactly one of exact, prefix, suffix, contains and "
        "safe_regex");
  }
  StringMatch result;
  if (string_matcher.has("exact")) {
    result.kind = StringMatch::Kind::Exact;
    result.value = string_matcher.field("exact").as_string();
  } else if (string_matcher.has("prefix")) {
    result.kind = StringMatch::Kind::Prefix;
    result.value = string_matcher.field("prefix").as_nonempty_string();
  } else if (string_matcher.has("suffix")) {
    result.kind = StringMatch::Kind::Suffix;
    result.value = string_matcher.field("suffix").as_nonempty_string();
  } else if (string_matcher.has("contains")) {
    result.kind = StringMatch::Kind::Contains;
    result.value = string_matcher.field("contains").as_nonempty_string();
  } else {
    result.kind = StringMatch::Kind::Regex;
    result.regex = load_regex_matcher(string_matcher.field("safe_regex"));
  }
  if (string_matcher.has("ignore_case")) {
    result.ignore_case = string_matcher.field("ignore_case").as_bool();
    if (result.ignore_case && result.kind == StringMatch::Kind::Regex) {
      string_matcher.field("ignore_case")
          .fail("ignore_case has no effect on safe_regex: write (?i) in the pattern");
    }
  }
  return result;
}

}  // namespace weir::config
