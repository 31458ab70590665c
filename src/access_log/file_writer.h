#pragma once
// The one thread that writes access log files. Workers never write files themselves:
// they hand over whole buffers of formatted lines, so a slow disk delays only this
// thread (and lines pile up in memory) while requests keep flowing.
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

namespace weir::access_log {

class FileWriter {
 public:
  FileWriter();
  // Writes everything handed over, then stops the thread and closes the files.
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // Opens `path` for appending (once per path; later calls give the same file).
  Result<int> open(const std::string& path);
  // Queues `data` for the file open() returned; never blocks on I/O.
  void submit(int file, std::string data);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<int, std::string>> queue_;
  bool stopping_ = false;
  std::map<std::string, int> files_;  // path -> fd
  std::thread thread_;
};

}  // namespace weir::access_log
