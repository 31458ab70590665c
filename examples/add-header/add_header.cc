// add-header: sets the response headers listed in the plugin configuration, one
// "header: <name>: <value>" line each (see envoy.yaml). A bad configuration fails the load.
#include <string>
#include <utility>
#include <vector>

#include "weir/plugin.h"

namespace {

class AddHeaderRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;

  bool on_configure(std::string_view configuration) override {
    std::string error = parse(configuration);
    if (!error.empty()) {
      LOG_ERROR("add-header: bad configuration: ", error);
      return false;  // the plugin does not load, and weir says why
    }
    LOG_INFO("add-header: setting ", headers.size(), " response header(s)");
    return true;
  }

  std::vector<std::pair<std::string, std::string>> headers;

 private:
  std::string parse(std::string_view configuration) {
    auto config = weir::ConfigLines::parse(configuration);
    if (!config.ok()) return config.error();
    if (auto unknown = config.check_keys({"header"}); !unknown.empty()) return unknown;
    headers.clear();
    for (std::string_view line : config.all("header")) {
      size_t colon = line.find(':');
      std::string_view name = weir::sdk::trim(line.substr(0, colon));
      if (colon == std::string_view::npos || name.empty()) {
        return weir::str_cat("expected 'header: <name>: <value>', got 'header: ", line, "'");
      }
      std::string lower(name);  // header names travel in lower case
      for (char& c : lower) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      headers.emplace_back(std::move(lower), weir::sdk::trim(line.substr(colon + 1)));
    }
    if (headers.empty()) return "no 'header: <name>: <value>' line";
    return {};
  }
};

class AddHeaderHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_response_headers(uint32_t, bool) override {
    const auto response = weir::response_headers();
    for (const auto& [name, value] : root_as<AddHeaderRoot>()->headers) {
      response.replace(name, value);  // replaces a value from upstream, if any
    }
    return weir::Action::Continue;
  }
};

weir::RegisterContextFactory registration(weir::root_factory<AddHeaderRoot>,
                                          weir::http_factory<AddHeaderHttp>, "add_header");

}  // namespace
