#pragma once
// Envoy's tag extraction: a regex pulls a dynamic part out of a stat name ("cluster.
// mock.upstream_rq_total" -> name "cluster.upstream_rq_total", tag envoy.cluster_name=
// mock), so Prometheus sees one metric with labels instead of one metric per cluster.
//
// A tag regex's first capture group is cut from the name; its second (or, without one,
// the first) is the tag's value. Every extractor matches the original name, and the cuts
// of all that matched are removed together, as Envoy does.
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/regex.h"

namespace weir::stats {

struct Tag {
  std::string name;   // e.g. envoy.cluster_name
  std::string value;  // e.g. mock_service
  bool operator==(const Tag&) const = default;
};

struct TaggedName {
  std::string name;  // the stat name with every tag's text cut out
  std::vector<Tag> tags;
};

// One entry of Envoy's stats_config.stats_tags.
struct TagSpecifier {
  std::string tag_name;
  std::string regex;                       // empty with a default tag name: Envoy's regex
  std::optional<std::string> fixed_value;  // a tag with this value on every stat
};

class TagExtractor {
 public:
  // Envoy's default extractors (when `use_default_tags`), after the custom `specifiers`.
  // A custom specifier named like a default one replaces it. Fails on a bad regex.
  static std::optional<TagExtractor> create(const std::vector<TagSpecifier>& specifiers,
                                            bool use_default_tags, std::string* error);
  static const TagExtractor& envoy_defaults();

  TaggedName extract(const std::string& stat_name) const;
  // As extract(), remembering answers (stat names are few and fixed after start-up).
  TaggedName extract_cached(const std::string& stat_name) const;

  TagExtractor(const TagExtractor& other) : rules_(other.rules_) {}
  TagExtractor& operator=(const TagExtractor&) = delete;

 private:
  struct Rule {
    std::string tag_name;
    RegexPtr regex;    // null for a fixed value
    std::string hint;  // a substring the name must contain for the regex to be tried
    std::optional<std::string> fixed_value;
  };
  TagExtractor() = default;

  std::vector<Rule> rules_;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, TaggedName> cache_;
};

// Envoy's default tag names and their regexes (well_known_names in Envoy).
const std::vector<std::pair<std::string, std::string>>& default_tag_regexes();

}  // namespace weir::stats
