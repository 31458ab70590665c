#include "http/http2_client_codec.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>

#include "http/http2_fields.h"
#include "http/http2_outbound_body.h"
#include "http/http2_session_setup.h"

namespace weir::http {

namespace {

// Request fields in the order RFC 9113 §8.3.1 wants: pseudo headers first. `host` becomes
// :authority when there is none (§8.3.1); the rest of HTTP/1's connection-specific fields
// are dropped (§8.2.2), and `te` is kept only as "trailers".
std::vector<nghttp2_nv> request_nv(const HeaderMap& headers, std::string& authority_from_host) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(headers.size() + 1);
  static const std::string kPseudo[] = {":method", ":scheme", ":authority", ":path"};
  static const std::string kAuthority = ":authority";
  for (const std::string& name : kPseudo) {
    for (const auto& [n, value] : headers.entries()) {
      if (n == name) {
        nv.push_back(make_http2_nv(n, value));
        break;
      }
    }
  }
  const bool has_authority = headers.get(KnownHeader::kAuthority).has_value();
  for (const auto& [name, value] : headers.entries()) {
    if (name.empty() || name[0] == ':') continue;
    if (http2_connection_specific(name)) continue;
    if (name == "te" && value != "trailers") continue;
    if (name == "host") {
      if (!has_authority) {
        authority_from_host = value;
        nv.insert(nv.begin() + std::min<size_t>(nv.size(), 2),
                  make_http2_nv(kAuthority, authority_from_host));
      }
      continue;
    }
    nv.push_back(make_http2_nv(name, value));
  }
  return nv;
}

std::vector<nghttp2_nv> trailer_nv(const HeaderMap& trailers) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(trailers.size());
  for (const auto& [name, value] : trailers.entries()) {
    if (name.empty() || name[0] == ':' || http2_connection_specific(name)) continue;
    nv.push_back(make_http2_nv(name, value));
  }
  return nv;
}

}  // namespace

struct Http2ClientCodec::Stream {
  HeaderMap headers;
  size_t header_bytes = 0;
  bool in_trailers = false;  // the HEADERS block being received is trailers
  bool overflow = false;
  bool malformed = false;
  bool response_started = false;  // on_response_headers was delivered
  bool response_ended = false;
  bool request_ended = false;  // every request byte (and trailers) framed
  Http2OutboundBody body;      // request data and trailers not framed yet
};

struct Http2ClientCodec::Callbacks {
  static Http2ClientCodec& self(void* user) { return *static_cast<Http2ClientCodec*>(user); }

  static ssize_t send(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
    if (self(user).visitor_.write_blocked()) return NGHTTP2_ERR_WOULDBLOCK;
    self(user).visitor_.write({reinterpret_cast<const char*>(data), length});
    return static_cast<ssize_t>(length);
  }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Http2ClientCodec& c = self(user);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    Stream* s = c.find(frame->hd.stream_id);
    if (!s) return 0;
    s->in_trailers = s->response_started;
    s->headers.clear();
    s->header_bytes = 0;
    return 0;
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                    size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    Http2ClientCodec& c = self(user);
    Stream* s = c.find(frame->hd.stream_id);
    if (!s) return 0;
    return take_http2_field(*s, c.options_, c.visitor_, name, namelen, value, valuelen);
  }

  static int frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Http2ClientCodec& c = self(user);
    const int32_t id = frame->hd.stream_id;
    const bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        Stream* s = c.find(id);
        if (!s || s->overflow) return 0;
        if (s->in_trailers) {
          s->response_ended = true;
          HeaderMap trailers = std::move(s->headers);
          c.visitor_.on_response_trailers(id, trailers);
          return 0;
        }
        auto status = s->headers.get(KnownHeader::kStatus).value_or("");
        if (status.size() == 3 && status[0] == '1') {
          s->headers.clear();  // 1xx: the final head follows
          return 0;
        }
        s->response_started = true;
        if (end_stream) s->response_ended = true;
        HeaderMap headers = std::move(s->headers);
        c.visitor_.on_response_headers(id, headers, end_stream);
        return 0;
      }
      case NGHTTP2_DATA:
        if (end_stream) {
          Stream* s = c.find(id);
          if (s && s->response_started) {
            s->response_ended = true;
            c.visitor_.on_response_data(id, {}, true);
          }
        }
        return 0;
      case NGHTTP2_RST_STREAM:
        c.visitor_.on_event(Http2Event::kRxReset);
        return 0;
      case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
          c.settings_received_ = true;
          c.visitor_.on_settings();
        }
        return 0;
      case NGHTTP2_GOAWAY:
        c.goaway_received_ = true;
        c.goaway_last_stream_id_ = frame->goaway.last_stream_id;
        c.visitor_.on_goaway(frame->goaway.last_stream_id,
                             static_cast<Http2ErrorCode>(frame->goaway.error_code));
        return 0;
      default:
        return 0;
    }
  }

  static int data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                        void* user) {
    Http2ClientCodec& c = self(user);
    Stream* s = c.find(id);
    if (!s || !s->response_started || len == 0) {
      nghttp2_session_consume(c.session_, id, len);
      return 0;
    }
    c.visitor_.on_response_data(id, {reinterpret_cast<const char*>(data), len}, false);
    return 0;
  }

  static int stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    self(user).end_stream(id, error_code);
    return 0;
  }

  static int frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Http2ClientCodec& c = self(user);
    if (frame->hd.type == NGHTTP2_RST_STREAM) c.visitor_.on_event(Http2Event::kTxReset);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.visitor_.on_event(Http2Event::kGoawaySent);
      if (!c.goaway_requested_ && !c.failed_) {
        // nghttp2 ended the connection on a protocol error it found (a bad server preface,
        // a frame that breaks the protocol).
        c.failed_ = true;
        c.visitor_.on_event(Http2Event::kProtocolError);
      }
    }
    return 0;
  }

  static int invalid_frame(nghttp2_session*, const nghttp2_frame* frame, int lib_error,
                           void* user) {
    Http2ClientCodec& c = self(user);
    if (lib_error == NGHTTP2_ERR_HTTP_HEADER || lib_error == NGHTTP2_ERR_HTTP_MESSAGING) {
      c.visitor_.on_event(Http2Event::kRxMessagingError);
      if (Stream* s = c.find(frame->hd.stream_id)) s->malformed = true;
    }
    return 0;
  }

  static ssize_t read_data(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* user) {
    Http2ClientCodec& c = self(user);
    Stream* s = c.find(id);
    if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const auto read = s->body.read(c.session_, id, buf, length, flags, c.send_low_);
    if (read.ended) s->request_ended = true;
    if (read.fell_below_low) c.low_pending_.push_back(id);
    return read.bytes;
  }
};

