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
  std::string_view path = raw_path;
  while (!path.empty() && path.back() == '\0') path.remove_suffix(1);

  if (const std::string* v = ctx.find_property(raw_path)) {
    out.assign(*v);
    return true;
  }
  // Token form: "a\0b". A path with no NUL but dots ("request.path") is read as tokens
  // too, a convenience Envoy does not offer.
  std::string dotted;
  if (path.find('\0') == std::string_view::npos && path.find('.') != std::string_view::npos) {
    dotted.assign(path);
    for (char& c : dotted) {
      if (c == '.') c = '\0';
    }
    path = dotted;
  }
  // The top-level name ends at the first separator, exactly: "requestXpath" is not
  // "request" + "path".
  const size_t sep = path.find('\0');
  const std::string_view top = path.substr(0, sep);
  const std::string_view rest =
      sep == std::string_view::npos ? std::string_view{} : path.substr(sep + 1);
  const bool leaf = sep == std::string_view::npos;

  const PluginSpec& plugin = ctx.plugin();
  if (top == "plugin_root_id" && leaf) {
    out.assign(plugin.root_id);
    return true;
  }
  if (top == "plugin_name" && leaf) {
    out.assign(plugin.name);
    return true;
  }
  if (top == "plugin_vm_id" && leaf) {
    out.assign(plugin.vm_id);
    return true;
  }
  if (top == "node") {
    static const common::NodeInfo kNoNode;
    return common::node_property(plugin.node ? *plugin.node : kNoNode, rest, out);
  }
  if (top == "listener_metadata") {
    static const common::Metadata kNoMetadata;
    return common::metadata_property(
        plugin.listener_metadata ? *plugin.listener_metadata : kNoMetadata, rest, out);
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
  auto is = [&](std::string_view n) { return path_is(rest, n); };
  if (top == "request" && !leaf) {
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
    if (rest.starts_with(std::string_view("headers\0", 8)) && rest.size() > 8) {
      return header_property(*h, MapType::RequestHeaders, rest.substr(8), out);
    }
  }
  if (top == "response" && !leaf) {
    if (is("headers")) {
      http::HeaderMap* m = h->header_map(MapType::ResponseHeaders);
      if (!m) return false;
      out = serialize_map(*m);
      return true;
    }
    if (is("trailers")) {
      http::HeaderMap* m = h->header_map(MapType::ResponseTrailers);
      if (!m) return false;
      out = serialize_map(*m);
      return true;
    }
    if (rest.starts_with(std::string_view("headers\0", 8)) && rest.size() > 8) {
      return header_property(*h, MapType::ResponseHeaders, rest.substr(8), out);
    }
  }
  // Everything else about the stream, in token form.
  return h->get_stream_property(path, out);
}

}  // namespace weir::proxy_wasm
