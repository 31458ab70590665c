#include "net/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "net/socket.h"
#include "net/tls/tls_socket.h"

namespace weir::net {

namespace {
std::atomic<uint64_t> next_connection_id{1};
constexpr size_t kReadChunk = 64 * 1024;
// An output buffer this large is given back once it drains, so that an idle connection
// does not keep the memory of its largest burst.
constexpr size_t kKeptOutputCapacity = 256 * 1024;
}  // namespace

Connection::Connection(event::EventLoop& loop, int fd, bool connecting,
                       std::unique_ptr<tls::TlsSocket> tls)
    : loop_(loop),
      fd_(fd),
      id_(next_connection_id++),
      connecting_(connecting || tls != nullptr),
      tcp_connecting_(connecting),
      tls_(std::move(tls)) {
  loop_.watch(fd_, [this](uint32_t events) { on_events(events); });
}

Connection::~Connection() {
  if (handshake_timer_ != 0) loop_.cancel_timer(handshake_timer_);
  if (fd_ >= 0) {
    loop_.unwatch(fd_);
    ::close(fd_);
  }
}

void Connection::on_events(uint32_t events) {
  if (fd_ < 0) return;
  if (events & event::kWatchFailed) {
    finish_close(false, "the event loop cannot watch the socket");
    return;
  }
  if (connecting_) {
    if (tcp_connecting_) {
      if (!(events & (event::kWritable | event::kClosed))) return;
      int err = socket_error(fd_);
      if (err != 0) {
        finish_close(false, strerror(err));
        return;
      }
      tcp_connecting_ = false;
    }
    if (tls_) {
      if (!continue_handshake()) return;
      // Application data may have come with the handshake's last flight: look now.
      events |= event::kReadable | event::kWritable;
    } else {
      connecting_ = false;
      if (handler_) handler_->on_connected();
      if (fd_ < 0) return;
    }
  }
  if (events & event::kClosed) {
    hangup_seen_ = true;
    if (!reading_ && close_on_hangup_while_paused_) {
      finish_close(true, "connection closed by peer");
      return;
    }
    // A half-close is the peer's end of input, read in turn; a reset (the kernel dropped
    // what was unread) ends the connection now, even while reading is paused.
    if (!reading_ && half_close_) {
      if (int err = socket_error(fd_); err != 0) {
        finish_close(true, strerror(err));
        return;
      }
    }
  }
  if (events & event::kWritable) flush();
  if (fd_ < 0) return;
  if (events & (event::kReadable | event::kClosed)) {
    socket_drained_ = false;
    read_available();
  }
}

bool Connection::continue_handshake() {
  switch (tls_->handshake()) {
    case tls::TlsSocket::Step::Again:
      return false;
    case tls::TlsSocket::Step::Failed:
      finish_close(false, "TLS handshake failed: " + tls_->error());
      return false;
    case tls::TlsSocket::Step::Done:
      break;
  }
  if (handshake_timer_ != 0) loop_.cancel_timer(handshake_timer_);
  handshake_timer_ = 0;
  connecting_ = false;
  if (handler_) handler_->on_connected();
  return fd_ >= 0;
}

void Connection::set_handshake_timeout(std::chrono::milliseconds timeout) {
  if (!tls_ || !connecting_ || fd_ < 0) return;
  if (handshake_timer_ != 0) loop_.cancel_timer(handshake_timer_);
  handshake_timer_ = loop_.add_timer(timeout, [this] {
    handshake_timer_ = 0;
    if (fd_ < 0 || !connecting_) return;
    tls_->on_handshake_timeout();
    finish_close(false, "TLS handshake timed out");
  });
}

// The plaintext path stays a direct syscall: one predictable branch, no indirection.
ssize_t Connection::receive(char* buffer, size_t size) {
  if (tls_) {
    [[unlikely]] return tls_->read(buffer, size);
  }
  return ::recv(fd_, buffer, size, 0);
}

ssize_t Connection::send_some(const char* data, size_t size) {
  if (tls_) {
    [[unlikely]] return tls_->write(data, size);
  }
  return ::send(fd_, data, size, MSG_NOSIGNAL);
}

void Connection::read_available() {
  // One scratch buffer per thread: growing input_ by a whole chunk before each read would
  // zero-fill 64 KiB per call.
  thread_local char scratch[kReadChunk];
  // Half-closed and reported: what is held is handed over by redeliver() only.
  if (read_close_reported_) return;
  // Reading stops while a buffer limit of input waits unconsumed (a paused pipelining
  // client, a handler that is itself stopped).
  while (fd_ >= 0 && reading_ && !peer_closed_ && input_.size() < high_watermark_) {
    ssize_t n = receive(scratch, kReadChunk);
    if (n > 0) {
      input_.append(scratch, static_cast<size_t>(n));
      bytes_read_ += static_cast<uint64_t>(n);
      // Drained: skip the EAGAIN round trip (a later arrival raises a new edge), unless the
      // peer hung up, which raises none. TLS hands over one record at a time, so a short
      // read says nothing there: read on until OpenSSL wants more from the socket.
      if (static_cast<size_t>(n) < kReadChunk && !hangup_seen_ && !tls_) {
        socket_drained_ = true;
        break;
      }
      continue;
    }
    if (n == 0) {
      peer_closed_ = true;
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      socket_drained_ = !tls_;  // OpenSSL may still hold a record: TLS always reads
      break;
    }
    if (errno == EINTR) continue;
    finish_close(true, strerror(errno));
    return;
  }
  // Stopped by the limit rather than by an empty socket: the kernel may hold more, and
  // being edge-triggered, nothing will say so.
  const bool stopped_at_limit =
      fd_ >= 0 && reading_ && !peer_closed_ && input_.size() >= high_watermark_;
  if (fd_ >= 0 && reading_ && !input_.empty() && handler_) handler_->on_data(input_);
  if (fd_ >= 0 && peer_closed_ && !closing_) {
    if (half_close_) {
      report_read_closed();
      return;
    }
    finish_close(true, "connection closed by peer");
    return;
  }
  // The handler took the input and still reads: have the loop report this socket again
  // (re-arming an edge-triggered watch reports it if readable), rather than read on here
  // and keep other connections waiting.
  if (stopped_at_limit && fd_ >= 0 && reading_ && input_.size() < high_watermark_) {
    loop_.watch(fd_, [this](uint32_t events) { on_events(events); });
  }
}

void Connection::redeliver() {
  if (fd_ < 0 || !reading_) return;
  if (!input_.empty() && handler_) handler_->on_data(input_);
  if (fd_ >= 0 && !peer_closed_) {
    if (!socket_drained_) read_available();
  } else if (fd_ >= 0 && peer_closed_ && !closing_ && half_close_) {
    report_read_closed();
  } else if (fd_ >= 0 && peer_closed_ && !closing_) {
    finish_close(true, "connection closed by peer");
  }
}

void Connection::report_read_closed() {
  if (read_close_reported_) return;
  read_close_reported_ = true;
  if (handler_) handler_->on_read_closed();
}

void Connection::shutdown_write() {
  if (fd_ < 0 || write_shut_) return;
  shutdown_write_pending_ = true;
  if (!connecting_ && pending_output() == 0) {
    write_shut_ = true;
    ::shutdown(fd_, SHUT_WR);
  }
}

void Connection::set_reading(bool on) { reading_ = on; }

void Connection::set_buffer_limit(uint32_t bytes) {
  high_watermark_ = bytes > 0 ? bytes : 1;
  low_watermark_ = high_watermark_ / 2;
}

void Connection::write(std::string_view data) {
  if (fd_ < 0 || closing_ || shutdown_write_pending_) return;
  if (pending_output() == 0) {
    output_.clear();
    output_offset_ = 0;
  } else if (output_offset_ >= output_.size() / 2) {
    // Drop what was sent once it is the larger half: a peer that never lets the buffer
    // drain completely would otherwise keep everything ever sent to it. Amortized, each
    // byte is moved at most once.
    output_.erase(0, output_offset_);
    output_offset_ = 0;
  }
  output_.append(data);
  if (!connecting_) flush();
  if (fd_ >= 0 && !above_high_watermark_ && pending_output() > high_watermark_) {
    above_high_watermark_ = true;
    if (handler_) handler_->on_above_write_high_watermark();
  }
}

void Connection::flush() {
  while (fd_ >= 0 && pending_output() > 0) {
    ssize_t n = send_some(output_.data() + output_offset_, pending_output());
    if (n > 0) {
      output_offset_ += static_cast<size_t>(n);
      bytes_written_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    finish_close(true, n < 0 ? strerror(errno) : "write failed");
    return;
  }
  if (fd_ < 0) return;
  if (above_high_watermark_ && pending_output() <= low_watermark_) {
    above_high_watermark_ = false;
    if (handler_) handler_->on_below_write_low_watermark();
    if (fd_ < 0) return;
  }
  if (pending_output() > 0) return;
  output_.clear();
  output_offset_ = 0;
  if (output_.capacity() > kKeptOutputCapacity) std::string().swap(output_);
  if (shutdown_write_pending_ && !write_shut_) {
    write_shut_ = true;
    ::shutdown(fd_, SHUT_WR);
  }
  if (closing_) {
    finish_close(false, "closed locally");
    return;
  }
  if (handler_) handler_->on_write_drained();
}

void Connection::close(bool now) {
  if (fd_ < 0) return;
  if (now || pending_output() == 0 || connecting_) {
    finish_close(false, "closed locally");
    return;
  }
  closing_ = true;  // flush() finishes the close
  ::shutdown(fd_, SHUT_RD);
}

void Connection::finish_close(bool by_peer, std::string_view reason) {
  if (fd_ < 0) return;
  loop_.unwatch(fd_);
  if (handshake_timer_ != 0) loop_.cancel_timer(handshake_timer_);
  handshake_timer_ = 0;
  if (!by_peer) {
    if (tls_) tls_->shutdown();  // close_notify: the peer can tell a close from a truncation
    discard_unread_input();
  }
  ::close(fd_);
  fd_ = -1;
  closing_ = false;
  if (handler_) handler_->on_close(by_peer, reason);
}

// Closing a socket whose receive queue holds unread bytes sends a reset, and a reset can
// destroy the response the peer has not read yet (a 400 or 431 for a request weir stopped
// reading). What has already arrived is read and dropped first, within a bound; bytes still
// in flight can still cause a reset (nginx's lingering close would wait for them).
void Connection::discard_unread_input() {
  char scratch[16384];
  for (size_t dropped = 0; dropped < kMaxDiscardedOnClose;) {
    ssize_t n = ::recv(fd_, scratch, sizeof(scratch), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    dropped += static_cast<size_t>(n);
  }
}

}  // namespace weir::net
