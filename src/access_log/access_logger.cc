#include "access_log/access_logger.h"

namespace weir::access_log {

Result<std::shared_ptr<ListenerAccessLogs>> ListenerAccessLogs::create(
    const std::vector<config::AccessLogConfig>& configs, std::shared_ptr<FileWriter> writer) {
  auto logs = std::make_shared<ListenerAccessLogs>();
  logs->writer_ = std::move(writer);
  for (const auto& config : configs) {
    auto format = LogFormat::parse(config.format.empty() ? kDefaultFormat : config.format);
    if (!format) return Error{config.location.format_message(format.error())};
    auto file = logs->writer_->open(config.path);
    if (!file) return Error{config.location.format_message(file.error())};
    logs->sinks_.push_back({std::move(*format), *file});
  }
  return logs;
}

std::unique_ptr<WorkerAccessLogger> ListenerAccessLogs::create_worker_logger(
    event::EventLoop& loop) const {
  if (sinks_.empty()) return nullptr;
  return std::make_unique<WorkerAccessLogger>(*this, loop);
}

WorkerAccessLogger::WorkerAccessLogger(const ListenerAccessLogs& logs, event::EventLoop& loop)
    : logs_(logs), writer_(logs.writer_), loop_(loop), buffers_(logs.sinks_.size()) {}

WorkerAccessLogger::~WorkerAccessLogger() {
  if (flush_timer_) loop_.cancel_timer(flush_timer_);
  flush_timer_ = 0;
  flush();
}

void WorkerAccessLogger::log(const LogRecord& record) {
  bool full = false;
  for (size_t i = 0; i < buffers_.size(); ++i) {
    logs_.sinks_[i].format.format(record, buffers_[i]);
    full = full || buffers_[i].size() >= kFlushBytes;
  }
  if (full) {
    flush();
  } else if (!flush_timer_) {
    flush_timer_ = loop_.add_timer(kFlushInterval, [this] {
      flush_timer_ = 0;
      flush();
    });
  }
}

void WorkerAccessLogger::flush() {
  for (size_t i = 0; i < buffers_.size(); ++i) {
    if (buffers_[i].empty()) continue;
    writer_->submit(logs_.sinks_[i].file, std::move(buffers_[i]));
    buffers_[i] = std::string();
    buffers_[i].reserve(4096);
  }
}

}  // namespace weir::access_log
