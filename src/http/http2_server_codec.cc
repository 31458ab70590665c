#include "http/http2_server_codec.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "http/http2_fields.h"
#include "http/http2_outbound_body.h"
#include "http/http2_session_setup.h"

namespace weir::http {

namespace {

bool connection_specific(std::string_view name) { return http2_connection_specific(name); }

nghttp2_nv make_nv(const std::string& name, const std::string& value) {
  return make_http2_nv(name, value);
}

// nghttp2 copies names and values on submit: the vector only lives for the call.
std::vector<nghttp2_nv> response_nv(const HeaderMap& headers, bool trailers) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(headers.size());
  for (const auto& [name, value] : headers.entries()) {
    if (!name.empty() && name[0] == ':') {
      if (!trailers && name == ":status") nv.insert(nv.begin(), make_nv(name, value));
      continue;
    }
    if (connection_specific(name)) continue;
    if (name == "te" && value != "trailers") continue;
    nv.push_back(make_nv(name, value));
  }
  return nv;
}

}  // namespace

struct Http2ServerCodec::Stream {
  HeaderMap headers;
  size_t header_bytes = 0;
  bool in_trailers = false;  // the HEADERS block being received is trailers
  bool overflow = false;
  bool request_started = false;  // on_request_headers was delivered
  bool request_ended = false;
  bool response_started = false;
  bool response_ended = false;  // every byte (and trailers) framed
  bool reset_by_peer = false;
  Http2OutboundBody body;  // response data and trailers not framed yet
};

struct Http2ServerCodec::Callbacks {
  static Http2ServerCodec& self(void* user) { return *static_cast<Http2ServerCodec*>(user); }

  static ssize_t send(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
    self(user).visitor_.write({reinterpret_cast<const char*>(data), length});
    return static_cast<ssize_t>(length);
  }

