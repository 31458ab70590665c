// Test plugin (C++ SDK): body rewriting.
//  request body:  paused (buffered by the host) until end of stream, then replaced by its
//                 upper-case version (same length: content-length stays right).
//  response body: "-- seen by weir" appended at end of stream; content-length is removed
//                 from the response headers since the length changes.
// Registered for every root_id ("").
#include "weir/plugin.h"

namespace {

class BodyHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_request_body(size_t, bool end_of_stream) override {
    if (!end_of_stream) return weir::Action::Pause;  // the host keeps buffering
    const auto body = weir::request_body();
    auto bytes = body.get();
    if (!bytes) {
      LOG_ERROR("body_filter: cannot read the request body: ", bytes.status());
      return weir::Action::Continue;
    }
    std::string upper = bytes.str();
    for (char& c : upper) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    if (auto s = body.replace(upper); s != weir::Status::Ok) {
      LOG_ERROR("body_filter: cannot replace the request body: ", s);
    }
    return weir::Action::Continue;
  }

  weir::Action on_response_headers(uint32_t, bool) override {
    weir::response_headers().remove("content-length");
    return weir::Action::Continue;
  }

  weir::Action on_response_body(size_t, bool end_of_stream) override {
    if (end_of_stream) {
      if (auto s = weir::response_body().append("-- seen by weir"); s != weir::Status::Ok) {
        LOG_ERROR("body_filter: cannot append to the response body: ", s);
      }
    }
    return weir::Action::Continue;
  }
};

weir::RegisterContextFactory registration(nullptr, weir::http_factory<BodyHttp>, "");

}  // namespace
