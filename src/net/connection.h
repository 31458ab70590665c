#pragma once
// A non-blocking TCP connection on an event loop, with an input buffer the handler
// consumes from and an output buffer flushed as the socket allows.
//
// Flow control follows Envoy's watermarks: the buffer limit (per_connection_buffer_limit_bytes)
// caps what is read ahead of the handler, and is the output buffer's high watermark; half
// of it is the low watermark. Crossing them is reported to the handler, which stops and
// resumes reading whatever feeds this connection.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "event/event_loop.h"
#include "net/tls/tls_socket.h"

namespace weir::net {

class Connection {
 public:
  static constexpr uint32_t kDefaultBufferLimit = 1024 * 1024;  // Envoy's default

  class Handler {
   public:
    virtual ~Handler() = default;
    // New bytes are in `input`; erase what was consumed (the rest stays for next time).
    virtual void on_data(std::string& input) = 0;
    // A non-blocking connect finished, and the TLS handshake when there is one (a failure
    // closes instead: on_close follows).
    virtual void on_connected() {}
    // All written data reached the kernel.
    virtual void on_write_drained() {}
    // The output buffer went over the high watermark / came back under the low one. They
    // alternate, starting with "above"; called from write() and from flushing.
    virtual void on_above_write_high_watermark() {}
    virtual void on_below_write_low_watermark() {}
    // With half-close enabled: the peer shut down its sending side; no more input comes,
    // and writing goes on. Called once, after on_data has seen the last bytes.
    virtual void on_read_closed() {}
    // Called once; the connection is closed and may be destroyed (not from inside this
    // call: defer the delete).
    virtual void on_close(bool by_peer, std::string_view reason) = 0;
  };

  // Takes ownership of `fd`. `connecting`: a non-blocking connect is in progress. `tls`: the
  // connection is TLS (null: plaintext, which then never touches OpenSSL); it is
  // "connecting" until its handshake is done, and buffers what is written until then.
  Connection(event::EventLoop& loop, int fd, bool connecting,
             std::unique_ptr<tls::TlsSocket> tls = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void set_handler(Handler* handler) { handler_ = handler; }
  // The high watermark of the output buffer and the cap on unconsumed input (at least 1).
  void set_buffer_limit(uint32_t bytes);
  void write(std::string_view data);
  // Flushes what is buffered, then closes. `now` drops unsent data.
  void close(bool now = false);
  // Stops delivering on_data until resumed (back pressure, pipelining). Edge-triggered
  // events do not repeat: after resuming, call redeliver() (outside this connection's
  // own callbacks) to hand over what is buffered and read what the kernel holds.
  void set_reading(bool on);
  bool reading() const { return reading_; }
  // While reading is stopped, a hang-up from the peer closes the connection at once
  // instead of waiting until reading resumes (Envoy's early close detection). For clients,
  // whose half-close ends the exchange anyway; not for upstreams, whose response may end
  // with their close.
  void set_close_on_hangup_while_paused(bool on) { close_on_hangup_while_paused_ = on; }
  // Half-close (a TCP proxy passes the peer's shutdown on): the peer's end of input is
  // reported with on_read_closed() instead of closing the connection.
  void enable_half_close(bool on) { half_close_ = on; }
  bool read_closed() const { return peer_closed_; }
  // Shuts down the sending side once everything buffered is sent (the peer reads an end
  // of stream); reading goes on.
  void shutdown_write();
  // Re-runs on_data with what is buffered (e.g. after a pipelined request was answered).
  void redeliver();

  // A TLS connection still handshaking after `timeout` is closed (Envoy's
  // transport_socket_connect_timeout).
  void set_handshake_timeout(std::chrono::milliseconds timeout);
  // The TLS session's facts once its handshake is done; null for plaintext.
  const tls::TlsInfo* tls_info() const {
    return tls_ && tls_->handshake_done() ? &tls_->info() : nullptr;
  }
  // The protocol ALPN chose ("h2", "http/1.1"), "" for plaintext or when none was.
  std::string_view negotiated_protocol() const {
    return tls_ ? tls_->negotiated_protocol() : std::string_view();
  }

  bool is_open() const { return fd_ >= 0 && !closing_; }
  bool connecting() const { return connecting_; }
  size_t pending_output() const { return output_.size() - output_offset_; }
  bool above_write_high_watermark() const { return above_high_watermark_; }
  int fd() const { return fd_; }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }
  uint64_t id() const { return id_; }

 private:
  void on_events(uint32_t events);
  // Drives the TLS handshake: true once done and still open.
  bool continue_handshake();
  ssize_t receive(char* buffer, size_t size);
  ssize_t send_some(const char* data, size_t size);
  void read_available();
  void flush();
  void finish_close(bool by_peer, std::string_view reason);
  void discard_unread_input();
  void report_read_closed();
  static constexpr size_t kMaxDiscardedOnClose = 256 * 1024;

  event::EventLoop& loop_;
  int fd_;
  uint64_t id_;
  bool connecting_;
  bool tcp_connecting_;  // the TCP connect itself (connecting_ also covers TLS)
  bool closing_ = false;
  bool reading_ = true;
  bool peer_closed_ = false;
  bool hangup_seen_ = false;
  // The last read found the socket empty (a short read or EAGAIN): only a new edge brings
  // more, so redeliver() need not ask the kernel again (one failed recv per request saved).
  bool socket_drained_ = false;
  bool above_high_watermark_ = false;
  bool close_on_hangup_while_paused_ = false;
  bool half_close_ = false;
  bool read_close_reported_ = false;
  bool shutdown_write_pending_ = false;
  bool write_shut_ = false;
  Handler* handler_ = nullptr;
  size_t high_watermark_ = kDefaultBufferLimit;
  size_t low_watermark_ = kDefaultBufferLimit / 2;
  std::string input_;
  std::string output_;
  size_t output_offset_ = 0;  // bytes of output_ already sent
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
  std::unique_ptr<tls::TlsSocket> tls_;
  event::EventLoop::TimerId handshake_timer_ = 0;
};

}  // namespace weir::net
