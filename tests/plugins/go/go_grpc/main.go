// go_grpc: gRPC calls and streams from a plugin built with the public Go SDK. The SDK has
// no gRPC API, so this plugin declares the Proxy-Wasm gRPC imports and callbacks itself
// (grpc_abi.go) and uses the SDK for everything else. It calls weir's test service
// (tests/grpc/echo_service, weir.test.Echo); messages are google.protobuf.StringValue,
// encoded by hand.
//
//   - Plugin configuration: the gRPC service argument, a cluster name (default
//     "grpc_service"); "proto:<cluster>:<authority>" sends a serialized
//     envoy.config.core.v3.GrpcService naming them instead, as Envoy's C++ SDK does.
//   - GET /unary with x-user: U (and x-timeout: ms, default 5000): unary Check(U); the
//     request waits. An answer "allow:..." lets it go upstream with x-grpc-answer: <answer>
//     and x-check-id: <the answer's initial metadata x-check-id>; "deny" -> 403 "denied";
//     a failed call -> 503 with x-grpc-status / x-grpc-message; an answer "allow:trap"
//     makes the callback panic (a trap in a gRPC callback).
//   - GET /stream with x-count: N: a bidirectional Chat stream, sends m0..m<N-1>, then
//     closes its side; the echoes come back and, at the stream's close, the request is
//     answered locally: 200, body the echoes joined by ",", headers x-chat (initial
//     metadata), x-chat-count (trailing metadata), x-grpc-status.
//   - GET /cancel: unary Check("sleep:300"), cancelled at once; the request goes upstream
//     with x-cancel-status: <proxy_grpc_cancel's status>. A callback for it would log
//     "go_grpc: callback for cancelled call".
//   - Any other request goes on untouched; when its response (gRPC proxied through weir)
//     has trailers with grpc-status: S, the plugin adds the trailer x-go-grpc-saw-status: S
//     and counts it in the counter go_grpc.grpc_status_S.
package main

import (
	"strconv"
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

type vmContext struct {
	types.DefaultVMContext
}

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	plugin = &pluginContext{service: "grpc_service"}
	return plugin
}

// The one plugin context: gRPC callbacks arrive with its id, and find their HTTP context here.
var plugin *pluginContext

type pending struct {
	contextID uint32
	http      *httpContext
	stream    bool
	cancelled bool
}

type pluginContext struct {
	types.DefaultPluginContext
	service string
	calls   map[uint32]*pending
}

func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	p.calls = map[uint32]*pending{}
	if pluginConfigurationSize > 0 {
		data, err := proxywasm.GetPluginConfiguration()
		if err != nil {
			return types.OnPluginStartStatusFailed
		}
		p.service = string(data)
		if strings.HasPrefix(p.service, "proto:") {
			parts := strings.SplitN(p.service, ":", 3)
			if len(parts) == 3 {
				p.service = grpcService(parts[1], parts[2])
			}
		}
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{id: contextID}
}

type httpContext struct {
	types.DefaultHttpContext
	id       uint32
	echoes   []string
	chat     string
	chatDone string
}

