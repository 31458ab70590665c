#include "extensions/filters/http/common/filter_timing.h"

#include <time.h>

#include <type_traits>

namespace weir::extensions {

namespace {

// Nanoseconds on the monotonic clock (clock_gettime through the vDSO: no system call).
uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

class TimedFilter final : public proxy::HttpFilter {
 public:
  TimedFilter(std::unique_ptr<proxy::HttpFilter> inner, stats::Histogram& time_us)
      : inner_(std::move(inner)), time_us_(time_us) {}

  proxy::FilterStatus on_request_headers(http::HeaderMap& headers, bool end_stream) override {
    return timed([&] { return inner_->on_request_headers(headers, end_stream); });
  }
  proxy::FilterStatus on_request_body(std::string& chunk, bool end_stream) override {
    return timed([&] { return inner_->on_request_body(chunk, end_stream); });
  }
  proxy::FilterStatus on_request_trailers(http::HeaderMap& trailers) override {
    return timed([&] { return inner_->on_request_trailers(trailers); });
  }
  proxy::FilterStatus on_response_headers(http::HeaderMap& headers, bool end_stream) override {
    return timed([&] { return inner_->on_response_headers(headers, end_stream); });
  }
  proxy::FilterStatus on_response_body(std::string& chunk, bool end_stream) override {
    return timed([&] { return inner_->on_response_body(chunk, end_stream); });
  }
  proxy::FilterStatus on_response_trailers(http::HeaderMap& trailers) override {
    return timed([&] { return inner_->on_response_trailers(trailers); });
  }
  void on_stream_complete() override {
    timed([&] { inner_->on_stream_complete(); });
    time_us_.record(spent_ns_ / 1000);
  }

 private:
  // Runs one callback of the inner filter, adding its time to the stream's total.
  template <typename Callback>
  std::invoke_result_t<Callback> timed(Callback callback) {
    const uint64_t start = monotonic_ns();
    if constexpr (std::is_void_v<decltype(callback())>) {
      callback();
      spent_ns_ += monotonic_ns() - start;
    } else {
      auto result = callback();
      spent_ns_ += monotonic_ns() - start;
      return result;
    }
  }

  std::unique_ptr<proxy::HttpFilter> inner_;
  stats::Histogram& time_us_;
  uint64_t spent_ns_ = 0;
};

class TimedFilterFactory final : public proxy::HttpFilterFactory {
 public:
  TimedFilterFactory(std::unique_ptr<proxy::HttpFilterFactory> inner, stats::Histogram& time_us)
      : inner_(std::move(inner)), time_us_(time_us) {}

  std::unique_ptr<proxy::HttpFilter> create_filter(proxy::HttpFilterCallbacks& callbacks) override {
    return std::make_unique<TimedFilter>(inner_->create_filter(callbacks), time_us_);
  }

 private:
  std::unique_ptr<proxy::HttpFilterFactory> inner_;
  stats::Histogram& time_us_;
};

}  // namespace

std::unique_ptr<proxy::HttpFilterFactory> timed_filter_factory(
    std::unique_ptr<proxy::HttpFilterFactory> inner, stats::Histogram& time_us) {
  return std::make_unique<TimedFilterFactory>(std::move(inner), time_us);
}

}  // namespace weir::extensions
