#pragma once
// Renders a stats snapshot in Envoy's admin formats.
#include <optional>
#include <string>
#include <vector>

#include "common/regex.h"
#include "stats/stats_store.h"
#include "stats/tag_extractor.h"

namespace weir::stats {

struct RenderOptions {
  RegexPtr filter;  // when set, keep the names that contain a match
  bool used_only = false;
};

// One line per stat, sorted by name: "name: value", histograms as
// "name: P0(interval,cumulative) … P100(…)" or "name: No recorded values".
std::string render_text(const std::vector<StatSnapshot>& stats, const RenderOptions& options);
// {"stats":[{"name":…,"value":…},…,{"histograms":{"supported_quantiles":[…],
//  "computed_quantiles":[{"name":…,"values":[{"interval":…,"cumulative":…},…]}]}}]}
std::string render_json(const std::vector<StatSnapshot>& stats, const RenderOptions& options);
// Prometheus text exposition format 0.0.4: tags from `tags`, "envoy_" before built-in
// names, none before plugin-defined ones.
std::string render_prometheus(const std::vector<StatSnapshot>& stats, const RenderOptions& options,
                              const TagExtractor& tags);

// Every character outside [a-zA-Z0-9_] becomes '_' (and a leading digit gets one too).
std::string prometheus_sanitize(const std::string& name);

}  // namespace weir::stats
