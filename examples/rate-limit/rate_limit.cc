// rate-limit: a token bucket shared by every worker (Proxy-Wasm shared data, updated with
// compare-and-swap). Each request takes a token; with none left it gets 429 and a
// `retry-after` header (seconds until the next refill). Every root context's timer (tick)
// checks whether a refill is due; the compare-and-swap makes exactly one worker do it.
//
// Configuration ("key: value" lines): capacity (default 3), tokens_per_refill (default:
// capacity), refill_interval_ms (default 5000).
// Metrics: rate_limit.allowed, rate_limit.limited (counters), rate_limit.tokens (gauge).
#include <algorithm>
#include <optional>
#include <string>

#include "weir/plugin.h"

namespace {

constexpr uint64_t kNsPerMs = 1000 * 1000;
constexpr uint64_t kNsPerSecond = 1000 * kNsPerMs;

// The bucket as stored in shared data: "<tokens> <next refill, ns since the epoch>".
struct Bucket {
  uint64_t tokens = 0;
  uint64_t next_refill_ns = 0;

  static std::optional<Bucket> parse(std::string_view text) {
    size_t space = text.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    auto tokens = weir::sdk::parse_uint(text.substr(0, space));
    auto next = weir::sdk::parse_uint(text.substr(space + 1));
    if (!tokens || !next) return std::nullopt;
    return Bucket{*tokens, *next};
  }
  std::string str() const { return weir::str_cat(tokens, " ", next_refill_ns); }
};

using SharedValue = std::optional<std::string_view>;
using NewValue = std::optional<std::string>;

class RateLimitRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;

  bool on_configure(std::string_view configuration) override {
    auto config = weir::ConfigLines::parse(configuration);
    std::string error =
        config.ok() ? config.check_keys({"capacity", "tokens_per_refill", "refill_interval_ms"})
                    : config.error();
    auto cap = config.get_uint("capacity", 3);
    auto per_refill = config.get_uint("tokens_per_refill", cap.value_or(3));
    auto interval = config.get_uint("refill_interval_ms", 5000);
    if (error.empty() && (!cap || !per_refill || !interval || *cap == 0 || *interval == 0)) {
      error = "capacity, tokens_per_refill and refill_interval_ms must be positive numbers";
    }
    if (!error.empty()) {
      LOG_ERROR("rate-limit: bad configuration: ", error);
      return false;
    }
    capacity_ = *cap;
    tokens_per_refill_ = *per_refill;
    interval_ns_ = *interval * kNsPerMs;
    key_ = weir::str_cat("rate_limit.bucket.", root_id());
    allowed_ = weir::Counter::define("rate_limit.allowed");
    limited_ = weir::Counter::define("rate_limit.limited");
    tokens_ = weir::Gauge::define("rate_limit.tokens");

    // The first VM to start creates the bucket, full; the others find it there.
    const uint64_t now = weir::current_time_ns();
    weir::Status created = weir::update_shared_data(key_, [&](SharedValue current) -> NewValue {
      if (current && Bucket::parse(*current)) return std::nullopt;
      return Bucket{capacity_, now + interval_ns_}.str();
    });
    if (created != weir::Status::Ok) {
      LOG_ERROR("rate-limit: cannot use shared data: ", created);
      return false;  // a limiter that cannot share its bucket would limit per worker
    }
    // Check for a due refill often enough that it is never much late.
    weir::set_tick_period_ms(static_cast<uint32_t>(std::min<uint64_t>(*interval, 100)));
    return true;
  }

  void on_tick() override {
    const uint64_t now = weir::current_time_ns();
    std::optional<uint64_t> refilled_to;
    weir::update_shared_data(key_, [&](SharedValue current) -> NewValue {
      refilled_to.reset();
      std::optional<Bucket> bucket = current ? Bucket::parse(*current) : std::nullopt;
      if (bucket && now < bucket->next_refill_ns) return std::nullopt;  // not due yet
      // Due (or the bucket is missing or unreadable: start again, full).
      uint64_t tokens = bucket ? bucket->tokens + tokens_per_refill_ : capacity_;
      Bucket next{std::min(capacity_, tokens), now + interval_ns_};
      refilled_to = next.tokens;
      return next.str();
    });
    if (refilled_to) tokens_.set(*refilled_to);
  }

  // Takes a token. Returns 0 when the request may go on, else the seconds until the next
  // refill (at least 1). When shared data fails, lets the request go (fails open).
  uint64_t take_token() {
    const uint64_t now = weir::current_time_ns();
    uint64_t retry_after_s = 0;
    uint64_t left = 0;
    weir::Status s = weir::update_shared_data(key_, [&](SharedValue current) -> NewValue {
      retry_after_s = 0;
      std::optional<Bucket> bucket = current ? Bucket::parse(*current) : std::nullopt;
      if (!bucket) return std::nullopt;  // no bucket (yet): let it through
      if (bucket->tokens == 0) {
        uint64_t wait_ns = bucket->next_refill_ns > now ? bucket->next_refill_ns - now : 0;
        retry_after_s = std::max<uint64_t>(1, (wait_ns + kNsPerSecond - 1) / kNsPerSecond);
        return std::nullopt;
      }
      --bucket->tokens;
      left = bucket->tokens;
      return bucket->str();
    });
    if (s != weir::Status::Ok) {
      LOG_WARN("rate-limit: shared data failed (", s, "); letting the request through");
      return 0;
    }
    if (retry_after_s == 0) {
      allowed_.increment();
      tokens_.set(left);
    } else {
      limited_.increment();
    }
    return retry_after_s;
  }

 private:
  uint64_t capacity_ = 3;
  uint64_t tokens_per_refill_ = 3;
  uint64_t interval_ns_ = 5 * kNsPerSecond;
  std::string key_;
  weir::Counter allowed_, limited_;
  weir::Gauge tokens_;
};

class RateLimitHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_request_headers(uint32_t, bool) override {
    uint64_t retry_after_s = root_as<RateLimitRoot>()->take_token();
    if (retry_after_s == 0) return weir::Action::Continue;
    std::string retry_after = weir::str_cat(retry_after_s);
    weir::send_local_response(429, "too many requests\n",
                              {{"retry-after", retry_after}, {"content-type", "text/plain"}},
                              "rate_limited");
    return weir::Action::Pause;
  }
};

weir::RegisterContextFactory registration(weir::root_factory<RateLimitRoot>,
                                          weir::http_factory<RateLimitHttp>, "rate_limit");

}  // namespace
