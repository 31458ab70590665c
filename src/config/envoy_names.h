#pragma once
// Names from Envoy's v3 API that the loader matches against: message types (for "@type"
// and for the unknown/unimplemented field tables) and extension names.
#include <string_view>

namespace weir::config::envoy_names {

// Message types, as they appear after "type.googleapis.com/" in "@type".
inline constexpr std::string_view kBootstrap = "envoy.config.bootstrap.v3.Bootstrap";
inline constexpr std::string_view kStaticResources =
    "envoy.config.bootstrap.v3.Bootstrap.StaticResources";
inline constexpr std::string_view kAdmin = "envoy.config.bootstrap.v3.Admin";
inline constexpr std::string_view kLayeredRuntime = "envoy.config.bootstrap.v3.LayeredRuntime";
inline constexpr std::string_view kRuntimeLayer = "envoy.config.bootstrap.v3.RuntimeLayer";
inline constexpr std::string_view kOverloadManager = "envoy.config.overload.v3.OverloadManager";
inline constexpr std::string_view kResourceMonitor = "envoy.config.overload.v3.ResourceMonitor";
inline constexpr std::string_view kDownstreamConnectionsConfig =
    "envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig";
inline constexpr std::string_view kTypedExtensionConfig =
    "envoy.config.core.v3.TypedExtensionConfig";
inline constexpr std::string_view kAddress = "envoy.config.core.v3.Address";
inline constexpr std::string_view kNode = "envoy.config.core.v3.Node";
inline constexpr std::string_view kLocality = "envoy.config.core.v3.Locality";
inline constexpr std::string_view kMetadata = "envoy.config.core.v3.Metadata";
inline constexpr std::string_view kSocketAddress = "envoy.config.core.v3.SocketAddress";
inline constexpr std::string_view kDataSource = "envoy.config.core.v3.DataSource";
inline constexpr std::string_view kTransportSocket = "envoy.config.core.v3.TransportSocket";
inline constexpr std::string_view kRawBuffer =
    "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";
inline constexpr std::string_view kAsyncDataSource = "envoy.config.core.v3.AsyncDataSource";
inline constexpr std::string_view kRemoteDataSource = "envoy.config.core.v3.RemoteDataSource";
inline constexpr std::string_view kHttpUri = "envoy.config.core.v3.HttpUri";
inline constexpr std::string_view kRetryPolicy = "envoy.config.core.v3.RetryPolicy";
inline constexpr std::string_view kBackoffStrategy = "envoy.config.core.v3.BackoffStrategy";
inline constexpr std::string_view kWeirRegistryAuth = "weir.RegistryAuth";
inline constexpr std::string_view kHttpProtocolOptions = "envoy.config.core.v3.HttpProtocolOptions";
inline constexpr std::string_view kHttp2ProtocolOptions =
    "envoy.config.core.v3.Http2ProtocolOptions";
inline constexpr std::string_view kHttp1ProtocolOptions =
    "envoy.config.core.v3.Http1ProtocolOptions";
inline constexpr std::string_view kUpstreamHttpProtocolOptionsExtension =
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
inline constexpr std::string_view kExplicitHttpConfig =
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig";
inline constexpr std::string_view kUseDownstreamHttpConfig =
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions.UseDownstreamHttpConfig";
inline constexpr std::string_view kListener = "envoy.config.listener.v3.Listener";
inline constexpr std::string_view kFilterChain = "envoy.config.listener.v3.FilterChain";
inline constexpr std::string_view kFilterChainMatch = "envoy.config.listener.v3.FilterChainMatch";
inline constexpr std::string_view kListenerFilter = "envoy.config.listener.v3.ListenerFilter";
inline constexpr std::string_view kTlsInspector =
    "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector";
inline constexpr std::string_view kTlsInspectorName = "envoy.filters.listener.tls_inspector";
inline constexpr std::string_view kTlsInspectorOldName = "envoy.listener.tls_inspector";
inline constexpr std::string_view kDownstreamTlsContext =
    "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
inline constexpr std::string_view kTlsSessionTicketKeys =
    "envoy.extensions.transport_sockets.tls.v3.TlsSessionTicketKeys";
inline constexpr std::string_view kUpstreamTlsContext =
    "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
inline constexpr std::string_view kCommonTlsContext =
    "envoy.extensions.transport_sockets.tls.v3.CommonTlsContext";
inline constexpr std::string_view kTlsParameters =
    "envoy.extensions.transport_sockets.tls.v3.TlsParameters";
inline constexpr std::string_view kTlsCertificate =
    "envoy.extensions.transport_sockets.tls.v3.TlsCertificate";
inline constexpr std::string_view kCertificateValidationContext =
    "envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext";
inline constexpr std::string_view kSubjectAltNameMatcher =
    "envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher";
inline constexpr std::string_view kTlsName = "envoy.transport_sockets.tls";
inline constexpr std::string_view kNetworkFilter = "envoy.config.listener.v3.Filter";
inline constexpr std::string_view kHttpConnectionManager =
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
inline constexpr std::string_view kTcpProxy =
    "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
inline constexpr std::string_view kNetworkWasmFilter =
    "envoy.extensions.filters.network.wasm.v3.Wasm";
inline constexpr std::string_view kHcmUpgradeConfig =
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager."
    "UpgradeConfig";
inline constexpr std::string_view kHttpFilter =
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter";
inline constexpr std::string_view kRouteConfiguration = "envoy.config.route.v3.RouteConfiguration";
inline constexpr std::string_view kVirtualHost = "envoy.config.route.v3.VirtualHost";
inline constexpr std::string_view kRoute = "envoy.config.route.v3.Route";
inline constexpr std::string_view kRouteMatch = "envoy.config.route.v3.RouteMatch";
inline constexpr std::string_view kRegexMatcher = "envoy.type.matcher.v3.RegexMatcher";
inline constexpr std::string_view kGoogleRe2 = "envoy.type.matcher.v3.RegexMatcher.GoogleRE2";
inline constexpr std::string_view kInt64Range = "envoy.type.v3.Int64Range";
inline constexpr std::string_view kHeaderMatcher = "envoy.config.route.v3.HeaderMatcher";
inline constexpr std::string_view kStringMatcher = "envoy.type.matcher.v3.StringMatcher";
inline constexpr std::string_view kRouteAction = "envoy.config.route.v3.RouteAction";
inline constexpr std::string_view kRouteUpgradeConfig =
    "envoy.config.route.v3.RouteAction.UpgradeConfig";
inline constexpr std::string_view kDirectResponseAction =
    "envoy.config.route.v3.DirectResponseAction";
inline constexpr std::string_view kAccessLog = "envoy.config.accesslog.v3.AccessLog";
inline constexpr std::string_view kFileAccessLog =
    "envoy.extensions.access_loggers.file.v3.FileAccessLog";
inline constexpr std::string_view kStdoutAccessLog =
    "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
inline constexpr std::string_view kStderrAccessLog =
    "envoy.extensions.access_loggers.stream.v3.StderrAccessLog";
inline constexpr std::string_view kSubstitutionFormatString =
    "envoy.config.core.v3.SubstitutionFormatString";
inline constexpr std::string_view kStatsConfig = "envoy.config.metrics.v3.StatsConfig";
inline constexpr std::string_view kTagSpecifier = "envoy.config.metrics.v3.TagSpecifier";
inline constexpr std::string_view kCluster = "envoy.config.cluster.v3.Cluster";
inline constexpr std::string_view kClusterLoadAssignment =
    "envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr std::string_view kLocalityLbEndpoints =
    "envoy.config.endpoint.v3.LocalityLbEndpoints";
inline constexpr std::string_view kLbEndpoint = "envoy.config.endpoint.v3.LbEndpoint";
inline constexpr std::string_view kEndpoint = "envoy.config.endpoint.v3.Endpoint";
inline constexpr std::string_view kRouter = "envoy.extensions.filters.http.router.v3.Router";
inline constexpr std::string_view kWasmFilter = "envoy.extensions.filters.http.wasm.v3.Wasm";
inline constexpr std::string_view kWasmService = "envoy.extensions.wasm.v3.WasmService";
inline constexpr std::string_view kPluginConfig = "envoy.extensions.wasm.v3.PluginConfig";
inline constexpr std::string_view kVmConfig = "envoy.extensions.wasm.v3.VmConfig";
// weir's own extension of VmConfig (not an Envoy message).
inline constexpr std::string_view kWeirLimits = "weir.wasm.v1.Limits";
inline constexpr std::string_view kEnvironmentVariables =
    "envoy.extensions.wasm.v3.EnvironmentVariables";
inline constexpr std::string_view kUdpaTypedStruct = "udpa.type.v1.TypedStruct";
inline constexpr std::string_view kXdsTypedStruct = "xds.type.v3.TypedStruct";
inline constexpr std::string_view kStringValue = "google.protobuf.StringValue";
inline constexpr std::string_view kBytesValue = "google.protobuf.BytesValue";
inline constexpr std::string_view kStruct = "google.protobuf.Struct";
inline constexpr std::string_view kDuration = "google.protobuf.Duration";

// Extension names ("name:" of filters and bootstrap extensions). Envoy also picks the
// extension from the typed_config type, so a filter may carry any name.
inline constexpr std::string_view kHttpConnectionManagerName =
    "envoy.filters.network.http_connection_manager";
inline constexpr std::string_view kHttpConnectionManagerOldName = "envoy.http_connection_manager";
inline constexpr std::string_view kTcpProxyName = "envoy.filters.network.tcp_proxy";
inline constexpr std::string_view kTcpProxyOldName = "envoy.tcp_proxy";
inline constexpr std::string_view kNetworkWasmFilterName = "envoy.filters.network.wasm";
inline constexpr std::string_view kRouterName = "envoy.filters.http.router";
inline constexpr std::string_view kRouterOldName = "envoy.router";
inline constexpr std::string_view kWasmFilterName = "envoy.filters.http.wasm";
inline constexpr std::string_view kRawBufferName = "envoy.transport_sockets.raw_buffer";
// The overload manager's resource monitor for a global connection limit (its extension
// is named envoy.resource_monitors.downstream_connections; configs use either name).
inline constexpr std::string_view kGlobalDownstreamMaxConnections =
    "envoy.resource_monitors.global_downstream_max_connections";
inline constexpr std::string_view kDownstreamConnectionsName =
    "envoy.resource_monitors.downstream_connections";
inline constexpr std::string_view kWasmServiceName = "envoy.bootstrap.wasm";
inline constexpr std::string_view kFileAccessLogName = "envoy.access_loggers.file";
inline constexpr std::string_view kStdoutAccessLogName = "envoy.access_loggers.stdout";
inline constexpr std::string_view kStderrAccessLogName = "envoy.access_loggers.stderr";

}  // namespace weir::config::envoy_names