  static int begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user) {
    Http2ServerCodec& c = self(user);
    const Http2Options& o = c.options_;
    if (hd->type == NGHTTP2_HEADERS && c.reused_stream_id(hd->stream_id)) {
      // RFC 9113 §5.1.1: a request on a stream id below one already used. nghttp2 ignores
      // it (it could be trailers racing a reset); weir knows which streams it reset.
      c.connection_error(Http2Event::kProtocolError, Http2ErrorCode::kProtocolError);
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    switch (hd->type) {
      case NGHTTP2_DATA:
      case NGHTTP2_HEADERS:
      case NGHTTP2_CONTINUATION:
        // A frame that carries nothing and ends nothing costs work and buys nothing.
        if (hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM)) {
          if (++c.consecutive_empty_frames_ > o.max_consecutive_inbound_frames_with_empty_payload) {
            c.connection_error(Http2Event::kInboundEmptyFramesFlood,
                               Http2ErrorCode::kProtocolError);
            return NGHTTP2_ERR_CALLBACK_FAILURE;
          }
        } else {
          c.consecutive_empty_frames_ = 0;
        }
        break;
      case NGHTTP2_PRIORITY:
        if (++c.inbound_priority_frames_ >
            uint64_t{o.max_inbound_priority_frames_per_stream} * (1 + c.streams_total_)) {
          c.connection_error(Http2Event::kInboundPriorityFramesFlood,
                             Http2ErrorCode::kProtocolError);
          return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        break;
      case NGHTTP2_WINDOW_UPDATE:
        if (++c.inbound_window_update_frames_ >
            5 + 2 * (c.streams_total_ +
                     uint64_t{o.max_inbound_window_update_frames_per_data_frame_sent} *
                         c.outbound_data_frames_)) {
          c.connection_error(Http2Event::kInboundWindowUpdateFramesFlood,
                             Http2ErrorCode::kProtocolError);
          return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        break;
      default:
        break;
    }
    return 0;
  }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Http2ServerCodec& c = self(user);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    const int32_t id = frame->hd.stream_id;
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      c.last_request_stream_id_ = std::max(c.last_request_stream_id_, id);
      auto& s = c.streams_[id];
      s = std::make_unique<Stream>();
      ++c.streams_total_;
      return 0;
    }
    if (Stream* s = c.find(id)) {
      s->in_trailers = true;
      s->headers.clear();
      s->header_bytes = 0;
    }
    return 0;
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                    size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    Http2ServerCodec& c = self(user);
    Stream* s = c.find(frame->hd.stream_id);
    if (!s) return 0;
    return take_http2_field(*s, c.options_, c.visitor_, name, namelen, value, valuelen);
  }

  static int frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Http2ServerCodec& c = self(user);
    const int32_t id = frame->hd.stream_id;
    const bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        Stream* s = c.find(id);
        if (!s || s->overflow) return 0;
        if (end_stream) s->request_ended = true;
        if (s->in_trailers) {
          HeaderMap trailers = std::move(s->headers);
          c.visitor_.on_request_trailers(id, trailers);
          return 0;
        }
        normalize_request(s->headers);
        s->request_started = true;
        HeaderMap headers = std::move(s->headers);
        c.visitor_.on_request_headers(id, headers, end_stream);
        return 0;
      }
      case NGHTTP2_DATA:
        if (end_stream) {
          Stream* s = c.find(id);
          if (s && s->request_started) {
            s->request_ended = true;
            c.visitor_.on_request_data(id, {}, true);
          }
        }
        return 0;
      case NGHTTP2_RST_STREAM:
        if (Stream* s = c.find(id)) {
          s->reset_by_peer = true;
          c.visitor_.on_event(Http2Event::kRxReset);
          if (!s->response_ended) ++c.streams_reset_early_;
        }
        return 0;
      default:
        return 0;
    }
  }

  // Proxies speak HTTP/1 upstream: `host` becomes :authority (RFC 9113 §8.3.1, which
  // :authority wins over), and split cookie fields are joined (§8.2.3).
  static void normalize_request(HeaderMap& h) {
    if (auto host = h.get(KnownHeader::kHost)) {
      if (h.get(KnownHeader::kAuthority)) {
        h.remove(KnownHeader::kHost);
      } else {
        // :authority takes host's value and joins the pseudo headers, which come first.
        const std::string value(*host);
        HeaderMap rebuilt;
        rebuilt.reserve(h.size());
        bool placed = false;
        for (const auto& [name, field] : h.entries()) {
          if (!placed && (name.empty() || name[0] != ':')) {
            rebuilt.add_lower_case(":authority", value);
            placed = true;
          }
          if (name != "host") rebuilt.add_lower_case(name, field);
        }
        h = std::move(rebuilt);
      }
    }
    size_t cookies = 0;
    std::string joined;
    for (const auto& [name, value] : h.entries()) {
      if (name != "cookie") continue;
      if (cookies++ > 0) joined += "; ";
      joined += value;
    }
    if (cookies > 1) h.set("cookie", joined);
  }

  static int data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                        void* user) {
    Http2ServerCodec& c = self(user);
    Stream* s = c.find(id);
    if (!s || !s->request_started || len == 0) {
      nghttp2_session_consume(c.session_, id, len);
      return 0;
    }
    c.visitor_.on_request_data(id, {reinterpret_cast<const char*>(data), len}, false);
    return 0;
  }

  static int stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    Http2ServerCodec& c = self(user);
    c.end_stream(id, error_code);
    return 0;
  }

  static int frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Http2ServerCodec& c = self(user);
    c.note_outbound_frame(frame->hd.type);
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      c.visitor_.on_event(Http2Event::kTxReset);
      c.note_reset_sent(frame->hd.stream_id);
    }
    if (frame->hd.type == NGHTTP2_GOAWAY) c.visitor_.on_event(Http2Event::kGoawaySent);
    if (frame->hd.type == NGHTTP2_DATA) ++c.outbound_data_frames_;
    return 0;
  }

  static int invalid_frame(nghttp2_session*, const nghttp2_frame*, int lib_error, void* user) {
    if (lib_error == NGHTTP2_ERR_HTTP_HEADER || lib_error == NGHTTP2_ERR_HTTP_MESSAGING) {
      self(user).visitor_.on_event(Http2Event::kRxMessagingError);
    }
    return 0;
  }

  static ssize_t read_data(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* user) {
    Http2ServerCodec& c = self(user);
    Stream* s = c.find(id);
    if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const auto read = s->body.read(c.session_, id, buf, length, flags, c.send_low_);
    if (read.ended) s->response_ended = true;
    if (read.fell_below_low) c.low_pending_.push_back(id);
    return read.bytes;
  }
};

