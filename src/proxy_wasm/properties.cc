#include "proxy_wasm/properties.h"

#include "proxy_wasm/map_serialization.h"
#include "proxy_wasm/vm.h"

namespace weir::proxy_wasm {

void encode_int(std::string& out, int64_t v) { append_le64(out, static_cast<uint64_t>(v)); }
void encode_bool(std::string& out, bool v) { out.push_back(v ? 1 : 0); }

namespace {

// Compares a NUL-separated path with a dotted name ("request.path").
bool path_is(std::string_view path, std::string_view dotted) {
  if (path.size() != dotted.size()) return false;
  for (size_t i = 0; i < path.size(); ++i) {
    char a = path[i] == '\0' ? '.' : path[i];
    if (a != dotted[i]) return false;
  }
  return true;
}

bool header_property(StreamHost& h, MapType type, std::string_view name, std::string& out) {
  http::HeaderMap* m = h.header_map(type);
  if (!m) return false;
  auto v = m->get(name);
  if (!v) return false;
  out.assign(*v);
  return true;
}

}  // namespace

bool resolve_property(ContextBase& ctx, std::string_view raw_path, std::string& out) {
  // Normalize "a.b" (no NUL at all) to the token form only for comparison: path_is()
  // treats NUL and '.' alike.
  std::string_view path = raw_path;
  while (!path.empty() && path.back() == '\0') path.remove_suffix(1);

  if (const std::string* v = ctx.find_property(raw_path)) {
    out.assign(*v);
    return true;
  }
  const PluginSpec& plugin = ctx.plugin();
  if (path_is(path, "plugin_root_id")) {
    out.assign(plugin.root_id);
    return true;
  }
  if (path_is(path, "plugin_name")) {
    out.assign(plugin.name);
    return true;
  }
  if (path_is(path, "plugin_vm_id")) {
    out.assign(plugin.vm_id);
    return true;
  }
  if (path_is(path, "node")) {
    out.clear();  // an empty Node message: weir has no node configuration
    return true;
  }
  StreamHost* h = ctx.stream_host();
  if (!h) {
    if (ctx.root() && ctx.root() != &ctx) {
      if (const std::string* v = ctx.root()->find_property(raw_path)) {
        out.assign(*v);
        return true;
      }
    }
    return false;
  }
  if (path.starts_with("request") && path.size() > 8) {
    std::string_view rest = path.substr(8);
    auto is = [&](std::string_view n) { return path_is(rest, n); };
    if (is("path")) return header_property(*h, MapType::RequestHeaders, ":path", out);
    if (is("url_path")) {
      if (!header_property(*h, MapType::RequestHeaders, ":path", out)) return false;
      if (auto q = out.find('?'); q != std::string::npos) out.resize(q);
      return true;
    }
    if (is("host")) return header_property(*h, MapType::RequestHeaders, ":authority", out);
    if (is("scheme")) return header_property(*h, MapType::RequestHeaders, ":scheme", out);
    if (is("method")) return header_property(*h, MapType::RequestHeaders, ":method", out);
    if (is("referer")) return header_property(*h, MapType::RequestHeaders, "referer", out);
    if (is("useragent")) return header_property(*h, MapType::RequestHeaders, "user-agent", out);
    if (is("id")) return header_property(*h, MapType::RequestHeaders, "x-request-id", out);
    if (is("headers")) {
      http::HeaderMap* m = h->header_map(MapType::RequestHeaders);
      if (!m) return false;
      out = serialize_map(*m);
      return true;
    }
    if (rest.starts_with("headers") && rest.size() > 8) {
      return header_property(*h, MapType::RequestHeaders, rest.substr(8), out);
    }
  }
  if (path.starts_with("response") && path.size() > 9) {
    std::string_view rest = path.substr(9);
    if (path_is(rest, "headers")) {
      http::HeaderMap* m = h->header_map(MapType::ResponseHeaders);
      if (!m) return false;
      out = serialize_map(*m);
      return true;
    }
    if (path_is(rest, "trailers")) {
      http::HeaderMap* m = h->header_map(MapType::ResponseTrailers);
      if (!m) return false;
      out = serialize_map(*m);
      return true;
    }
    if (rest.starts_with("headers") && rest.size() > 8) {
      return header_property(*h, MapType::ResponseHeaders, rest.substr(8), out);
    }
  }
  // Everything else about the stream, in token form.
  if (raw_path.find('\0') == std::string_view::npos &&
      raw_path.find('.') != std::string_view::npos) {
    std::string tokens(raw_path);
    for (char& c : tokens) {
      if (c == '.') c = '\0';
    }
    return h->get_stream_property(tokens, out);
  }
  return h->get_stream_property(path, out);
}

}  // namespace weir::proxy_wasm
