// envoy.config.metrics.v3.StatsConfig: the tag specifiers that turn parts of stat names
// into Prometheus labels.
#include "config/envoy_names.h"
#include "config/loaders.h"
#include "stats/tag_extractor.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

StatsTagConfig load_tag_specifier(const ConfigNode& specifier) {
  specifier.expect_fields(names::kTagSpecifier, {"tag_name", "regex", "fixed_value"});
  StatsTagConfig result;
  result.location = specifier.location();
  result.tag_name = specifier.required("tag_name").as_nonempty_string();
  if (specifier.has("regex") && specifier.has("fixed_value")) {
    specifier.field("fixed_value").fail("a tag specifier takes regex or fixed_value, not both");
  }
  if (specifier.has("fixed_value")) {
    result.fixed_value = specifier.field("fixed_value").as_string();
    return result;
  }
  if (specifier.has("regex")) {
    const ConfigNode regex = specifier.field("regex");
    result.regex = regex.as_nonempty_string();
    // Stat names are not client input: RE2's memory budget is the only bound.
    const RegexPtr compiled = compile_regex(regex, Regex::kUnboundedProgramSize);
    if (compiled->capture_groups() < 1) {
      regex.fail("a tag regex needs a capture group: the first one is cut from the stat name");
    }
    return result;
  }
  bool is_default = false;
  for (const auto& [name, regex] : stats::default_tag_regexes()) {
    is_default |= name == result.tag_name;
  }
  if (!is_default) {
    specifier.required("regex");  // fails: only Envoy's default tag names may omit it
  }
  return result;
}

}  // namespace

StatsConfig load_stats_config(const ConfigNode& stats_config) {
  StatsConfig result;
  if (!stats_config.present()) return result;
  stats_config.expect_fields(names::kStatsConfig, {"stats_tags", "use_all_default_tags"});
  for (const ConfigNode& specifier : stats_config.field("stats_tags").items()) {
    result.stats_tags.push_back(load_tag_specifier(specifier));
  }
  if (stats_config.has("use_all_default_tags")) {
    result.use_all_default_tags = stats_config.field("use_all_default_tags").as_bool();
  }
  return result;
}

}  // namespace weir::config
