#include "proxy/active_stream.h"

#include <spdlog/spdlog.h>

#include <charconv>

#include "common/spare_pool.h"
#include "common/string_pool.h"
#include "http/http1_writer.h"
#include "proxy/request_id.h"

namespace weir::proxy {

namespace {

// The Date header changes once a second: format it once a second per thread.
const std::string& http_date() {
  thread_local time_t cached_second = 0;
  thread_local std::string cached;
  time_t now = time(nullptr);
  if (now != cached_second) {
    char buf[64];
    tm t{};
    gmtime_r(&now, &t);
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &t);
    cached = buf;
    cached_second = now;
  }
  return cached;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

const config::UpgradeConfig* find_upgrade(const std::vector<config::UpgradeConfig>& configs,
                                          std::string_view type) {
  for (const auto& config : configs) {
    if (equals_ignoring_case(config.upgrade_type, type)) return &config;
  }
  return nullptr;
}

uint32_t status_of(const http::HeaderMap& h) {
  auto s = h.get(http::KnownHeader::kStatus);
  if (!s) return 0;
  uint32_t v = 0;
  for (char c : *s) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v;
}

}  // namespace

// What filter `index` sees as its callbacks: everything goes to the stream, but a
// continue resumes only a direction this filter stopped.
class ActiveStream::FilterHandle : public HttpFilterCallbacks {
 public:
  FilterHandle(ActiveStream& stream, size_t index) : stream_(stream), index_(index) {}
  void continue_request() override { stream_.continue_request_from(index_); }
  void continue_response() override { stream_.continue_response_from(index_); }
  void send_local_reply(uint32_t status, std::string_view body, const http::HeaderMap& headers,
                        std::string_view details) override {
    stream_.send_local_reply(status, body, headers, details);
  }
  http::HeaderMap* request_headers() override { return stream_.request_headers(); }
  http::HeaderMap* response_headers() override { return stream_.response_headers(); }
  http::HeaderMap* request_trailers() override { return stream_.request_trailers(); }
  http::HeaderMap* response_trailers() override { return stream_.response_trailers(); }
  StreamInfo& stream_info() override { return stream_.stream_info(); }
  const config::Route* route() override { return stream_.route(); }
  const config::ClusterConfig* cluster_config(std::string_view name) override {
    return stream_.cluster_config(name);
  }
  void clear_route_cache() override { stream_.clear_route_cache(); }
  void reset_stream() override { stream_.reset_stream(); }

