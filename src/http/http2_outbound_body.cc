#include "http/http2_outbound_body.h"

#include <algorithm>
#include <cstring>

#include "http/http2_fields.h"

namespace weir::http {

void Http2OutboundBody::resume(nghttp2_session* session, int32_t id) {
  if (!deferred_) return;
  deferred_ = false;
  nghttp2_session_resume_data(session, id);
}

bool Http2OutboundBody::append(nghttp2_session* session, int32_t id, std::string_view data,
                               bool end_stream, size_t high) {
  if (!open()) return false;
  out_.append(data);
  end_ = end_stream;
  resume(session, id);
  if (above_high_ || pending() <= high) return false;
  above_high_ = true;
  return true;
}

void Http2OutboundBody::end_with_trailers(nghttp2_session* session, int32_t id,
                                          const std::vector<nghttp2_nv>& trailers) {
  if (!open()) return;
  for (const nghttp2_nv& nv : trailers) {
    trailers_.emplace_back(std::string(reinterpret_cast<const char*>(nv.name), nv.namelen),
                           std::string(reinterpret_cast<const char*>(nv.value), nv.valuelen));
  }
  end_ = true;
  resume(session, id);
}

Http2OutboundBody::ReadResult Http2OutboundBody::read(nghttp2_session* session, int32_t id,
                                                      uint8_t* buf, size_t length, uint32_t* flags,
                                                      size_t low) {
  ReadResult result{0, false, false};
  const size_t n = std::min(length, pending());
  if (n == 0 && !end_) {
    deferred_ = true;
    result.bytes = NGHTTP2_ERR_DEFERRED;
    return result;
  }
  std::memcpy(buf, out_.data() + offset_, n);
  offset_ += n;
  if (pending() == 0) {
    out_.clear();
    offset_ = 0;
    if (end_) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      result.ended = true;
      if (!trailers_.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nv;
        nv.reserve(trailers_.size());
        for (const auto& [name, value] : trailers_) nv.push_back(make_http2_nv(name, value));
        nghttp2_submit_trailer(session, id, nv.data(), nv.size());
      }
    }
  }
  if (above_high_ && pending() <= low) {
    above_high_ = false;
    result.fell_below_low = true;
  }
  result.bytes = static_cast<ssize_t>(n);
  return result;
}

}  // namespace weir::http
