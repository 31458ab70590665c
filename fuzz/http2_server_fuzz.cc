// Feeds arbitrary client bytes to the HTTP/2 server codec (weir's layer on nghttp2), in
// random pieces, with a visitor that answers requests the way the connection manager does
// (from inside the callbacks and between feeds: response heads, data, trailers, resets,
// late flow-control credit, GOAWAY) and checks the codec's contract:
//  - per stream: one request head first, then data and trailers, nothing after the end of
//    the request; at most one close (reset or complete), nothing after it; a stream closes
//    as complete only once its whole response was handed over;
//  - request heads as the proxy expects them (pseudo headers first and unique, names lower
//    case, `host` folded into :authority, one `cookie`);
//  - open streams bounded by max_concurrent_streams;
//  - what the codec writes is whole frames, SETTINGS first, DATA/HEADERS only on streams the
//    client opened, nothing after a GOAWAY with an error code.
//
// Input layout: byte 0 holds option bits, bytes 1-4 seed the split points and the visitor's
// choices, the rest is what the client sends (the preface is prepended when kPreface is set,
// so that mutations need not keep it whole).
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http/http2_server_codec.h"

namespace weir::http {
namespace {

enum Option : uint8_t {
  kPreface = 1 << 0,
  kSmallLimits = 1 << 1,
  kRespondInCallbacks = 1 << 2,
  kDeferConsume = 1 << 3,
  kGoawayMidway = 1 << 4,
  kSkipSomeFlushes = 1 << 5,
  kResetSome = 1 << 6,
};

constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Rng {
  uint32_t state;
  uint32_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
  bool one_in(uint32_t n) { return next() % n == 0; }
};

// Checks the frames the codec writes, as a client would read them.
class OutputChecker {
 public:
  void add(std::string_view bytes) {
    buffer_.append(bytes);
    size_t offset = 0;
    while (buffer_.size() - offset >= 9) {
      const auto* p = reinterpret_cast<const uint8_t*>(buffer_.data() + offset);
      const uint32_t length = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
      if (buffer_.size() - offset < 9 + length) break;
      const uint8_t type = p[3];
      const uint32_t stream =
          ((uint32_t{p[5]} << 24) | (uint32_t{p[6]} << 16) | (uint32_t{p[7]} << 8) | p[8]) &
          0x7fffffff;
      on_frame(type, stream, std::string_view(buffer_).substr(offset + 9, length));
      offset += 9 + length;
    }
    buffer_.erase(0, offset);
  }
  // Between writes the codec leaves no partial frame behind.
  void check_whole() const { FUZZ_CHECK(buffer_.empty()); }
  std::set<int32_t>* opened = nullptr;  // streams the visitor saw a request head for

 private:
  void on_frame(uint8_t type, uint32_t stream, std::string_view payload) {
    FUZZ_CHECK(!error_goaway_sent_);  // a connection error's GOAWAY is the last frame
    if (frames_++ == 0) FUZZ_CHECK(type == 0x4 && stream == 0);  // server preface: SETTINGS
    FUZZ_CHECK(type <= 0x9 && type != 0x5);                      // known types, no push
    if (type == 0x0 || type == 0x1 || type == 0x3 || type == 0x9) FUZZ_CHECK(stream != 0);
    if (type == 0x0 || type == 0x1) {
      FUZZ_CHECK(stream & 1);
      FUZZ_CHECK(opened->contains(static_cast<int32_t>(stream)));
    }
    if (type == 0x4 || type == 0x6 || type == 0x7) FUZZ_CHECK(stream == 0);
    if (type == 0x7) {
      FUZZ_CHECK(payload.size() >= 8);
      const auto* p = reinterpret_cast<const uint8_t*>(payload.data());
      const uint32_t code =
          (uint32_t{p[4]} << 24) | (uint32_t{p[5]} << 16) | (uint32_t{p[6]} << 8) | p[7];
      if (code != 0) error_goaway_sent_ = true;
    }
  }

