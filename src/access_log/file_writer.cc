#include "access_log/file_writer.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weir::access_log {

FileWriter::FileWriter() {
  // Signals belong to the main loop's signalfd: the thread starts with all of them
  // blocked, or a SIGTERM could land here and end the process without a drain.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  thread_ = std::thread([this] { run(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

FileWriter::~FileWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  for (const auto& [path, fd] : files_) close(fd);
}

Result<int> FileWriter::open(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = files_.find(path); it != files_.end()) return it->second;
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Error{"cannot open access log '" + path + "': " + std::strerror(errno)};
  files_.emplace(path, fd);
  return fd;
}

void FileWriter::submit(int file, std::string data) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace_back(file, std::move(data));
  }
  wake_.notify_one();
}

void FileWriter::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) return;
    auto [fd, data] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        spdlog::warn("access log write failed: {}", std::strerror(errno));
        break;
      }
      done += static_cast<size_t>(n);
    }
    lock.lock();
  }
}

}  // namespace weir::access_log
