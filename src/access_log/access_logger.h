#pragma once
// Access logs of one http_connection_manager. ListenerAccessLogs is built once on the
// main thread from config; each worker gets its own WorkerAccessLogger, which formats a
// finished stream into a per-file buffer on the worker and hands full buffers (or, at
// the latest, each flush interval) to the FileWriter thread.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "access_log/file_writer.h"
#include "access_log/log_format.h"
#include "common/result.h"
#include "config/config.h"
#include "event/event_loop.h"

namespace weir::access_log {

class WorkerAccessLogger;

class ListenerAccessLogs {
 public:
  static Result<std::shared_ptr<ListenerAccessLogs>> create(
      const std::vector<config::AccessLogConfig>& configs, std::shared_ptr<FileWriter> writer);
  std::unique_ptr<WorkerAccessLogger> create_worker_logger(event::EventLoop& loop) const;

 private:
  friend class WorkerAccessLogger;
  struct Sink {
    LogFormat format;
    int file;
  };
  std::vector<Sink> sinks_;
  std::shared_ptr<FileWriter> writer_;
};

class WorkerAccessLogger {
 public:
  // Lines wait at most this long before they are handed to the writer (Envoy's
  // access_log_flush_interval default), or until a buffer holds kFlushBytes.
  static constexpr std::chrono::milliseconds kFlushInterval{1000};
  static constexpr size_t kFlushBytes = 64 * 1024;

  WorkerAccessLogger(const ListenerAccessLogs& logs, event::EventLoop& loop);
  ~WorkerAccessLogger();  // hands over what is still buffered
  void log(const LogRecord& record);
  void flush();

 private:
  const ListenerAccessLogs& logs_;
  std::shared_ptr<FileWriter> writer_;  // outlives this logger's last flush
  event::EventLoop& loop_;
  std::vector<std::string> buffers_;  // one per sink
  event::EventLoop::TimerId flush_timer_ = 0;
};

}  // namespace weir::access_log