func (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	switch path {
	case "/unary":
		user, _ := proxywasm.GetHttpRequestHeader("x-user")
		timeout := 5000
		if t, err := proxywasm.GetHttpRequestHeader("x-timeout"); err == nil {
			timeout, _ = strconv.Atoi(t)
		}
		token, st := grpcCall(plugin.service, "weir.test.Echo", "Check", [][2]string{{"x-user", user}},
			encodeString(user), uint32(timeout))
		if st != 0 {
			proxywasm.SendHttpResponse(500, [][2]string{{"x-grpc-call-status", strconv.Itoa(int(st))}}, []byte("grpc call refused\n"), -1)
			return types.ActionPause
		}
		plugin.calls[token] = &pending{contextID: h.id, http: h}
		return types.ActionPause
	case "/stream":
		n := 3
		if c, err := proxywasm.GetHttpRequestHeader("x-count"); err == nil {
			n, _ = strconv.Atoi(c)
		}
		token, st := grpcStream(plugin.service, "weir.test.Echo", "Chat", nil)
		if st != 0 {
			proxywasm.SendHttpResponse(500, [][2]string{{"x-grpc-stream-status", strconv.Itoa(int(st))}}, []byte("grpc stream refused\n"), -1)
			return types.ActionPause
		}
		plugin.calls[token] = &pending{contextID: h.id, http: h, stream: true}
		for i := 0; i < n; i++ {
			if st := grpcSend(token, encodeString("m"+strconv.Itoa(i)), false); st != 0 {
				proxywasm.LogErrorf("go_grpc: send: %d", st)
			}
		}
		if st := grpcClose(token); st != 0 {
			proxywasm.LogErrorf("go_grpc: close: %d", st)
		}
		return types.ActionPause
	case "/cancel":
		token, st := grpcCall(plugin.service, "weir.test.Echo", "Check", nil, encodeString("sleep:300"), 5000)
		if st == 0 {
			plugin.calls[token] = &pending{contextID: h.id, http: h, cancelled: true}
			st = grpcCancel(token)
		}
		proxywasm.AddHttpRequestHeader("x-cancel-status", strconv.Itoa(int(st)))
		return types.ActionContinue
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseTrailers(numTrailers int) types.Action {
	status, err := proxywasm.GetHttpResponseTrailer("grpc-status")
	if err != nil {
		return types.ActionContinue
	}
	proxywasm.AddHttpResponseTrailer("x-go-grpc-saw-status", status)
	if m, ok := statusCounters[status]; ok {
		m.Increment(1)
	} else if len(statusCounters) < 17 {
		m := proxywasm.DefineCounterMetric("go_grpc.grpc_status_" + status)
		statusCounters[status] = m
		m.Increment(1)
	}
	return types.ActionContinue
}

var statusCounters = map[string]proxywasm.MetricCounter{}

// The answer of a unary call or one message of a stream.
func onGrpcReceive(token uint32, size uint32) {
	p := plugin.calls[token]
	if p == nil {
		return
	}
	if p.cancelled {
		proxywasm.LogError("go_grpc: callback for cancelled call")
		return
	}
	proxywasm.SetEffectiveContext(p.contextID)
	msg := decodeString(grpcMessage(size))
	if p.stream {
		p.http.echoes = append(p.http.echoes, msg)
		return
	}
	delete(plugin.calls, token)
	if msg == "allow:trap" {
		panic("go_grpc: asked to trap in a gRPC callback")
	}
	if strings.HasPrefix(msg, "allow") {
		proxywasm.AddHttpRequestHeader("x-grpc-answer", msg)
		// weir makes a unary call's response metadata readable in this callback.
		checkID, _ := grpcMetadataValue(true, "x-check-id")
		proxywasm.AddHttpRequestHeader("x-check-id", checkID)
		authority, _ := grpcMetadataValue(true, "x-check-authority")
		proxywasm.AddHttpRequestHeader("x-check-authority", authority)
		proxywasm.ResumeHttpRequest()
		return
	}
	proxywasm.SendHttpResponse(403, nil, []byte("denied\n"), -1)
}

func onGrpcInitialMetadata(token uint32, n uint32) {
	if p := plugin.calls[token]; p != nil && p.stream {
		p.http.chat, _ = grpcMetadataValue(true, "x-chat")
	}
}

func onGrpcTrailingMetadata(token uint32, n uint32) {
	if p := plugin.calls[token]; p != nil && p.stream {
		p.http.chatDone, _ = grpcMetadataValue(false, "x-chat-count")
	}
}

func onGrpcClose(token uint32, status uint32) {
	p := plugin.calls[token]
	if p == nil {
		return
	}
	if p.cancelled {
		proxywasm.LogError("go_grpc: callback for cancelled call")
		return
	}
	delete(plugin.calls, token)
	proxywasm.SetEffectiveContext(p.contextID)
	code, message := grpcStatus()
	headers := [][2]string{{"x-grpc-status", strconv.Itoa(int(code))}, {"x-grpc-message", message}}
	if p.stream {
		headers = append(headers, [2]string{"x-chat", p.http.chat}, [2]string{"x-chat-count", p.http.chatDone})
		proxywasm.SendHttpResponse(200, headers, []byte(strings.Join(p.http.echoes, ",")), -1)
		return
	}
	proxywasm.SendHttpResponse(503, headers, []byte("grpc call failed\n"), -1)
}

// GrpcService{envoy_grpc{cluster_name, authority}}, serialized by hand.
func grpcService(cluster, authority string) string {
	inner := append(field(1, cluster), field(2, authority)...)
	return string(field(1, string(inner)))
}

func field(number byte, s string) []byte {
	out := []byte{number<<3 | 2}
	n := uint64(len(s))
	for n >= 0x80 {
		out = append(out, byte(n)|0x80)
		n >>= 7
	}
	out = append(out, byte(n))
	return append(out, s...)
}

// google.protobuf.StringValue: field 1, length-delimited.
func encodeString(s string) []byte {
	out := []byte{0x0a}
	n := uint64(len(s))
	for n >= 0x80 {
		out = append(out, byte(n)|0x80)
		n >>= 7
	}
	out = append(out, byte(n))
	return append(out, s...)
}

func decodeString(b []byte) string {
	if len(b) < 2 || b[0] != 0x0a {
		return ""
	}
	var n uint64
	i := 1
	for shift := 0; i < len(b); shift += 7 {
		c := b[i]
		i++
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	if uint64(len(b)-i) < n {
		return ""
	}
	return string(b[i : i+int(n)])
}