 private:
  ActiveStream& stream_;
  size_t index_;
};

ActiveStream::ActiveStream(ConnectionManagerSetup& setup, StreamOwner& owner, StreamInfo info)
    : setup_(setup),
      owner_(owner),
      framed_(owner.frames_responses()),
      info_(std::move(info)),
      idle_timer_(setup.loop, [this] { on_idle_timer(); }),
      route_timer_(setup.loop, [this] { on_route_timeout(); }),
      flush_head_(setup.loop, [this] { flush_pending_head(); }),
      start_(setup.loop.now()) {
  info_.start_time = setup_.loop.system_now();
  // Reserved before the first handle: a filter keeps a reference to its handle, which must
  // never move. Both lists come from (and go back to) this thread's spares.
  if (!setup_.filter_factories.empty()) {
    handles_ = SparePool<std::vector<FilterHandle>>::take();
    filters_ = SparePool<std::vector<std::unique_ptr<HttpFilter>>>::take();
    handles_.reserve(setup_.filter_factories.size());
    filters_.reserve(setup_.filter_factories.size());
  }
  for (size_t i = 0; i < setup_.filter_factories.size(); ++i) {
    handles_.emplace_back(*this, i);
    filters_.push_back(setup_.filter_factories[i]->create_filter(handles_.back()));
  }
  setup_.stats.downstream_rq_total.inc();
  setup_.stats.downstream_rq_active.add(1);
  arm_idle_timer();
}

ActiveStream::~ActiveStream() {
  if (alive_) *alive_ = false;
  if (filters_.capacity() == 0) return;
  filters_.clear();  // the filters first: they hold references to their handles
  handles_.clear();
  SparePool<std::vector<std::unique_ptr<HttpFilter>>>::give_back(std::move(filters_));
  SparePool<std::vector<FilterHandle>>::give_back(std::move(handles_));
}

std::shared_ptr<bool> ActiveStream::alive() {
  if (!alive_) alive_ = std::make_shared<bool>(true);
  return alive_;
}

// ---------------------------------------------------------------- request path

void ActiveStream::on_request_headers(http::HeaderMap& headers, const http::MessageHead& head,
                                      bool end_stream) {
  request_head_ = head;
  request_headers_ = std::move(headers);
  request_.end_seen = end_stream;
  info_.protocol = head.http_major == 2 ? "HTTP/2" : head.http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  if (head.upgrade) decide_upgrade();
  if (head.expect_continue) {
    // Answer 100-continue ourselves, as Envoy does by default; upstream never sees it.
    request_headers_->remove(http::KnownHeader::kExpect);
    owner_.write_downstream("HTTP/1.1 100 Continue\r\n\r\n");
  }
  if (setup_.config.strip_any_host_port || setup_.config.strip_matching_host_port) {
    strip_host_port();
  }
  add_forwarding_headers();
  decode_headers_from(0);
}

// strip_port_mode, as Envoy's HeaderUtility::stripPortFromHost: before the filters, so
// they, routing and the upstream all see the Host without it. Never on CONNECT.
void ActiveStream::strip_host_port() {
  auto& h = *request_headers_;
  if (h.get(http::KnownHeader::kMethod) == "CONNECT") return;
  auto host = h.get(http::KnownHeader::kAuthority);
  if (!host) return;
  const size_t colon = host_port_start(*host);
  if (colon == std::string_view::npos) return;
  uint32_t port = 0;
  std::string_view digits = host->substr(colon + 1);
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (error != std::errc() || end != digits.data() + digits.size()) return;
  if (setup_.config.strip_matching_host_port && port != info_.downstream_local_port) return;
  h.set(http::KnownHeader::kAuthority, std::string(host->substr(0, colon)));
}

void ActiveStream::add_forwarding_headers() {
  auto& h = *request_headers_;
  h.remove("x-forwarded-client-cert");  // forward_client_cert_details: SANITIZE (the only mode)
  if (setup_.config.use_remote_address) {
    auto xff = h.get(http::KnownHeader::kXForwardedFor);
    std::string value = xff ? std::string(*xff) + ", " + info_.downstream_remote_address
                            : info_.downstream_remote_address;
    h.set(http::KnownHeader::kXForwardedFor, value);
    h.set(http::KnownHeader::kXForwardedProto, "http");
  } else if (!h.get(http::KnownHeader::kXForwardedProto)) {
    h.set(http::KnownHeader::kXForwardedProto, "http");
  }
  if (setup_.config.generate_request_id && !h.get(http::KnownHeader::kXRequestId)) {
    h.set(http::KnownHeader::kXRequestId, make_request_id().view());
  }
}

// As Envoy: the connection manager must list the type; a route's entry for it, if any,
// overrides the manager's `enabled`. The route is looked up here without caching it, so
// filters still route the request as they would any other.
bool ActiveStream::upgrade_allowed(std::string_view upgrade_type) const {
  const config::UpgradeConfig* manager = find_upgrade(setup_.config.upgrade_configs, upgrade_type);
  if (!manager) return false;
  const config::Route* route = setup_.routes.match(*request_headers_);
  if (route && route->route) {
    if (auto* on_route = find_upgrade(route->route->upgrade_configs, upgrade_type)) {
      return on_route->enabled;
    }
  }
  return manager->enabled;
}

void ActiveStream::decide_upgrade() {
  // Whatever comes of it, the connection speaks HTTP/1 no more after this exchange: the
  // client may follow up in the other protocol, and those bytes must never be read as a
  // request.
  close_after_ = true;
  if (request_headers_->get(http::KnownHeader::kMethod) == "CONNECT") {
    upgrade_ = Upgrade::Refused;
    return;
  }
  auto upgrade = request_headers_->get(http::KnownHeader::kUpgrade);
  if (!upgrade || !upgrade_allowed(*upgrade)) return;  // forwarded without its upgrade
  upgrade_ = Upgrade::Accepted;
  upgrade_type_ = std::string(*upgrade);
  // The request goes on as the tunnel's client-to-upstream half.
  request_.end_seen = false;
}

void ActiveStream::decode_headers_from(size_t index) {
  bool headers_only = request_.end_seen && request_.body_held.empty() && !request_has_trailers_;
  for (; index < filters_.size(); ++index) {
    in_filter_callback_ = true;
    FilterStatus status = filters_[index]->on_request_headers(*request_headers_, headers_only);
    in_filter_callback_ = false;
    if (take_pending_local_reply() || finished()) return;
    if (status != FilterStatus::Continue) {
      request_.stop_headers(index, status);
      // Body that waited for these headers reaches this filter now (Envoy's StopIteration).
      if (request_.headers == HeadersState::Held && !request_.body_held.empty() &&
          request_.body_stop == kNoFilter) {
        decode_body_to_held_headers(request_.body_from, "", request_.end_seen);
      }
      return;
    }
  }
  request_.headers = HeadersState::Passed;
  route_request();
  if (phase_ != Phase::Active) return;
  if (request_.body_stop == kNoFilter &&
      (!request_.body_held.empty() ||
       (request_.end_seen && !headers_only && !request_has_trailers_))) {
    std::string held = std::move(request_.body_held);
    request_.body_held.clear();
    size_t from = request_.body_from;  // the filters before it have seen this body
    request_.body_from = 0;
    decode_body_from(from, std::move(held), request_.end_seen && !request_has_trailers_);
  }
  if (finished()) return;
  pause_downstream(downstream_paused_by_held_body_, false);
  if (request_has_trailers_ && request_.body_stop == kNoFilter && phase_ == Phase::Active) {
    decode_trailers_from(0);
  }
}

void ActiveStream::on_request_body(std::string_view data, bool end_stream) {
  info_.bytes_received += data.size();
  arm_idle_timer();
  if (end_stream) request_.end_seen = true;
  if (phase_ != Phase::Active) return;  // answered already: the rest of the body is dropped
  switch (request_.headers) {
    case HeadersState::Passed:
      if (request_.body_stop == kNoFilter) {
        decode_body_from(0, std::string(data), end_stream);  // the common case
      } else {
        // A filter buffers: call it again with everything held so far.
        request_.body_held.append(data);
        size_t index = request_.body_stop;
        std::string held = std::move(request_.body_held);
        request_.body_held.clear();
        decode_body_from(index, std::move(held), end_stream);
      }
      return;
    case HeadersState::Held: {
      // The headers' filter stopped them alone: it sees the body (Envoy's StopIteration).
      size_t from = request_.body_stop != kNoFilter ? request_.body_stop : 0;
      request_.body_stop = kNoFilter;
      decode_body_to_held_headers(from, data, end_stream);
      return;
    }
    case HeadersState::Pending:
    case HeadersState::HeldWithBody:
      // A filter holds the request at its headers (an auth call, say): keep the body for
      // it, and past the buffer limit stop reading the client until the filter lets go
      // (Envoy's StopAllIterationAndWatermark, what Proxy-Wasm hosts use).
      // Known gap: when an earlier filter let the body go on from its body callback
      // (request_.body_from > 0), the pieces held here skip the filters before it.
      request_.body_held.append(data);
      if (request_.body_held.size() > setup_.config.per_connection_buffer_limit_bytes) {
        pause_downstream(downstream_paused_by_held_body_, true);
      }
      return;
  }
}

// As Envoy runs a filter whose headers callback returned StopIteration: the body goes
// through the filters up to it; one that stops buffers (413 past the buffer limit); when
// the holding filter continues from its body callback, its headers go on, then the body.
void ActiveStream::decode_body_to_held_headers(size_t index, std::string_view data,
                                               bool end_stream) {
  std::string body = std::move(request_.body_held);
  request_.body_held.clear();
  body.append(data);
  const size_t held_at = request_.headers_stop;
  for (; index <= held_at; ++index) {
    in_filter_callback_ = true;
    FilterStatus status = filters_[index]->on_request_body(body, end_stream);
    in_filter_callback_ = false;
    if (take_pending_local_reply() || finished()) return;
    if (status != FilterStatus::Continue) {
      request_.body_stop = index;
      request_.body_held = std::move(body);
      if (request_.body_held.size() > setup_.config.per_connection_buffer_limit_bytes) {
        setup_.stats.downstream_rq_too_large.inc();
        answer_error(413, "payload too large", "request_payload_too_large");
      }
      return;
    }
  }
  request_.body_held = std::move(body);
  request_.body_from = held_at + 1;
  request_.headers = HeadersState::Pending;
  decode_headers_from(held_at + 1);
}

void ActiveStream::decode_body_from(size_t index, std::string data, bool end_stream) {
  for (; index < filters_.size(); ++index) {
    in_filter_callback_ = true;
    FilterStatus status = filters_[index]->on_request_body(data, end_stream);
    in_filter_callback_ = false;
    if (take_pending_local_reply() || finished()) return;
    if (status != FilterStatus::Continue) {
      request_.body_stop = index;
      request_.body_held = std::move(data);
      // A filter buffering a body past the connection's buffer limit: 413, as Envoy.
      if (request_.body_held.size() > setup_.config.per_connection_buffer_limit_bytes) {
        setup_.stats.downstream_rq_too_large.inc();
        answer_error(413, "payload too large", "request_payload_too_large");
      }
      return;
    }
  }
  request_.body_stop = kNoFilter;
  if (upstream_ && !request_end_forwarded_) {
    upstream_->send_body(data, end_stream);
    if (end_stream) request_end_forwarded_ = true;
  }
}

void ActiveStream::on_request_trailers(http::HeaderMap& trailers) {
  request_trailers_ = std::move(trailers);
  request_has_trailers_ = true;
  request_.end_seen = true;
  if (request_.headers == HeadersState::Held && phase_ == Phase::Active) {
    // The filters that see the body while the headers wait get its end now, with
    // end_of_stream (a plugin checking the whole body must see it end; Envoy would call
    // their trailers callback, where a plugin cannot read the body); the trailers follow
    // the headers through every filter.
    size_t from = request_.body_stop != kNoFilter ? request_.body_stop : 0;
    request_.body_stop = kNoFilter;
    decode_body_to_held_headers(from, "", true);
    return;
  }
  if (request_.headers == HeadersState::Passed && request_.body_stop == kNoFilter &&
      phase_ == Phase::Active) {
    decode_trailers_from(0);
  }
}

void ActiveStream::decode_trailers_from(size_t index) {
  for (; index < filters_.size(); ++index) {
    in_filter_callback_ = true;
    FilterStatus status = filters_[index]->on_request_trailers(*request_trailers_);
    in_filter_callback_ = false;
    if (take_pending_local_reply() || finished()) return;
    if (status != FilterStatus::Continue) {
      request_.trailers_stop = index;  // resumed by continue_request()
      return;
    }
  }
  request_.trailers_stop = kNoFilter;
  if (upstream_ && !request_end_forwarded_) {
    upstream_->send_trailers(*request_trailers_);
    request_end_forwarded_ = true;
  }
}

void ActiveStream::continue_request() {
  if (phase_ != Phase::Active) return;
  if (in_filter_callback_) {
    // Resume once the current callback has returned, never underneath it.
    setup_.loop.defer([this, alive = alive()] {
      if (*alive) continue_request();
    });
    return;
  }
  if (request_.stopped()) {
    request_.headers = HeadersState::Pending;
    if (request_.body_stop == request_.headers_stop) {
      // The same filter buffered the body: both go on from the next filter.
      request_.body_stop = kNoFilter;
      request_.body_from = request_.headers_stop + 1;
    }
    decode_headers_from(request_.headers_stop + 1);
  } else if (request_.body_stop != kNoFilter) {
    size_t index = request_.body_stop;
    request_.body_stop = kNoFilter;
    std::string held = std::move(request_.body_held);
    request_.body_held.clear();
    bool end = request_.end_seen && !request_has_trailers_;
    decode_body_from(index + 1, std::move(held), end);
    if (request_has_trailers_ && request_.body_stop == kNoFilter && phase_ == Phase::Active) {
      decode_trailers_from(0);
    }
  } else if (request_.trailers_stop != kNoFilter) {
    size_t index = request_.trailers_stop;
    request_.trailers_stop = kNoFilter;
    decode_trailers_from(index + 1);
  }
}

void ActiveStream::continue_request_from(size_t index) {
  if (request_.headers == HeadersState::Held && request_.body_stop == index &&
      index < request_.headers_stop && !in_filter_callback_ && phase_ == Phase::Active) {
    // A filter before the one holding the headers lets its buffered body go on.
    request_.body_stop = kNoFilter;
    decode_body_to_held_headers(index + 1, "", request_.end_seen);
    return;
  }
  bool stopped_here = (request_.stopped() && request_.headers_stop == index) ||
                      request_.body_stop == index || request_.trailers_stop == index;
  if (stopped_here || in_filter_callback_) continue_request();
}

void ActiveStream::continue_response_from(size_t index) {
  if (response_.headers == HeadersState::Held && response_.body_stop == index &&
      index > response_.headers_stop && !in_filter_callback_ && !finished()) {
    response_.body_stop = kNoFilter;
    encode_body_to_held_headers(index, "", response_.end_seen);
    return;
  }
  bool stopped_here = (response_.stopped() && response_.headers_stop == index) ||
                      response_.body_stop == index || response_.trailers_stop == index;
  if (stopped_here || in_filter_callback_) continue_response();
}

void ActiveStream::reset_stream() {
  if (in_filter_callback_) {
    setup_.loop.defer([this, alive = alive()] {
      if (*alive) reset("reset by filter");
    });
    return;
  }
  reset("reset by filter");
}

void ActiveStream::route_request() {
  if (upgrade_ == Upgrade::Refused) {
    // CONNECT tunnels are not implemented: refused as Envoy refuses an upgrade it has no
    // configuration for.
    start_local_reply({403, "", {}, "upgrade_failed"});
    return;
  }
  route();
  if (!route_) {
    start_local_reply({404, "", {}, "route_not_found"});
    return;
  }
  info_.route_name = route_->name;
  if (route_->direct_response) {
    start_local_reply(
        {route_->direct_response->status, route_->direct_response->body, {}, "direct_response"});
    return;
  }
  const auto& action = *route_->route;
  info_.cluster_name = action.cluster;
  UpstreamPool* pool = setup_.find_pool(action.cluster);
  cluster_pool_ = pool;
  if (!pool) {
    start_local_reply({503, "", {}, "cluster_not_found"});
    return;
  }
  if (action.prefix_rewrite && route_->match.prefix) {
    std::string path(request_headers_->get(http::KnownHeader::kPath).value_or("/"));
    path = *action.prefix_rewrite + path.substr(route_->match.prefix->size());
    request_headers_->set(http::KnownHeader::kPath, path);
  }
  pool->cluster().stats->upstream_rq_total.inc();
  pool->cluster().stats->upstream_rq_active.add(1);
  upstream_start_ = setup_.loop.now();
  upstream_ = UpstreamRequest::create(*pool, *this, setup_.loop, info_.protocol == "HTTP/2");
  // A client still slow to take the previous response (pipelining) holds this one too.
  if (owner_.downstream_above_high_watermark()) {
    pause_upstream(upstream_paused_by_downstream_, true);
  }
  upstream_->start(request_headers_->get(http::KnownHeader::kMethod) == "HEAD");
  if (action.timeout.count() > 0) route_timer_.arm(action.timeout);
  forward_headers_upstream();
}

// The request goes upstream as its map says, less the hop-by-hop fields, with this hop's
// own framing: written straight from the map, which stays as the filters left it (the
// access log and later filter callbacks see it so).
void ActiveStream::forward_headers_upstream() {
  const http::HeaderMap& headers = *request_headers_;
  if (upgrade_ == Upgrade::Accepted) {
    // The upgrade goes on hop by hop: its two fields are put back. What follows the
    // headers (only after a 101) is tunnel data, sent as it comes.
    const http::Field upgrade[] = {{"connection", "upgrade"}, {"upgrade", upgrade_type_}};
    upstream_framing_ = BodyFraming::None;
    upstream_->expect_upgrade();
    upstream_->send_head(
        [&](std::string& out) { http::write_forwarded_request_head(headers, {}, upgrade, out); },
        upstream_framing_, false);
    return;
  }
  bool headers_only = request_.end_seen && request_.body_held.empty() && !request_has_trailers_;
  std::span<const http::Field> append;
  std::string_view drop;
  static constexpr http::Field kChunked[] = {{"transfer-encoding", "chunked"}};
  if (headers_only) {
    upstream_framing_ = BodyFraming::None;
  } else if (headers.get(http::KnownHeader::kContentLength) && !request_head_.chunked) {
    upstream_framing_ = BodyFraming::ContentLength;
  } else {
    drop = "content-length";
    append = kChunked;
    upstream_framing_ = BodyFraming::Chunked;
  }
  if (upstream_->http2()) {
    upstream_->send_headers(headers, upstream_framing_, headers_only);
  } else {
    upstream_->send_head(
        [&](std::string& out) { http::write_forwarded_request_head(headers, drop, append, out); },
        upstream_framing_, headers_only);
  }
  if (headers_only) request_end_forwarded_ = true;
}

// ---------------------------------------------------------------- response path

void ActiveStream::on_upstream_connected(std::string_view endpoint, const net::tls::TlsInfo* tls) {
  info_.upstream_host = std::string(endpoint);
  if (tls) info_.upstream_tls_version = tls->version;
}

void ActiveStream::on_upstream_headers(http::HeaderMap& headers, const http::MessageHead& head,
                                       bool end_stream) {
  if (phase_ != Phase::Active) return;
  arm_idle_timer();
  upstream_response_started_ = true;
  response_headers_ = std::move(headers);
  uint32_t status = status_of(*response_headers_);
  if (status == 101) {
    // Only an accepted upgrade gets here (UpstreamRequest refuses any other 101). The
    // tunnel lives as long as its two sides: no route timeout for it.
    response_upgrade_ =
        std::string(response_headers_->get(http::KnownHeader::kUpgrade).value_or(upgrade_type_));
    route_timer_.disarm();
  }
  http::strip_hop_by_hop_headers(*response_headers_);
  response_.end_seen = end_stream;
  info_.response_code = status;
  if (UpstreamPool* pool = cluster_pool_) {
    pool->cluster().stats->by_class(status).inc();
  }
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(setup_.loop.now() - upstream_start_);
  response_headers_->set(http::KnownHeader::kXEnvoyUpstreamServiceTime, std::to_string(ms.count()));
  encode_headers_from(filters_.size());
}

void ActiveStream::encode_headers_from(size_t index) {
  bool headers_only = response_.end_seen && response_.body_held.empty() && !response_trailers_;
  for (; index > 0; --index) {
    in_filter_callback_ = true;
    FilterStatus status =
        filters_[index - 1]->on_response_headers(*response_headers_, headers_only);
    in_filter_callback_ = false;
    if (take_pending_local_reply() || finished()) return;
    if (status != FilterStatus::Continue) {
      response_.stop_headers(index - 1, status);
      if (response_.headers == HeadersState::Held && !response_.body_held.empty() &&
          response_.body_stop == kNoFilter) {
        encode_body_to_held_headers(
            response_.body_from == kNoFilter ? filters_.size() : response_.body_from, "",
            response_.end_seen);
      }
      return;
    }
  }
  write_response_headers();  // Passed
  if (response_.body_stop != kNoFilter) {
    // A filter still buffers the body: it goes on when that filter continues.
  } else if (!response_.body_held.empty() ||
             (response_.end_seen && !headers_only && !response_trailers_)) {
    std::string held = std::move(response_.body_held);
    response_.body_held.clear();
    size_t from = response_.body_from == kNoFilter ? filters_.size() : response_.body_from;
    response_.body_from = kNoFilter;
    encode_body_from(from, std::move(held), response_.end_seen && !response_trailers_);
  } else if (headers_only) {
    complete_response();
  }
  if (finished()) return;
  pause_upstream(upstream_paused_by_held_body_, false);
  if (response_trailers_ && response_.end_seen && response_.body_stop == kNoFilter && !finished()) {
    encode_trailers_from(filters_.size());
  }
}

void ActiveStream::on_upstream_body(std::string_view data, bool end_stream) {
  if (phase_ != Phase::Active) return;
  arm_idle_timer();
  if (end_stream) response_.end_seen = true;
  switch (response_.headers) {
    case HeadersState::Passed:
      if (response_.body_stop == kNoFilter && filters_.empty()) {
        write_response_body(data, end_stream);  // no filter can change it: no copy
      } else if (response_.body_stop == kNoFilter) {
        std::string chunk = take_pooled_string();  // the filters' copy, which they may change
        chunk.append(data);
        encode_body_from(filters_.size(), std::move(chunk), end_stream);
      } else {
        response_.body_held.append(data);
        size_t index = response_.body_stop;
        std::string held = std::move(response_.body_held);
        response_.body_held.clear();
        encode_body_from(index + 1, std::move(held), end_stream);
      }
      return;
    case HeadersState::Held: {
      size_t from = response_.body_stop != kNoFilter ? response_.body_stop + 1 : filters_.size();
      response_.body_stop = kNoFilter;
      encode_body_to_held_headers(from, data, end_stream);
      return;
    }
    case HeadersState::Pending:
    case HeadersState::HeldWithBody:
      // A filter holds the response at its headers: keep the body, and past the buffer
      // limit stop reading the upstream until the filter lets go.
      response_.body_held.append(data);
      if (response_.body_held.size() > setup_.config.per_connection_buffer_limit_bytes) {
        pause_upstream(upstream_paused_by_held_body_, true);
      }
      return;
  }
}

// The response side of decode_body_to_held_headers (filters in reverse order).
void ActiveStream::encode_body_to_held_headers(size_t index, std::string_view data,
                                               bool end_stream) {
  std::string body = std::move(response_.body_held);
  response_.body_held.clear();
  body.append(data);
  const size_t held_at = response_.headers_stop;
  for (; index > held_at; --index) {
    in_filter_callback_ = true;
    FilterStatus status = filters_[index - 1]->on_response_body(body, end_stream);
    in_filter_callback_ = false;
    if (take_pending_local_reply() || finished()) return;
    if (status != FilterStatus::Continue) {
      response_.body_stop = index - 1;
      response_.body_held = std::move(body);
      if (response_.body_held.size() > setup_.config.per_connection_buffer_limit_bytes) {
        setup_.stats.rs_too_large.inc();
        answer_error(500, "response payload too large", "response_payload_too_large");
      }
      return;
    }
  }
  response_.body_held = std::move(body);
  response_.body_from = held_at;
  response_.headers = HeadersState::Pending;
  encode_headers_from(held_at);
}

void ActiveStream::encode_body_from(size_t index, std::string data, bool end_stream) {
  for (; index > 0; --index) {
    in_filter_callback_ = true;
    FilterStatus status = filters_[index - 1]->on_response_body(data, end_stream);
    in_filter_callback_ = false;
    if (take_pending_local_reply() || finished()) return;
    if (status != FilterStatus::Continue) {
      response_.body_stop = index - 1;
      response_.body_held = std::move(data);
      // Past the limit: 500 while the response has not gone out, else a reset (Envoy).
      if (response_.body_held.size() > setup_.config.per_connection_buffer_limit_bytes) {
        setup_.stats.rs_too_large.inc();
        answer_error(500, "response payload too large", "response_payload_too_large");
      }
      return;
    }
  }
  response_.body_stop = kNoFilter;
  write_response_body(data, end_stream);
  give_back_pooled_string(std::move(data));
}

void ActiveStream::on_upstream_trailers(http::HeaderMap& trailers) {
  if (phase_ != Phase::Active) return;
  response_trailers_ = std::move(trailers);
  response_.end_seen = true;
  if (response_.headers == HeadersState::Held) {
    // As on the request side: the body ends for the filters up to the one holding the
    // headers; the trailers follow the headers.
    size_t from = response_.body_stop != kNoFilter ? response_.body_stop + 1 : filters_.size();
    response_.body_stop = kNoFilter;
    encode_body_to_held_headers(from, "", true);
    return;
  }
  if (response_.headers == HeadersState::Passed && response_.body_stop == kNoFilter) {
    encode_trailers_from(filters_.size());
  }
}

void ActiveStream::encode_trailers_from(size_t index) {
  for (; index > 0; --index) {
    in_filter_callback_ = true;
    FilterStatus status = filters_[index - 1]->on_response_trailers(*response_trailers_);
    in_filter_callback_ = false;
    if (take_pending_local_reply() || finished()) return;
    if (status != FilterStatus::Continue) {
      response_.trailers_stop = index - 1;
      return;
    }
  }
  response_.trailers_stop = kNoFilter;
  write_response_trailers();
}

void ActiveStream::continue_response() {
  if (finished()) return;
  if (in_filter_callback_) {
    setup_.loop.defer([this, alive = alive()] {
      if (*alive) continue_response();
    });
    return;
  }
  if (response_.stopped()) {
    response_.headers = HeadersState::Pending;
    if (response_.body_stop == response_.headers_stop) {
      response_.body_stop = kNoFilter;
      response_.body_from = response_.headers_stop;
    }
    encode_headers_from(response_.headers_stop);
  } else if (response_.body_stop != kNoFilter) {
    size_t index = response_.body_stop;
    response_.body_stop = kNoFilter;
    std::string held = std::move(response_.body_held);
    response_.body_held.clear();
    encode_body_from(index, std::move(held), response_.end_seen && !response_trailers_);
    if (response_trailers_ && response_.body_stop == kNoFilter && !finished()) {
      encode_trailers_from(filters_.size());
    }
  } else if (response_.trailers_stop != kNoFilter) {
    size_t index = response_.trailers_stop;
    response_.trailers_stop = kNoFilter;
    encode_trailers_from(index);
  }
}

void ActiveStream::write_response_headers() {
  auto& h = *response_headers_;
  bool headers_only = response_.end_seen && response_.body_held.empty() && !response_trailers_;
  uint32_t status = status_of(h);
  info_.response_code = status;
  h.set(http::KnownHeader::kServer, "weir");
  if (!h.get(http::KnownHeader::kDate)) h.set(http::KnownHeader::kDate, http_date());
  bool bodyless_status = status < 200 || status == 204 || status == 304;
  if (framed_) {
    // HTTP/2: no framing or connection fields; the owner frames the parts.
    setup_.stats.by_class(status).inc();
    response_.headers = HeadersState::Passed;
    owner_.send_response_headers(h, headers_only);
    return;
  }
  // Framing to add: none when no body follows (a HEAD response keeps the content-length
  // the upstream sent) or a content-length frames it as it is.
  const bool framed_as_is =
      headers_only || bodyless_status || h.get(http::KnownHeader::kContentLength);
  if (!framed_as_is && request_head_.http_minor >= 1) {
    h.set(http::KnownHeader::kTransferEncoding, "chunked");
    response_chunked_ = true;
  } else if (!framed_as_is) {
    close_after_ = true;  // the close delimits the body
  }
  if (!request_head_.keep_alive || (setup_.draining && *setup_.draining)) close_after_ = true;
  if (!request_.end_seen) close_after_ = true;  // unread request body: cannot reuse
  const bool switching_protocols = status == 101 && upgrade_ == Upgrade::Accepted;
  if (switching_protocols) {
    h.set(http::KnownHeader::kConnection, "upgrade");
    h.set(http::KnownHeader::kUpgrade, response_upgrade_);
  } else if (close_after_) {
    h.set(http::KnownHeader::kConnection, "close");
  } else if (request_head_.http_minor == 0) {
    h.set(http::KnownHeader::kConnection, "keep-alive");
  }
  // Charged as the headers go out (as Envoy does), so a client that has its answer
  // already sees it counted.
  setup_.stats.by_class(status).inc();
  std::string out = take_pooled_string();
  http::write_response_head(h, out);
  info_.header_bytes_sent += out.size();
  if (switching_protocols) {
    // Counted before the 101 leaves, so that a client that has it sees it counted.
    upgrade_ = Upgrade::Tunnel;
    setup_.stats.downstream_cx_upgrades_total.inc();
    setup_.stats.downstream_cx_upgrades_active.add(1);
  }
  response_.headers = HeadersState::Passed;
  if (switching_protocols) {
    owner_.write_downstream(out);
    owner_.on_tunnel_established();
    return;
  }
  // The head waits for the first body bytes, which usually come in the same event: both
  // then leave in one write (one send). It never waits past the current callback.
  pending_head_ = std::move(out);
  flush_head_.schedule();
}

void ActiveStream::flush_pending_head() {
  if (pending_head_.empty()) return;
  flush_head_.cancel();
  std::string head = std::move(pending_head_);
  pending_head_.clear();
  owner_.write_downstream(head);
  give_back_pooled_string(std::move(head));
}

void ActiveStream::write_response_body(std::string_view data, bool end_stream) {
  bool head = request_headers_ && request_headers_->get(http::KnownHeader::kMethod) == "HEAD";
  if (framed_) {
    if (!head) info_.bytes_sent += data.size();
    owner_.send_response_data(head ? std::string_view() : data, end_stream);
    if (end_stream) complete_response();
    return;
  }
  if (!head) {
    std::string out = std::move(pending_head_);  // the head, if it still waits
    pending_head_.clear();
    flush_head_.cancel();
    if (response_chunked_) {
      http::write_chunk(data, out);
      if (end_stream) http::write_last_chunk(nullptr, out);
      info_.bytes_sent += data.size();
      owner_.write_downstream(out);
    } else if (!data.empty()) {
      info_.bytes_sent += data.size();
      if (out.empty()) {
        owner_.write_downstream(data);
      } else {
        out.append(data);
        owner_.write_downstream(out);
      }
    } else if (!out.empty()) {
      owner_.write_downstream(out);
    }
    give_back_pooled_string(std::move(out));
  } else {
    flush_pending_head();
  }
  if (end_stream) complete_response();
}

void ActiveStream::write_response_trailers() {
  if (framed_) {
    owner_.send_response_trailers(*response_trailers_);
    complete_response();
    return;
  }
  flush_pending_head();
  if (response_chunked_) {
    std::string out;
    http::write_last_chunk(&*response_trailers_, out);
    owner_.write_downstream(out);
  }
  complete_response();
}

void ActiveStream::on_upstream_complete() {
  route_timer_.disarm();
  if (UpstreamPool* pool = cluster_pool_) {
    pool->cluster().stats->upstream_rq_time.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(setup_.loop.now() - upstream_start_)
            .count()));
  }
  release_upstream(false);
}

