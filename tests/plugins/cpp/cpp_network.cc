// Test plugin (C++ SDK): a network (TCP) filter, the C++ counterpart of go_network. What it
// does depends on its plugin configuration (one word):
//   count    counts the bytes of each direction (cpp_network.downstream_bytes,
//            cpp_network.upstream_bytes) and leaves them as they are
//   rewrite  counts, and rewrites: client bytes a-z become A-Z; the first upstream bytes
//            get "conn=<connection.id>\n" in front
//   line     holds client bytes (Pause) until a newline has arrived, then lets them all go
//   drop     drops the client's lines that start with "drop" (whole lines per chunk)
//   close    closes the connection (close_downstream) when client bytes contain "close"
// Every mode counts connections (cpp_network.connections), closes by side and peer
// (cpp_network.<side>_close_<unknown|local|remote>) and finished streams
// (cpp_network.streams_done). Registered for root_id "cpp_network".
#include <string>

#include "weir/plugin.h"

namespace {

enum class Mode { Count, Rewrite, Line, Drop, Close };

const char* peer_name(weir::PeerType p) {
  switch (p) {
    case weir::PeerType::Local:
      return "local";
    case weir::PeerType::Remote:
      return "remote";
    default:
      return "unknown";
  }
}

uint32_t peer_index(weir::PeerType p) {
  return static_cast<uint32_t>(p) < 3 ? static_cast<uint32_t>(p) : 0;
}

class NetRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;

  bool on_configure(std::string_view config) override {
    if (config == "count" || config.empty()) {
      mode = Mode::Count;
    } else if (config == "rewrite") {
      mode = Mode::Rewrite;
    } else if (config == "line") {
      mode = Mode::Line;
    } else if (config == "drop") {
      mode = Mode::Drop;
    } else if (config == "close") {
      mode = Mode::Close;
    } else {
      LOG_ERROR("cpp_network: unknown mode '", config, "'");
      return false;
    }
    downstream_bytes = weir::Counter::define("cpp_network.downstream_bytes");
    upstream_bytes = weir::Counter::define("cpp_network.upstream_bytes");
    connections = weir::Counter::define("cpp_network.connections");
    streams_done = weir::Counter::define("cpp_network.streams_done");
    for (int side = 0; side < 2; ++side) {
      for (int peer = 0; peer < 3; ++peer) {
        closes[side][peer] = weir::Counter::define(
            weir::sdk::str_cat("cpp_network.", side == 0 ? "downstream" : "upstream", "_close_",
                               peer_name(static_cast<weir::PeerType>(peer))));
      }
    }
    return true;
  }

  Mode mode = Mode::Count;
  weir::Counter downstream_bytes, upstream_bytes, connections, streams_done;
  weir::Counter closes[2][3];  // [downstream, upstream][PeerType]
};

class NetConnection : public weir::NetworkContext {
 public:
  using NetworkContext::NetworkContext;

  weir::Action on_new_connection() override {
    root()->connections.increment();
    return weir::Action::Continue;
  }

  weir::Action on_downstream_data(size_t size, bool end_of_stream) override {
    NetRoot* r = root();
    const weir::Body data = weir::downstream_data();
    // With Pause, the callback runs again with everything held: count only the new bytes.
    if (size > counted_) r->downstream_bytes.increment(size - counted_);
    counted_ = size;
    if (size == 0) return weir::Action::Continue;
    weir::HostBytes bytes = data.get();
    if (!bytes) return weir::Action::Continue;
    switch (r->mode) {
      case Mode::Count:
        break;
      case Mode::Rewrite: {
        std::string upper = bytes.str();
        for (char& c : upper) {
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        }
        data.replace(upper);
        break;
      }
      case Mode::Line:
        if (bytes.view().find('\n') == std::string_view::npos && !end_of_stream) {
          return weir::Action::Pause;  // held: the next bytes come with these
        }
        break;
      case Mode::Drop: {
        std::string kept;
        std::string_view rest = bytes.view();
        while (!rest.empty()) {
          size_t end = rest.find('\n');
          std::string_view line =
              rest.substr(0, end == std::string_view::npos ? rest.size() : end + 1);
          if (!line.starts_with("drop")) kept.append(line);
          rest.remove_prefix(line.size());
        }
        data.replace(kept);
        break;
      }
      case Mode::Close:
        if (bytes.view().find("close") != std::string_view::npos) weir::close_downstream();
        break;
    }
    counted_ = 0;  // these bytes go on
    return weir::Action::Continue;
  }

  weir::Action on_upstream_data(size_t size, bool) override {
    NetRoot* r = root();
    r->upstream_bytes.increment(size);
    if (r->mode == Mode::Rewrite && !tagged_ && size > 0) {
      tagged_ = true;
      auto id = weir::get_property_int64({"connection", "id"});
      weir::upstream_data().prepend(weir::sdk::str_cat("conn=", id.value_or(-1), "\n"));
    }
    return weir::Action::Continue;
  }

  void on_downstream_connection_close(weir::PeerType peer) override {
    root()->closes[0][peer_index(peer)].increment();
  }
  void on_upstream_connection_close(weir::PeerType peer) override {
    root()->closes[1][peer_index(peer)].increment();
  }

  bool on_done() override {
    root()->streams_done.increment();
    return true;
  }

 private:
  NetRoot* root() const { return root_as<NetRoot>(); }
  size_t counted_ = 0;
  bool tagged_ = false;
};

weir::RegisterNetworkContextFactory registration(weir::root_factory<NetRoot>,
                                                 weir::network_factory<NetConnection>,
                                                 "cpp_network");

}  // namespace
