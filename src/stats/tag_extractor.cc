#include "stats/tag_extractor.h"

#include <algorithm>

namespace weir::stats {

namespace {

// One dot-free name segment.
constexpr const char* kSegment = R"([^.]+)";
// Listener addresses as weir and Envoy name them: 127.0.0.1_8080, [__1]_8080.
constexpr const char* kAddress =
    R"((?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}_\d+|\[[_a-fA-F0-9]+\]_\d+))";

std::string expand(std::string regex) {
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t at = regex.find(from); at != std::string::npos;
         at = regex.find(from, at + to.size())) {
      regex.replace(at, from.size(), to);
    }
  };
  replace_all("<SEG>", kSegment);
  replace_all("<ADDRESS>", kAddress);
  return regex;
}

struct DefaultRule {
  const char* tag_name;
  const char* regex;
  const char* hint;
};

// Ordered from the most to the least specific, like Envoy's list. Only the extractors
// for stats weir (or a plugin imitating Envoy) can produce are kept.
constexpr DefaultRule kDefaultRules[] = {
    // …_rq_<3 digits>
    {"envoy.response_code", R"(_rq(_(\d{3}))$)", "_rq_"},
    // …_rq_<digit>xx
    {"envoy.response_code_class", R"(_rq_((\d))xx$)", "_rq_"},
    // http.<prefix>.user_agent.<agent>.…
    {"envoy.http_user_agent", R"(^http\.<SEG>\.user_agent\.((<SEG>)\.))", ".user_agent."},
    // vhost.<vhost>.vcluster.<vcluster>.…
    {"envoy.virtual_cluster_name", R"(^vhost\.<SEG>\.vcluster\.((<SEG>)\.))", ".vcluster."},
    // http.<prefix>.fault.<downstream cluster>.…
    {"envoy.fault_downstream_cluster", R"(^http\.<SEG>\.fault\.((<SEG>)\.))", ".fault."},
    // tcp.<prefix>.…
    {"envoy.tcp_prefix", R"(^tcp\.((<SEG>)\.))", "tcp."},
    // cluster.<name>.…
    {"envoy.cluster_name", R"(^cluster\.((<SEG>)\.))", "cluster."},
    // listener.<address>.http.<prefix>.…
    {"envoy.http_conn_manager_prefix", R"(^listener\..*?\.http\.((<SEG>)\.))", ".http."},
    // http.<prefix>.…
    {"envoy.http_conn_manager_prefix", R"(^http\.((<SEG>)\.))", "http."},
    // listener.<address>.…
    {"envoy.listener_address", R"(^listener\.((<ADDRESS>)\.))", "listener."},
    // vhost.<name>.…
    {"envoy.virtual_host", R"(^vhost\.((<SEG>)\.))", "vhost."},
    // http.<prefix>.rds.<route config>.<stat>
    {"envoy.rds_route_config", R"(^http\.<SEG>\.rds\.(([\w.-]+)\.)\w+?$)", ".rds."},
    // listener_manager.worker_<n>.…
    {"envoy.worker_id", R"(^listener_manager\.((worker_\d+)\.))", "listener_manager.worker_"},
};

// Envoy's defaults are written for RE2 (they are tested to compile); a stat name is not
// client input, so no program-size bound applies.
RegexPtr compile_default(const DefaultRule& rule) {
  auto regex = Regex::compile(expand(rule.regex), Regex::kUnboundedProgramSize);
  return regex ? *regex : nullptr;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& default_tag_regexes() {
  static const auto* const regexes = [] {
    auto* out = new std::vector<std::pair<std::string, std::string>>;
    for (const auto& rule : kDefaultRules) out->emplace_back(rule.tag_name, expand(rule.regex));
    return out;
  }();
  return *regexes;
}

std::optional<TagExtractor> TagExtractor::create(const std::vector<TagSpecifier>& specifiers,
                                                 bool use_default_tags, std::string* error) {
  TagExtractor extractor;
  auto add_defaults_named = [&](const std::string& tag_name) {
    bool found = false;
    for (const auto& rule : kDefaultRules) {
      if (tag_name != rule.tag_name) continue;
      extractor.rules_.push_back({rule.tag_name, compile_default(rule), rule.hint, {}});
      found = true;
    }
    return found;
  };
  std::vector<std::string> custom_names;
  for (const auto& spec : specifiers) {
    custom_names.push_back(spec.tag_name);
    if (spec.fixed_value) {
      extractor.rules_.push_back({spec.tag_name, nullptr, "", spec.fixed_value});
      continue;
    }
    if (spec.regex.empty()) {
      if (!add_defaults_named(spec.tag_name)) {
        if (error) *error = "no default regex for tag name \"" + spec.tag_name + "\"";
        return std::nullopt;
      }
      continue;
    }
    // Stat names come from weir and from plugins, not from clients: no program-size
    // bound beyond RE2's memory budget.
    auto regex = Regex::compile(spec.regex, Regex::kUnboundedProgramSize);
    if (!regex) {
      if (error) *error = "tag \"" + spec.tag_name + "\": " + regex.error();
      return std::nullopt;
    }
    extractor.rules_.push_back({spec.tag_name, std::move(*regex), "", std::nullopt});
  }
  if (use_default_tags) {
    for (const auto& rule : kDefaultRules) {
      if (std::find(custom_names.begin(), custom_names.end(), rule.tag_name) !=
          custom_names.end()) {
        continue;
      }
      extractor.rules_.push_back({rule.tag_name, compile_default(rule), rule.hint, {}});
    }
  }
  return extractor;
}

const TagExtractor& TagExtractor::envoy_defaults() {
  static const auto* const extractor = new TagExtractor(*create({}, true, nullptr));
  return *extractor;
}

TaggedName TagExtractor::extract(const std::string& stat_name) const {
  TaggedName out;
  std::vector<bool> cut(stat_name.size(), false);
  std::vector<std::string> seen;  // one value per tag name: the first rule that matches
  std::vector<std::optional<std::string_view>> groups;
  for (const Rule& rule : rules_) {
    if (std::find(seen.begin(), seen.end(), rule.tag_name) != seen.end()) continue;
    if (rule.fixed_value) {
      out.tags.push_back({rule.tag_name, *rule.fixed_value});
      seen.push_back(rule.tag_name);
      continue;
    }
    if (!rule.regex) continue;
    if (!rule.hint.empty() && stat_name.find(rule.hint) == std::string::npos) continue;
    if (!rule.regex->search(stat_name, &groups) || groups.empty() || !groups[0]) continue;
    const std::string_view removed = *groups[0];
    const std::string_view value = groups.size() > 1 && groups[1] ? *groups[1] : removed;
    out.tags.push_back({rule.tag_name, std::string(value)});
    seen.push_back(rule.tag_name);
    const auto begin = static_cast<size_t>(removed.data() - stat_name.data());
    for (size_t i = begin; i < begin + removed.size(); ++i) cut[i] = true;
  }
  out.name.reserve(stat_name.size());
  for (size_t i = 0; i < stat_name.size(); ++i) {
    if (!cut[i]) out.name += stat_name[i];
  }
  return out;
}

TaggedName TagExtractor::extract_cached(const std::string& stat_name) const {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (auto it = cache_.find(stat_name); it != cache_.end()) return it->second;
  }
  TaggedName tagged = extract(stat_name);
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_.emplace(stat_name, tagged);
  return tagged;
}

}  // namespace weir::stats
