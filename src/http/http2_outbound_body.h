#pragma once
// A stream's body on its way out through nghttp2, the same for both codecs: the bytes the
// proxy handed over that nghttp2 has not framed yet, the trailers that follow them, and
// the send watermarks that tell the proxy to stop or go on. nghttp2 pulls the bytes with
// its data-provider read callback, which calls read().
#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::http {

class Http2OutboundBody {
 public:
  // The head went out with a data provider (no END_STREAM): the body follows.
  void start() { has_provider_ = true; }
  // Bytes are still taken (a body started and not ended).
  bool open() const { return has_provider_ && !end_; }
  // The head ended the stream: there is no body.
  void end_without_body() { end_ = true; }
  size_t pending() const { return out_.size() - offset_; }

  // Queues body bytes (END_STREAM after them when `end_stream`). True when this took the
  // queue past `high`: the producer is to be told to stop.
  bool append(nghttp2_session* session, int32_t id, std::string_view data, bool end_stream,
              size_t high);
  // Ends the body with these trailers, sent after its last DATA frame.
  void end_with_trailers(nghttp2_session* session, int32_t id,
                         const std::vector<nghttp2_nv>& trailers);

  struct ReadResult {
    ssize_t bytes;        // copied, or NGHTTP2_ERR_DEFERRED (nothing queued yet)
    bool ended;           // the last byte (and the trailers) went out
    bool fell_below_low;  // back under `low` after passing `high`: the producer may go on
  };
  // nghttp2's read callback for this stream.
  ReadResult read(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                  uint32_t* flags, size_t low);

 private:
  void resume(nghttp2_session* session, int32_t id);

  std::string out_;
  size_t offset_ = 0;
  bool end_ = false;
  bool deferred_ = false;    // nghttp2 was told to wait for bytes
  bool above_high_ = false;  // passed `high`, not back under `low` yet
  bool has_provider_ = false;
  std::vector<std::pair<std::string, std::string>> trailers_;
};

}  // namespace weir::http
