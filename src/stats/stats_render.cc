#include "stats/stats_render.h"

#include <cmath>
#include <cstdio>

namespace weir::stats {

namespace {

bool keep(const StatSnapshot& s, const RenderOptions& o) {
  if (o.used_only && !s.used) return false;
  if (o.filter && !std::regex_search(s.name, *o.filter)) return false;
  return true;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string histogram_summary(const Histogram& h) {
  if (h.count() == 0) return "No recorded values";
  static constexpr double kQuantiles[] = {0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1};
  static constexpr const char* kNames[] = {"P0",  "P25",   "P50",   "P75", "P90",
                                           "P95", "P99",   "P99.5", "P99.9", "P100"};
  std::string out;
  for (size_t i = 0; i < std::size(kQuantiles); ++i) {
    // Weir keeps one cumulative histogram: the interval column repeats it.
    std::string v = format_number(h.quantile(kQuantiles[i]));
    if (i) out += ' ';
    out += std::string(kNames[i]) + "(" + v + "," + v + ")";
  }
  return out;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string render_text(const std::vector<StatSnapshot>& stats, const RenderOptions& options) {
  std::string out;
  for (const auto& s : stats) {
    if (!keep(s, options)) continue;
    out += s.name;
    out += ": ";
    if (s.type == StatType::Histogram) {
      out += histogram_summary(*s.histogram);
    } else {
      out += std::to_string(s.value);
    }
    out += '\n';
  }
  return out;
}

std::string render_json(const std::vector<StatSnapshot>& stats, const RenderOptions& options) {
  std::string out = "{\"stats\":[";
  bool first = true;
  std::string histograms;
  for (const auto& s : stats) {
    if (!keep(s, options)) continue;
    if (s.type == StatType::Histogram) {
      if (!histograms.empty()) histograms += ',';
      histograms += "{\"name\":\"" + json_escape(s.name) + "\",\"count\":" +
                    std::to_string(s.histogram->count()) +
                    ",\"sum\":" + std::to_string(s.histogram->sum()) + "}";
      continue;
    }
    if (!first) out += ',';
    first = false;
    out += "{\"name\":\"" + json_escape(s.name) + "\",\"value\":" + std::to_string(s.value) + "}";
  }
  if (!histograms.empty()) {
    if (!first) out += ',';
    out += "{\"histograms\":{\"computed_quantiles\":[" + histograms + "]}}";
  }
  out += "]}\n";
  return out;
}

}  // namespace weir::stats