void ActiveStream::complete_response() { finish(close_after_, /*response_complete=*/true); }

void ActiveStream::on_upstream_failure(UpstreamFailure kind, std::string_view reason) {
  if (finished()) return;
  release_upstream(false);
  if (phase_ == Phase::LocalReply) return;
  spdlog::debug("stream {}: upstream failure: {}", info_.stream_id, reason);
  if (response_.headers == HeadersState::Passed) {
    reset("upstream reset after response started");
    return;
  }
  // Nothing went to the client yet (a filter may hold the upstream's headers): answer.
  // A malformed response is the upstream's fault: 502, as Envoy; a connection that
  // failed or broke: 503.
  std::string_view why = kind == UpstreamFailure::ConnectFailure  ? "connection failure"
                         : kind == UpstreamFailure::ProtocolError ? "protocol error"
                         : kind == UpstreamFailure::RemoteReset   ? "remote reset"
                         : kind == UpstreamFailure::RemoteRefusedStreamReset
                             ? "remote refused stream reset"
                             : "connection termination";
  std::string details = "upstream_reset_before_response_started{" + std::string(why);
  // A failed TLS handshake says why, as Envoy's "TLS_error:..." does.
  if (constexpr std::string_view tls = "TLS handshake failed: "; reason.starts_with(tls)) {
    details += ",TLS_error:_" + std::string(reason.substr(tls.size()));
  }
  details += "}";
  for (char& c : details) c = c == ' ' ? '_' : c;
  std::string body = "upstream connect error or disconnect/reset before headers. reset reason: ";
  body += why;
  start_local_reply(
      {kind == UpstreamFailure::ProtocolError ? 502u : 503u, std::move(body), {}, details});
}

