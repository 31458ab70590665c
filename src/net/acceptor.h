#pragma once
// Accepts connections from a listening socket shared with other event loops. When
// accept() fails because the process or the kernel ran out of something (EMFILE, ENFILE,
// ENOBUFS, ENOMEM), the listener stays readable: watching it level-triggered would spin a
// core and log on every wake-up. The acceptor stops watching for a moment instead (as
// nginx does, 500 ms), logs one line at most every few seconds, and resumes; the pending
// connections wait in the kernel's backlog meanwhile.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "event/event_loop.h"
#include "net/address.h"

namespace weir::net {

class Acceptor {
 public:
  struct Options {
    std::string name;  // the listener's, for log lines
    // Envoy's max_connections_to_accept_per_socket_event: more wait for the next wake-up,
    // so a flood of connections cannot starve the established ones.
    uint32_t max_per_event = 64;
    std::chrono::milliseconds pause{500};
  };
  // Owns the accepted fd (non-blocking, close-on-exec).
  using OnAccept = std::function<void(int fd, const Address& peer)>;
  // Accepting paused; `error` is accept()'s errno.
  using OnPause = std::function<void(int error)>;

  Acceptor(event::EventLoop& loop, int listen_fd, Options options, OnAccept on_accept,
           OnPause on_pause);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Stops accepting for good (draining); the listening socket stays open.
  void stop();
  bool paused() const { return resume_timer_ != 0; }

 private:
  void start_watching();
  void accept_ready();
  void pause(int error);

  event::EventLoop& loop_;
  const int listen_fd_;
  const Options options_;
  OnAccept on_accept_;
  OnPause on_pause_;
  bool stopped_ = false;
  event::EventLoop::TimerId resume_timer_ = 0;
};

}  // namespace weir::net