  std::string buffer_;
  uint64_t frames_ = 0;
  bool error_goaway_sent_ = false;
};

struct StreamState {
  bool request_ended = false;
  bool closed = false;
  bool response_started = false;
  bool response_ended = false;
  size_t unconsumed = 0;
};

class Visitor : public Http2ServerCodec::Visitor {
 public:
  Visitor(uint8_t options, Rng& rng, const Http2Options& limits)
      : options_(options), rng_(rng), limits_(limits) {
    output_.opened = &opened_;
  }
  void attach(Http2ServerCodec* codec) { codec_ = codec; }

  void write(std::string_view bytes) override { output_.add(bytes); }

  void on_request_headers(int32_t id, HeaderMap& headers, bool end_stream) override {
    FUZZ_CHECK(id > 0 && (id & 1));
    FUZZ_CHECK(!streams_.contains(id));
    opened_.insert(id);
    StreamState& s = streams_[id];
    s.request_ended = end_stream;
    check_head(headers);
    FUZZ_CHECK(codec_->open_streams() <= limits_.max_concurrent_streams);
    if (options_ & kRespondInCallbacks) act(id);
  }

  void on_request_data(int32_t id, std::string_view data, bool end_stream) override {
    StreamState& s = live(id);
    FUZZ_CHECK(!s.request_ended);
    FUZZ_CHECK(data.size() <= limits_.initial_stream_window_size);
    s.request_ended = end_stream;
    if (options_ & kDeferConsume) {
      s.unconsumed += data.size();
    } else {
      codec_->consume(id, data.size());
    }
    if (options_ & kRespondInCallbacks && rng_.one_in(4)) act(id);
  }

  void on_request_trailers(int32_t id, HeaderMap& trailers) override {
    StreamState& s = live(id);
    FUZZ_CHECK(!s.request_ended);
    for (const auto& [name, value] : trailers.entries()) {
      FUZZ_CHECK(!name.empty() && name[0] != ':');
    }
    s.request_ended = true;
    if (options_ & kRespondInCallbacks) act(id);
  }

  void on_stream_reset(int32_t id, Http2ErrorCode) override { live(id).closed = true; }

  void on_stream_complete(int32_t id) override {
    StreamState& s = live(id);
    // The whole response went out. The request may not have ended: a response finished
    // first ends the stream with RST_STREAM(NO_ERROR) (RFC 9113 §8.1), which completes it.
    FUZZ_CHECK(s.response_ended);
    s.closed = true;
  }

  void on_send_buffer_high(int32_t id) override { FUZZ_CHECK(streams_.contains(id)); }
  void on_send_buffer_low(int32_t id) override { FUZZ_CHECK(streams_.contains(id)); }
  void on_event(Http2Event) override {}

  // Between feeds: give back held credit, answer streams that wait.
  void between_feeds() {
    for (auto& [id, s] : streams_) {
      if (s.closed) continue;
      if (s.unconsumed > 0 && rng_.one_in(2)) {
        codec_->consume(id, s.unconsumed);
        s.unconsumed = 0;
      }
      if (rng_.one_in(2)) act(id);
    }
  }

  void check_output_whole() const { output_.check_whole(); }

 private:
  StreamState& live(int32_t id) {
    auto it = streams_.find(id);
    FUZZ_CHECK(it != streams_.end());  // a request head came first
    FUZZ_CHECK(!it->second.closed);    // nothing after the close
    return it->second;
  }

  static void check_head(const HeaderMap& headers) {
    bool pseudo_allowed = true;
    std::set<std::string> pseudo;
    size_t cookies = 0;
    for (const auto& [name, value] : headers.entries()) {
      FUZZ_CHECK(!name.empty());
      if (name[0] == ':') {
        FUZZ_CHECK(pseudo_allowed);
        FUZZ_CHECK(pseudo.insert(name).second);
      } else {
        pseudo_allowed = false;
        FUZZ_CHECK(name != "host");
        if (name == "cookie") ++cookies;
      }
      for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    }
    FUZZ_CHECK(pseudo.contains(":method"));
    FUZZ_CHECK(cookies <= 1);
  }

