// redact-body: buffers each response body and masks every match of the configured
// patterns before the client sees it. The mask keeps the length, so content-length stays
// right.
//
// Configuration ("key: value" lines): pattern (one or more), mask (one character, default *).
// A pattern matches byte by byte: '#' is any digit, '?' any byte, '\' makes the next
// character literal, anything else matches itself. Example: "####-####-####-####".
// Metric: redact_body.masked (counter: matches masked).
#include <string>
#include <vector>

#include "weir/plugin.h"

namespace {

bool matches_at(std::string_view text, size_t pos, std::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i, ++pos) {
    if (pos >= text.size()) return false;
    char p = pattern[i];
    char c = text[pos];
    if (p == '\\' && i + 1 < pattern.size()) {
      if (c != pattern[++i]) return false;
    } else if (p == '#') {
      if (c < '0' || c > '9') return false;
    } else if (p != '?' && c != p) {
      return false;
    }
  }
  return true;
}

// How many bytes `pattern` matches ('\x' counts once).
size_t match_length(std::string_view pattern) {
  size_t n = 0;
  for (size_t i = 0; i < pattern.size(); ++i, ++n) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) ++i;
  }
  return n;
}

// Masks every non-overlapping match of each pattern, left to right; returns the count.
size_t mask_all(std::string& text, const std::vector<std::string>& patterns, char mask) {
  size_t masked = 0;
  for (const std::string& pattern : patterns) {
    const size_t length = match_length(pattern);
    for (size_t pos = 0; pos + length <= text.size();) {
      if (matches_at(text, pos, pattern)) {
        text.replace(pos, length, length, mask);
        pos += length;
        ++masked;
      } else {
        ++pos;
      }
    }
  }
  return masked;
}

class RedactRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;

  bool on_configure(std::string_view configuration) override {
    auto config = weir::ConfigLines::parse(configuration);
    std::string error = config.ok() ? config.check_keys({"pattern", "mask"}) : config.error();
    patterns.clear();
    for (std::string_view p : config.all("pattern")) {
      if (!p.empty()) patterns.emplace_back(p);
    }
    std::string_view mask_text = config.get_or("mask", "*");
    if (error.empty() && patterns.empty()) error = "no 'pattern: ...' line";
    if (error.empty() && mask_text.size() != 1) error = "mask must be one character";
    if (!error.empty()) {
      LOG_ERROR("redact-body: bad configuration: ", error);
      return false;
    }
    mask = mask_text[0];
    masked = weir::Counter::define("redact_body.masked");
    return true;
  }

  std::vector<std::string> patterns;
  char mask = '*';
  weir::Counter masked;
};

class RedactHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_response_body(size_t, bool end_of_stream) override {
    // Pause = the host keeps buffering: a match may straddle two chunks.
    if (!end_of_stream) return weir::Action::Pause;
    const auto body = weir::response_body();
    weir::HostBytes bytes = body.get();
    if (!bytes) {
      LOG_ERROR("redact-body: cannot read the response body: ", bytes.status());
      return weir::Action::Continue;
    }
    RedactRoot* root = root_as<RedactRoot>();
    std::string text = bytes.str();
    if (size_t n = mask_all(text, root->patterns, root->mask); n > 0) {
      body.replace(text);
      root->masked.increment(n);
      LOG_DEBUG("redact-body: masked ", n, " match(es)");
    }
    return weir::Action::Continue;
  }
};

weir::RegisterContextFactory registration(weir::root_factory<RedactRoot>,
                                          weir::http_factory<RedactHttp>, "redact_body");

}  // namespace