void ActiveStream::on_request_protocol_error(uint32_t status, std::string_view reason) {
  if (finished()) return;
  info_.response_code_details = "http1.codec_error";
  close_after_ = true;
  if (response_.headers == HeadersState::Passed || phase_ == Phase::LocalReply) {
    reset(reason);
    return;
  }
  // The upstream got part of a request that will never be whole: its connection goes
  // (start_local_reply aborts it).
  std::string body = status == 413 ? "Payload Too Large" : "Bad Request";
  start_local_reply({status, std::move(body), {}, "http1.codec_error"});
}

// ---------------------------------------------------------------- flow control

void ActiveStream::pause_downstream(bool& reason, bool pause) {
  if (reason == pause) return;
  reason = pause;
  owner_.read_disable_downstream(pause);
}

void ActiveStream::pause_upstream(bool& reason, bool pause) {
  if (reason == pause || (pause && !upstream_)) return;
  reason = pause;
  if (upstream_) upstream_->read_disable(pause);
}

void ActiveStream::on_downstream_above_high_watermark() {
  if (!finished()) pause_upstream(upstream_paused_by_downstream_, true);
}

void ActiveStream::on_downstream_below_low_watermark() {
  if (!finished()) pause_upstream(upstream_paused_by_downstream_, false);
}