  // One step of a response, or a reset, chosen at random.
  void act(int32_t id) {
    StreamState& s = streams_[id];
    if (s.closed || s.response_ended) return;
    if ((options_ & kResetSome) && rng_.one_in(5)) {
      codec_->reset_stream(
          id, rng_.one_in(2) ? Http2ErrorCode::kNoError : Http2ErrorCode::kInternalError);
      return;
    }
    if (!s.response_started) {
      HeaderMap head;
      head.add_lower_case(":status", rng_.one_in(8) ? "204" : "200");
      head.add_lower_case("content-type", "text/plain");
      if (rng_.one_in(8)) head.add_lower_case("connection", "close");  // never sent
      const bool end = rng_.one_in(4);
      if (rng_.one_in(10)) {
        HeaderMap informational;
        informational.add_lower_case(":status", "100");
        codec_->send_informational(id, informational);
      }
      codec_->send_headers(id, head, end);
      s.response_started = true;
      s.response_ended = end;
      return;
    }
    switch (rng_.next() % 3) {
      case 0:
        codec_->send_data(id, std::string(rng_.next() % 40000, 'x'), false);
        break;
      case 1:
        codec_->send_data(id, "end", true);
        s.response_ended = true;
        break;
      default: {
        HeaderMap trailers;
        trailers.add_lower_case("grpc-status", "0");
        codec_->send_trailers(id, trailers);
        s.response_ended = true;
        break;
      }
    }
  }

  uint8_t options_;
  Rng& rng_;
  const Http2Options& limits_;
  Http2ServerCodec* codec_ = nullptr;
  std::map<int32_t, StreamState> streams_;
  std::set<int32_t> opened_;
  OutputChecker output_;
};

Http2Options options_for(uint8_t bits) {
  Http2Options o;
  if (bits & kSmallLimits) {
    o.max_concurrent_streams = 4;
    o.initial_stream_window_size = 65535;
    o.initial_connection_window_size = 65535;
    o.hpack_table_size = 256;
    o.max_outbound_frames = 64;
    o.max_outbound_control_frames = 16;
    o.max_inbound_priority_frames_per_stream = 4;
    o.max_inbound_window_update_frames_per_data_frame_sent = 2;
    o.premature_reset_total_stream_count = 8;
    o.max_header_bytes = 256;
    o.max_headers = 8;
  } else {
    o.max_concurrent_streams = 100;
  }
  return o;
}

}  // namespace
}  // namespace weir::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir::http;
  if (size < 5 || size > 256 * 1024) return 0;
  const uint8_t bits = data[0];
  uint32_t seed;
  std::memcpy(&seed, data + 1, 4);
  Rng rng{seed | 1};
  std::string input;
  if (bits & kPreface) input.append(kClientPreface);
  input.append(reinterpret_cast<const char*>(data + 5), size - 5);

  const Http2Options options = options_for(bits);
  Visitor visitor(bits, rng, options);
  Http2ServerCodec codec(visitor, options);
  visitor.attach(&codec);
  codec.set_send_watermarks(32768, 16384);
  codec.start();
  codec.flush();
  visitor.check_output_whole();

  size_t offset = 0;
  bool open = true;
  bool goaway_done = false;
  while (offset < input.size() && open) {
    const size_t piece = std::min<size_t>(input.size() - offset, 1 + rng.next() % 600);
    open = codec.feed(std::string_view(input).substr(offset, piece));
    offset += piece;
    visitor.between_feeds();
    if ((bits & kGoawayMidway) && !goaway_done && offset * 2 >= input.size()) {
      codec.goaway();
      goaway_done = true;
    }
    if (!(bits & kSkipSomeFlushes) || !open || rng.one_in(2)) {
      if (!codec.flush()) open = false;
      codec.note_output_drained();
      visitor.check_output_whole();
    }
  }
  // Whatever is left goes out; the connection ends (streams still open are reset when the
  // codec goes away, which the visitor accepts).
  visitor.between_feeds();
  codec.flush();
  visitor.check_output_whole();
  return 0;
}
