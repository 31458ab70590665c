#include "net/acceptor.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace weir::net {
namespace {

// One log line per this interval for the whole process, however many listeners and
// workers pause: an exhausted process must not also fill its disk with logs.
constexpr auto kLogInterval = std::chrono::seconds(10);
std::atomic<int64_t> last_log_ns{INT64_MIN};
std::atomic<uint64_t> pauses_since_log{0};

bool is_resource_exhaustion(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

// Failures that concern one pending connection only (it was reset before we took it, a
// firewall rule refused it): the next one may be fine.
bool is_per_connection(int error) {
  return error == ECONNABORTED || error == EPROTO || error == EPERM || error == EINTR;
}

}  // namespace

Acceptor::Acceptor(event::EventLoop& loop, int listen_fd, Options options, OnAccept on_accept,
                   OnPause on_pause)
    : loop_(loop),
      listen_fd_(listen_fd),
      options_(std::move(options)),
      on_accept_(std::move(on_accept)),
      on_pause_(std::move(on_pause)) {
  start_watching();
}

Acceptor::~Acceptor() { stop(); }

void Acceptor::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (resume_timer_ != 0) loop_.cancel_timer(resume_timer_);
  resume_timer_ = 0;
  loop_.unwatch(listen_fd_);
}

void Acceptor::start_watching() {
  loop_.watch_shared_listener(listen_fd_, [this](uint32_t events) {
    if (events & event::kWatchFailed) {
      pause(ENOMEM);  // epoll could not take it (out of memory or watches): retry later
      return;
    }
    accept_ready();
  });
}

void Acceptor::accept_ready() {
  for (uint32_t accepted = 0; accepted < options_.max_per_event && !stopped_;) {
    Address peer;
    peer.length = sizeof peer.storage;
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer.storage), &peer.length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      ++accepted;
      on_accept_(fd, peer);
      continue;
    }
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) return;
    if (is_per_connection(error)) continue;
    // Out of descriptors or memory, or anything unexpected: retrying at once would fail
    // again, and the listener stays readable.
    pause(error);
    return;
  }
}

void Acceptor::pause(int error) {
  if (stopped_ || resume_timer_ != 0) return;
  loop_.unwatch(listen_fd_);
  if (on_pause_) on_pause_(error);
  const uint64_t pauses = pauses_since_log.fetch_add(1) + 1;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_log_ns.load();
  const int64_t interval = std::chrono::nanoseconds(kLogInterval).count();
  if ((last == INT64_MIN || now - last >= interval) &&
      last_log_ns.compare_exchange_strong(last, now)) {
    pauses_since_log.store(0);
    spdlog::warn(
        "listener {}: accept failed: {}{}; not accepting for {} ms ({} pause(s) in all "
        "listeners since the last such line; at most one line per {} s)",
        options_.name, strerror(error),
        is_resource_exhaustion(error) ? " (out of file descriptors or memory)" : "",
        options_.pause.count(), pauses, kLogInterval.count());
  }
  resume_timer_ = loop_.add_timer(options_.pause, [this] {
    resume_timer_ = 0;
    if (stopped_) return;
    start_watching();
  });
}

}  // namespace weir::net