void ActiveStream::on_upstream_above_write_high_watermark() {
  if (!finished()) pause_downstream(downstream_paused_by_upstream_, true);
}

void ActiveStream::on_upstream_below_write_low_watermark() {
  if (!finished()) pause_downstream(downstream_paused_by_upstream_, false);
}

void ActiveStream::release_upstream(bool abort) {
  if (!upstream_) return;
  if (abort) upstream_->abort();
  if (UpstreamPool* pool = cluster_pool_) {
    pool->cluster().stats->upstream_rq_active.sub(1);
  }
  // We may be inside the upstream request's own callbacks: free it later.
  setup_.loop.defer_delete(std::move(upstream_));
  // Its pauses go with it; the client is no longer waiting on it.
  upstream_paused_by_downstream_ = false;
  upstream_paused_by_held_body_ = false;
  pause_downstream(downstream_paused_by_upstream_, false);
}

// ---------------------------------------------------------------- local replies, end

void ActiveStream::send_local_reply(uint32_t status, std::string_view body,
                                    const http::HeaderMap& headers, std::string_view details) {
  if (finished()) return;
  LocalReply reply{status, std::string(body), headers, std::string(details)};
  if (in_filter_callback_) {
    pending_local_reply_ = std::move(reply);  // takes effect when the callback returns
    return;
  }
  start_local_reply(std::move(reply));
}

