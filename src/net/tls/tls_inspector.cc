#include "net/tls/tls_inspector.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace weir::net::tls {
namespace {
constexpr unsigned char kHandshakeRecord = 22;  // TLS record content type (RFC 8446 §5.1)
}

TlsInspector::TlsInspector(event::EventLoop& loop, int fd, const TlsInspectorConfig& config,
                           Done done)
    : loop_(loop), fd_(fd), config_(config), done_(std::move(done)) {
  timer_ = loop_.add_timer(config_.timeout, [this] {
    timer_ = 0;
    config_.stats.downstream_pre_cx_timeout.inc();
    finish(config_.continue_on_timeout ? Transport::RawBuffer : Transport::Closed);
  });
  // Edge-triggered: a byte already waiting raises the first edge when the watch starts.
  if (!loop_.watch(fd_, [this](uint32_t events) { on_events(events); })) {
    loop_.defer([this] { finish(Transport::Closed); });
  }
}

TlsInspector::~TlsInspector() {
  if (timer_ != 0) loop_.cancel_timer(timer_);
  if (!finished_ && fd_ >= 0) {
    loop_.unwatch(fd_);
    ::close(fd_);
  }
}

void TlsInspector::on_events(uint32_t events) {
  if (finished_) return;
  if (events & event::kWatchFailed) {
    finish(Transport::Closed);
    return;
  }
  unsigned char first = 0;
  const ssize_t n = ::recv(fd_, &first, 1, MSG_PEEK);
  if (n == 1) {
    const bool tls = first == kHandshakeRecord;
    (tls ? config_.stats.tls_found : config_.stats.tls_not_found).inc();
    finish(tls ? Transport::Tls : Transport::RawBuffer);
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  finish(Transport::Closed);  // the client hung up before a byte, or the socket failed
}

void TlsInspector::finish(Transport transport) {
  if (finished_) return;
  finished_ = true;
  if (timer_ != 0) loop_.cancel_timer(timer_);
  timer_ = 0;
  loop_.unwatch(fd_);
  if (transport == Transport::Closed) ::close(fd_);
  Done done = std::move(done_);
  done(transport);
}

}  // namespace weir::net::tls
