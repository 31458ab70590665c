#pragma once
// What the client and server codecs set up alike on their nghttp2 sessions: the callbacks
// every session of weir's has, and the options that bound what a peer can make it queue.
#include <nghttp2/nghttp2.h>

#include "http/http2_server_codec.h"  // Http2Options

namespace weir::http {

// Callbacks from `Callbacks`' static members of those names; the caller adds its own and
// deletes the result once the session is made.
template <typename Callbacks>
nghttp2_session_callbacks* new_session_callbacks() {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, &Callbacks::send);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &Callbacks::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, &Callbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Callbacks::frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Callbacks::stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, &Callbacks::frame_send);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, &Callbacks::invalid_frame);
  return cb;
}

// Options both sides use; the caller may add its own and deletes the result.
inline nghttp2_option* new_session_options(const Http2Options& options) {
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // Window updates follow what the proxy has passed on, not what arrived (flow control).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // A peer answering our SETTINGS/PINGs faster than it reads cannot queue acks forever.
  nghttp2_option_set_max_outbound_ack(opt, options.max_outbound_control_frames);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
  return opt;
}

}  // namespace weir::http