bool ActiveStream::take_pending_local_reply() {
  if (!pending_local_reply_) return false;
  LocalReply reply = std::move(*pending_local_reply_);
  pending_local_reply_.reset();
  start_local_reply(std::move(reply));
  return true;
}

void ActiveStream::start_local_reply(LocalReply reply) {
  if (finished()) return;
  release_upstream(true);
  // The rest of the request body is dropped from now on: no reason left to hold it back.
  pause_downstream(downstream_paused_by_held_body_, false);
  if (response_.headers == HeadersState::Passed) {
    reset("local reply after the response started");
    return;
  }
  bool from_response_path = upstream_response_started_ || phase_ == Phase::LocalReply;
  phase_ = Phase::LocalReply;
  info_.response_code_details = reply.details;
  http::HeaderMap headers;
  headers.add(":status", std::to_string(reply.status));
  for (const auto& [k, v] : reply.headers.entries()) headers.add(k, v);
  if (!reply.body.empty() && !headers.get(http::KnownHeader::kContentType)) {
    headers.set(http::KnownHeader::kContentType, "text/plain");
  }
  headers.set(http::KnownHeader::kContentLength, std::to_string(reply.body.size()));
  response_headers_ = std::move(headers);
  response_trailers_.reset();
  response_.body_held = std::move(reply.body);
  response_.end_seen = true;
  response_.body_stop = kNoFilter;
  response_.body_from = kNoFilter;
  if (from_response_path) {
    // Sent from a response callback: replaces the response and goes straight out.
    write_response_headers();
    std::string body = std::move(response_.body_held);
    response_.body_held.clear();
    write_response_body(body, true);
    return;
  }
  // Sent on the request path: the reply travels the whole response path, as in Envoy.
  encode_headers_from(filters_.size());
}