Http2ServerCodec::Http2ServerCodec(Visitor& visitor, const Http2Options& options)
    : visitor_(visitor), options_(options) {
  nghttp2_session_callbacks* cb = new_session_callbacks<Callbacks>();
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, &Callbacks::begin_frame);
  nghttp2_option* opt = new_session_options(options_);
  nghttp2_session_server_new2(&session_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
}

Http2ServerCodec::~Http2ServerCodec() { nghttp2_session_del(session_); }

void Http2ServerCodec::start() {
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.initial_stream_window_size},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, options_.hpack_table_size},
      // What a client may send as one header list; nghttp2 still enforces the limits per
      // field as it decodes (header callback).
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(
           std::min<size_t>(options_.max_header_bytes + 32 * options_.max_headers, UINT32_MAX))},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  if (options_.initial_connection_window_size > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) {
    nghttp2_session_set_local_window_size(
        session_, NGHTTP2_FLAG_NONE, 0,
        static_cast<int32_t>(options_.initial_connection_window_size));
  }
}

void Http2ServerCodec::note_reset_sent(int32_t id) {
  if (reset_sent_.size() >= kResetsRemembered) {
    reset_sent_set_.erase(reset_sent_.front());
    reset_sent_.pop_front();
  }
  if (reset_sent_set_.insert(id).second) reset_sent_.push_back(id);
}

bool Http2ServerCodec::reused_stream_id(int32_t id) const {
  // Only odd (client) ids at or below the last request's, on no open stream, that weir
  // did not reset recently (the client may still send trailers on those).
  return (id & 1) && id <= last_request_stream_id_ && !streams_.contains(id) &&
         !nghttp2_session_find_stream(session_, id) && !reset_sent_set_.contains(id);
}

Http2ServerCodec::Stream* Http2ServerCodec::find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

size_t Http2ServerCodec::queued(int32_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? 0 : it->second->body.pending();
}

void Http2ServerCodec::connection_error(Http2Event event, Http2ErrorCode code) {
  if (failed_) return;
  failed_ = true;
  visitor_.on_event(event);
  nghttp2_session_terminate_session(session_, static_cast<uint32_t>(code));
}

void Http2ServerCodec::track_frames(std::string_view data) {
  const size_t skip = std::min(preface_left_, data.size());
  preface_left_ -= skip;
  data.remove_prefix(skip);
  while (!data.empty()) {
    if (frame_payload_left_ > 0) {
      const size_t n = std::min(frame_payload_left_, data.size());
      frame_payload_left_ -= n;
      data.remove_prefix(n);
    } else {
      const size_t n = std::min(sizeof(frame_header_) - frame_header_have_, data.size());
      std::memcpy(frame_header_ + frame_header_have_, data.data(), n);
      frame_header_have_ += n;
      data.remove_prefix(n);
      if (frame_header_have_ < sizeof(frame_header_)) return;
      frame_header_have_ = 0;
      const uint8_t* h = frame_header_;
      frame_payload_left_ = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
      frame_is_header_block_ = h[3] == NGHTTP2_HEADERS || h[3] == NGHTTP2_CONTINUATION;
      frame_ends_header_block_ = frame_is_header_block_ && (h[4] & NGHTTP2_FLAG_END_HEADERS);
    }
    if (frame_payload_left_ == 0 && frame_header_have_ == 0 && frame_is_header_block_) {
      header_block_open_ = !frame_ends_header_block_;
      frame_is_header_block_ = false;
    }
  }
}

