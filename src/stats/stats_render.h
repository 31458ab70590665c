#pragma once
// Renders a stats snapshot in Envoy's admin formats.
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "stats/stats_store.h"

namespace weir::stats {

struct RenderOptions {
  std::optional<std::regex> filter;  // keep names that contain a match (regex_search)
  bool used_only = false;
};

// "name: value" lines sorted by name; histograms as Envoy prints their quantiles.
std::string render_text(const std::vector<StatSnapshot>& stats, const RenderOptions& options);
// {"stats":[{"name":…,"value":…},…]}
std::string render_json(const std::vector<StatSnapshot>& stats, const RenderOptions& options);

}  // namespace weir::stats