void ActiveStream::answer_error(uint32_t status, std::string_view body, std::string_view details) {
  if (in_filter_callback_) {
    pending_local_reply_ = LocalReply{status, std::string(body), {}, std::string(details)};
    return;
  }
  start_local_reply({status, std::string(body), {}, std::string(details)});
}

void ActiveStream::reset(std::string_view reason) {
  if (finished()) return;
  spdlog::debug("stream {} reset: {}", info_.stream_id, reason);
  release_upstream(true);
  finish(true);
}

void ActiveStream::finish(bool close_connection, bool response_complete) {
  if (finished()) return;
  flush_pending_head();
  phase_ = response_complete ? Phase::Complete : Phase::Reset;
  if (alive_) *alive_ = false;
  idle_timer_.disarm();
  route_timer_.disarm();
  if (response_complete) {
    setup_.stats.downstream_rq_time.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(setup_.loop.now() - start_).count()));
  }
  setup_.stats.downstream_rq_active.sub(1);
  if (upgrade_ == Upgrade::Tunnel) setup_.stats.downstream_cx_upgrades_active.sub(1);
  // Whatever this stream paused on the client connection is undone before the connection
  // goes on to the next request.
  pause_downstream(downstream_paused_by_held_body_, false);
  pause_downstream(downstream_paused_by_upstream_, false);
  for (auto& f : filters_) f->on_stream_complete();
  if (setup_.access_log) {
    setup_.access_log->log(
        {info_, request_headers(), response_headers(), response_trailers(),
         std::chrono::duration_cast<std::chrono::microseconds>(setup_.loop.now() - start_)});
  }
  owner_.on_stream_finished(close_connection || !response_complete);
}