Http2ClientCodec::Http2ClientCodec(Visitor& visitor, const Http2Options& options)
    : visitor_(visitor), options_(options) {
  nghttp2_session_callbacks* cb = new_session_callbacks<Callbacks>();
  nghttp2_option* opt = new_session_options(options_);
  // Until the server's SETTINGS say how many streams it takes, one goes out; the others
  // wait in nghttp2 and follow within the server's limit once it is known (a server may
  // refuse streams past a limit we had not heard of yet).
  nghttp2_option_set_peer_max_concurrent_streams(opt, 1);
  nghttp2_session_client_new2(&session_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
}

Http2ClientCodec::~Http2ClientCodec() { nghttp2_session_del(session_); }

void Http2ClientCodec::start() {
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.initial_stream_window_size},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, options_.hpack_table_size},
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

Http2ClientCodec::Stream* Http2ClientCodec::find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

size_t Http2ClientCodec::queued(int32_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? 0 : it->second->body.pending();
}

uint32_t Http2ClientCodec::peer_max_concurrent_streams() const {
  if (!settings_received_) return UINT32_MAX;
  return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

void Http2ClientCodec::connection_error(Http2Event event, Http2ErrorCode code) {
  if (failed_) return;
  failed_ = true;
  goaway_requested_ = true;
  visitor_.on_event(event);
  nghttp2_session_terminate_session(session_, static_cast<uint32_t>(code));
}

bool Http2ClientCodec::feed(std::string_view data) {
  if (failed_) return false;
  ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data.data()),
                                        data.size());
  if (rv < 0) {
    connection_error(
        rv == NGHTTP2_ERR_FLOODED ? Http2Event::kOutboundControlFlood : Http2Event::kProtocolError,
        rv == NGHTTP2_ERR_FLOODED ? Http2ErrorCode::kEnhanceYourCalm
                                  : Http2ErrorCode::kProtocolError);
    return false;
  }
  return !failed_;
}

bool Http2ClientCodec::flush() {
  const int rv = nghttp2_session_send(session_);
  if (rv != 0 && !failed_) {
    failed_ = true;
    visitor_.on_event(Http2Event::kProtocolError);
  }
  std::vector<int32_t> low;
  low.swap(low_pending_);
  for (int32_t id : low) visitor_.on_send_buffer_low(id);
  if (rv != 0) return false;
  return nghttp2_session_want_read(session_) || nghttp2_session_want_write(session_);
}

int32_t Http2ClientCodec::submit_request(const HeaderMap& headers, bool end_stream) {
  if (failed_ || goaway_received_) return -1;
  std::string authority;
  auto nv = request_nv(headers, authority);
  auto stream = std::make_unique<Stream>();
  nghttp2_data_provider provider{};
  provider.read_callback = &Callbacks::read_data;
  const int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                                            end_stream ? nullptr : &provider, nullptr);
  if (id < 0) return -1;
  if (end_stream) {
    stream->body.end_without_body();
  } else {
    stream->body.start();
  }
  stream->request_ended = end_stream;
  streams_[id] = std::move(stream);
  return id;
}

void Http2ClientCodec::send_data(int32_t id, std::string_view data, bool end_stream) {
  Stream* s = find(id);
  if (s && s->body.append(session_, id, data, end_stream, send_high_)) {
    visitor_.on_send_buffer_high(id);
  }
}

void Http2ClientCodec::send_trailers(int32_t id, const HeaderMap& trailers) {
  Stream* s = find(id);
  if (s) s->body.end_with_trailers(session_, id, trailer_nv(trailers));
}

void Http2ClientCodec::reset_stream(int32_t id, Http2ErrorCode code) {
  // Forgotten now: the visitor hears nothing more of it.
  if (streams_.erase(id) == 0) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, static_cast<uint32_t>(code));
}

void Http2ClientCodec::consume(int32_t id, size_t bytes) {
  if (bytes > 0) nghttp2_session_consume(session_, id, bytes);
}

void Http2ClientCodec::goaway() {
  if (failed_) return;
  goaway_requested_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
}

void Http2ClientCodec::end_stream(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  if (error_code == NGHTTP2_NO_ERROR && s->response_ended && !s->overflow && !s->malformed) {
    visitor_.on_stream_complete(id);
    return;
  }
  const bool refused = !s->response_started && (error_code == NGHTTP2_REFUSED_STREAM ||
                                                (goaway_received_ && id > goaway_last_stream_id_));
  Http2ErrorCode code = static_cast<Http2ErrorCode>(error_code);
  if (s->overflow || s->malformed) code = Http2ErrorCode::kProtocolError;
  visitor_.on_stream_reset(id, code, refused);
}

}  // namespace weir::http