bool Http2ServerCodec::feed(std::string_view data) {
  if (failed_) return false;
  track_frames(data);
  ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data.data()),
                                        data.size());
  if (rv < 0) {
    if (!failed_) {
      const Http2ErrorCode code = rv == NGHTTP2_ERR_FLOODED ? Http2ErrorCode::kEnhanceYourCalm
                                                            : Http2ErrorCode::kProtocolError;
      connection_error(rv == NGHTTP2_ERR_FLOODED ? Http2Event::kOutboundControlFlood
                                                 : Http2Event::kProtocolError,
                       code);
    }
    return false;
  }
  if (streams_total_ >= options_.premature_reset_total_stream_count &&
      streams_reset_early_ * 2 >= streams_total_) {
    connection_error(Http2Event::kPrematureResets, Http2ErrorCode::kEnhanceYourCalm);
    return false;
  }
  return !failed_;
}

bool Http2ServerCodec::flush() {
  const int rv = nghttp2_session_send(session_);
  if (rv != 0 && !failed_) {
    failed_ = true;
    visitor_.on_event(Http2Event::kProtocolError);
  }
  // Streams whose queued response fell under the low watermark (noted while framing).
  std::vector<int32_t> low;
  low.swap(low_pending_);
  for (int32_t id : low) visitor_.on_send_buffer_low(id);
  if (rv != 0) return false;
  return nghttp2_session_want_read(session_) || nghttp2_session_want_write(session_);
}

bool Http2ServerCodec::done() const {
  return !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
}

void Http2ServerCodec::note_outbound_frame(uint8_t type) {
  if (failed_) return;
  ++outbound_frames_;
  const bool control =
      type == NGHTTP2_PING || type == NGHTTP2_SETTINGS || type == NGHTTP2_RST_STREAM;
  if (control) ++outbound_control_frames_;
  if (outbound_frames_ > options_.max_outbound_frames) {
    connection_error(Http2Event::kOutboundFlood, Http2ErrorCode::kEnhanceYourCalm);
  } else if (outbound_control_frames_ > options_.max_outbound_control_frames) {
    connection_error(Http2Event::kOutboundControlFlood, Http2ErrorCode::kEnhanceYourCalm);
  }
}

void Http2ServerCodec::send_informational(int32_t id, const HeaderMap& headers) {
  auto nv = response_nv(headers, false);
  nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, id, nullptr, nv.data(), nv.size(), nullptr);
}

void Http2ServerCodec::send_headers(int32_t id, const HeaderMap& headers, bool end_stream) {
  Stream* s = find(id);
  if (!s) return;
  s->response_started = true;
  auto nv = response_nv(headers, false);
  if (end_stream) {
    s->response_ended = true;
    nghttp2_submit_response(session_, id, nv.data(), nv.size(), nullptr);
    return;
  }
  nghttp2_data_provider provider{};
  provider.read_callback = &Callbacks::read_data;
  s->body.start();
  nghttp2_submit_response(session_, id, nv.data(), nv.size(), &provider);
}

void Http2ServerCodec::send_data(int32_t id, std::string_view data, bool end_stream) {
  Stream* s = find(id);
  if (s && s->body.append(session_, id, data, end_stream, send_high_)) {
    visitor_.on_send_buffer_high(id);
  }
}

void Http2ServerCodec::send_trailers(int32_t id, const HeaderMap& trailers) {
  Stream* s = find(id);
  if (s) s->body.end_with_trailers(session_, id, response_nv(trailers, true));
}

void Http2ServerCodec::reset_stream(int32_t id, Http2ErrorCode code) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, static_cast<uint32_t>(code));
}

void Http2ServerCodec::consume(int32_t id, size_t bytes) {
  if (bytes > 0) nghttp2_session_consume(session_, id, bytes);
}

void Http2ServerCodec::goaway() {
  if (goaway_sent_ || failed_) return;
  goaway_sent_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

void Http2ServerCodec::end_stream(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  if (!s->request_started) return;
  if (error_code == NGHTTP2_NO_ERROR && s->response_ended && !s->reset_by_peer) {
    visitor_.on_stream_complete(id);
  } else {
    visitor_.on_stream_reset(id, static_cast<Http2ErrorCode>(error_code));
  }
}

}  // namespace weir::http