// Activity only moves a timestamp: re-arming the timer on every event would move it in the
// timer heap per body chunk. The timer, when it fires, checks whether the stream was really
// idle that long and otherwise waits the rest.
void ActiveStream::arm_idle_timer() {
  auto timeout = setup_.config.stream_idle_timeout;
  if (timeout.count() <= 0) return;
  last_activity_ = setup_.loop.now();
  if (!idle_timer_.armed()) idle_timer_.arm(timeout);
}

void ActiveStream::on_idle_timer() {
  auto timeout = setup_.config.stream_idle_timeout;
  auto idle =
      std::chrono::duration_cast<std::chrono::milliseconds>(setup_.loop.now() - last_activity_);
  if (idle < timeout) {
    idle_timer_.arm(timeout - idle);
    return;
  }
  on_idle_timeout();
}

void ActiveStream::on_idle_timeout() {
  setup_.stats.downstream_rq_idle_timeout.inc();
  if (response_.headers == HeadersState::Passed) {
    reset("stream idle timeout");
    return;
  }
  start_local_reply({request_.end_seen ? 504u : 408u, "stream timeout", {}, "stream_idle_timeout"});
}

void ActiveStream::on_route_timeout() {
  if (UpstreamPool* pool = cluster_pool_) {
    pool->cluster().stats->upstream_rq_timeout.inc();
  }
  setup_.stats.downstream_rq_timeout.inc();
  if (response_.headers == HeadersState::Passed) {
    reset("upstream request timeout");
    return;
  }
  start_local_reply({504, "upstream request timeout", {}, "upstream_response_timeout"});
}

const config::Route* ActiveStream::route() {
  if (!route_resolved_ && request_headers_) {
    route_ = setup_.routes.match(*request_headers_);
    route_resolved_ = true;
  }
  return route_;
}

const config::ClusterConfig* ActiveStream::cluster_config(std::string_view name) {
  UpstreamPool* pool = setup_.find_pool(name);
  return pool ? &pool->cluster().config : nullptr;
}

http::HeaderMap* ActiveStream::request_headers() {
  return request_headers_ ? &*request_headers_ : nullptr;
}
http::HeaderMap* ActiveStream::response_headers() {
  return response_headers_ ? &*response_headers_ : nullptr;
}
http::HeaderMap* ActiveStream::request_trailers() {
  return request_trailers_ ? &*request_trailers_ : nullptr;
}
http::HeaderMap* ActiveStream::response_trailers() {
  return response_trailers_ ? &*response_trailers_ : nullptr;
}

}  // namespace weir::proxy
