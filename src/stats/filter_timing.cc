#include "stats/filter_timing.h"

#include <chrono>

namespace weir::stats {

namespace {

using Clock = std::chrono::steady_clock;

class TimedFilter : public proxy::HttpFilter {
 public:
  TimedFilter(std::unique_ptr<proxy::HttpFilter> inner, Histogram& time_us)
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
    timed([&] {
      inner_->on_stream_complete();
      return proxy::FilterStatus::Continue;
    });
    time_us_.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(spent_).count()));
  }

 private:
  template <typename Call>
  proxy::FilterStatus timed(Call&& call) {
    auto start = Clock::now();
    proxy::FilterStatus status = call();
    spent_ += Clock::now() - start;
    return status;
  }

  std::unique_ptr<proxy::HttpFilter> inner_;
  Histogram& time_us_;
  Clock::duration spent_{0};
};

class TimedFilterFactory : public proxy::HttpFilterFactory {
 public:
  TimedFilterFactory(std::unique_ptr<proxy::HttpFilterFactory> inner, Histogram& time_us)
      : inner_(std::move(inner)), time_us_(time_us) {}

  std::unique_ptr<proxy::HttpFilter> create_filter(proxy::HttpFilterCallbacks& callbacks) override {
    return std::make_unique<TimedFilter>(inner_->create_filter(callbacks), time_us_);
  }

 private:
  std::unique_ptr<proxy::HttpFilterFactory> inner_;
  Histogram& time_us_;
};

}  // namespace

std::unique_ptr<proxy::HttpFilterFactory> timed_filter_factory(
    std::unique_ptr<proxy::HttpFilterFactory> inner, Histogram& time_us) {
  return std::make_unique<TimedFilterFactory>(std::move(inner), time_us);
}

}  // namespace weir::stats
