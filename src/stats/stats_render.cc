#include "stats/stats_render.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace weir::stats {

namespace {

constexpr double kQuantiles[] = {0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1};
constexpr const char* kQuantileNames[] = {"P0",  "P25", "P50",   "P75",   "P90",
                                          "P95", "P99", "P99.5", "P99.9", "P100"};
constexpr const char* kSupportedQuantilesJson = "[0,25,50,75,90,95,99,99.5,99.9,100]";

bool keep(const StatSnapshot& s, const RenderOptions& o) {
  if (o.used_only && !s.used) return false;
  if (o.filter && !o.filter->search(s.name)) return false;
  return true;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string json_number(double v) { return std::isnan(v) ? "null" : format_number(v); }

std::string histogram_summary(const Histogram& h) {
  HistogramData cumulative = h.cumulative();
  if (cumulative.count() == 0) return "No recorded values";
  HistogramData interval = h.interval();
  std::string out;
  for (size_t i = 0; i < std::size(kQuantiles); ++i) {
    if (i) out += ' ';
    out += kQuantileNames[i];
    out += '(' + format_number(interval.quantile(kQuantiles[i])) + ',' +
           format_number(cumulative.quantile(kQuantiles[i])) + ')';
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

std::string label_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
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
    out +=
        s.type == StatType::Histogram ? histogram_summary(*s.histogram) : std::to_string(s.value);
    out += '\n';
  }
  return out;
}

std::string render_json(const std::vector<StatSnapshot>& stats, const RenderOptions& options) {
  std::string out = "{\"stats\":[";
  bool first = true;
  std::string histograms;
  bool any_histogram = false;
  for (const auto& s : stats) {
    if (!keep(s, options)) continue;
    if (s.type == StatType::Histogram) {
      if (any_histogram) histograms += ',';
      any_histogram = true;
      HistogramData cumulative = s.histogram->cumulative();
      HistogramData interval = s.histogram->interval();
      histograms += "{\"name\":\"" + json_escape(s.name) + "\",\"values\":[";
      for (size_t i = 0; i < std::size(kQuantiles); ++i) {
        if (i) histograms += ',';
        histograms += "{\"interval\":" + json_number(interval.quantile(kQuantiles[i])) +
                      ",\"cumulative\":" + json_number(cumulative.quantile(kQuantiles[i])) + "}";
      }
      histograms += "]}";
      continue;
    }
    if (!first) out += ',';
    first = false;
    out += "{\"name\":\"" + json_escape(s.name) + "\",\"value\":" + std::to_string(s.value) + "}";
  }
  if (any_histogram) {
    if (!first) out += ',';
    out += std::string("{\"histograms\":{\"supported_quantiles\":") + kSupportedQuantilesJson +
           ",\"computed_quantiles\":[" + histograms + "]}}";
  }
  out += "]}\n";
  return out;
}

std::string prometheus_sanitize(const std::string& name) {
  std::string out;
  out.reserve(name.size() + 1);
  if (!name.empty() && name[0] >= '0' && name[0] <= '9') out += '_';
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out += ok ? c : '_';
  }
  return out;
}

namespace {

// One Prometheus metric family: every stat whose tag-extracted name is `name`.
struct Family {
  StatType type;
  std::vector<std::pair<std::string, const StatSnapshot*>> series;  // labels, stat
};

std::string labels_of(const std::vector<Tag>& tags) {
  std::string out;
  for (const auto& tag : tags) {
    if (!out.empty()) out += ',';
    out += prometheus_sanitize(tag.name) + "=\"" + label_escape(tag.value) + '"';
  }
  return out;
}

std::string with_label(const std::string& labels, const std::string& extra) {
  return labels.empty() ? extra : labels + ',' + extra;
}

}  // namespace

std::string render_prometheus(const std::vector<StatSnapshot>& stats, const RenderOptions& options,
                              const TagExtractor& tags) {
  // Envoy's order: counters, then gauges, then histograms; families sorted by name.
  std::map<std::string, Family> by_type[3];
  for (const auto& s : stats) {
    if (!keep(s, options)) continue;
    TaggedName tagged = tags.extract_cached(s.name);
    std::string name = (s.plugin_defined ? "" : "envoy_") + prometheus_sanitize(tagged.name);
    auto& families = by_type[static_cast<int>(s.type)];
    // A name another type already holds would be a second "# TYPE" line: Prometheus
    // refuses the whole scrape then, so the later one is left out.
    bool taken = false;
    for (int t = 0; t < 3; ++t) {
      if (t != static_cast<int>(s.type) && by_type[t].contains(name)) taken = true;
    }
    if (taken) continue;
    auto [it, inserted] = families.try_emplace(name, Family{s.type, {}});
    it->second.series.emplace_back(labels_of(tagged.tags), &s);
  }
  std::string out;
  for (const char* kind : {"counter", "gauge"}) {
    const auto& families = by_type[kind[0] == 'c' ? 0 : 1];
    for (const auto& [name, family] : families) {
      out += "# TYPE " + name + ' ' + kind + '\n';
      for (const auto& [labels, stat] : family.series) {
        out.append(name).append("{").append(labels).append("} ");
        out.append(std::to_string(stat->value)).append("\n");
      }
    }
  }
  for (const auto& [name, family] : by_type[2]) {
    out += "# TYPE " + name + " histogram\n";
    for (const auto& [labels, stat] : family.series) {
      HistogramData data = stat->histogram->cumulative();
      auto cumulative = data.cumulative();
      for (size_t i = 0; i < Histogram::kBounds.size(); ++i) {
        out += name + "_bucket{" +
               with_label(labels, "le=\"" + format_number(Histogram::kBounds[i]) + '"') + "} " +
               std::to_string(cumulative[i]) + '\n';
      }
      out += name + "_bucket{" + with_label(labels, "le=\"+Inf\"") + "} " +
             std::to_string(cumulative.back()) + '\n';
      out.append(name).append("_sum{").append(labels).append("} ");
      out.append(std::to_string(data.sum)).append("\n");
      out.append(name).append("_count{").append(labels).append("} ");
      out.append(std::to_string(cumulative.back())).append("\n");
    }
  }
  return out;
}

}  // namespace weir::stats
