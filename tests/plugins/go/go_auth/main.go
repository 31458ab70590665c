// go_auth: external authorization with an HTTP call, written against the public Go SDK.
//
//   - Plugin configuration: the cluster to ask (default "auth").
//   - Request headers: GET <x-auth-path header, default /check> on that cluster, timeout
//     500 ms, and the request waits. The Go SDK finds the callback through the *root*
//     context id the host passes to proxy_on_http_call_response.
//     200 -> the request goes on with "x-go-auth: allowed"; another status -> 403
//     "denied by go auth\n"; no answer (failure, timeout) -> 500.
//   - Every allowed request increments shared data "go_auth.allowed" (compare-and-swap
//     loop); every tick (100 ms) stores the tick count in "go_auth.ticks".
//   - Request header x-go-auth-stats: answered locally with "allowed=<n> ticks=<n>".
package main

import (
	"errors"
	"strconv"

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
	return &pluginContext{cluster: "auth"}
}

type pluginContext struct {
	types.DefaultPluginContext
	cluster string
	ticks   int
}

func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	if pluginConfigurationSize > 0 {
		data, err := proxywasm.GetPluginConfiguration()
		if err != nil {
			return types.OnPluginStartStatusFailed
		}
		p.cluster = string(data)
	}
	if err := proxywasm.SetTickPeriodMilliSeconds(100); err != nil {
		proxywasm.LogCriticalf("go_auth: set tick period: %v", err)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) OnTick() {
	p.ticks++
	if err := proxywasm.SetSharedData("go_auth.ticks", []byte(strconv.Itoa(p.ticks)), 0); err != nil {
		proxywasm.LogErrorf("go_auth: set ticks: %v", err)
	}
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{cluster: p.cluster}
}

type httpContext struct {
	types.DefaultHttpContext
	cluster string
}

func sharedInt(key string) (int, uint32) {
	data, cas, err := proxywasm.GetSharedData(key)
	if err != nil {
		return 0, cas
	}
	n, _ := strconv.Atoi(string(data))
	return n, cas
}

func countAllowed() {
	for {
		n, cas := sharedInt("go_auth.allowed")
		err := proxywasm.SetSharedData("go_auth.allowed", []byte(strconv.Itoa(n+1)), cas)
		if !errors.Is(err, types.ErrorStatusCasMismatch) {
			return
		}
	}
}

func (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	if _, err := proxywasm.GetHttpRequestHeader("x-go-auth-stats"); err == nil {
		allowed, _ := sharedInt("go_auth.allowed")
		ticks, _ := sharedInt("go_auth.ticks")
		body := "allowed=" + strconv.Itoa(allowed) + " ticks=" + strconv.Itoa(ticks)
		proxywasm.SendHttpResponse(200, nil, []byte(body), -1)
		return types.ActionPause
	}
	path, err := proxywasm.GetHttpRequestHeader("x-auth-path")
	if err != nil {
		path = "/check"
	}
	headers := [][2]string{{":method", "GET"}, {":path", path}, {":authority", "auth"}}
	_, err = proxywasm.DispatchHttpCall(h.cluster, headers, nil, nil, 500, h.onAuthResponse)
	if err != nil {
		proxywasm.LogErrorf("go_auth: dispatch: %v", err)
		proxywasm.SendHttpResponse(500, [][2]string{{"x-go-auth-error", err.Error()}}, []byte("auth call refused\n"), -1)
		return types.ActionPause
	}
	return types.ActionPause
}

func (h *httpContext) onAuthResponse(numHeaders, bodySize, numTrailers int) {
	if numHeaders == 0 {
		proxywasm.SendHttpResponse(500, nil, []byte("auth service unavailable\n"), -1)
		return
	}
	headers, err := proxywasm.GetHttpCallResponseHeaders()
	status := ""
	for _, h := range headers {
		if h[0] == ":status" {
			status = h[1]
		}
	}
	if err != nil || status != "200" {
		proxywasm.SendHttpResponse(403, nil, []byte("denied by go auth\n"), -1)
		return
	}
	countAllowed()
	proxywasm.AddHttpRequestHeader("x-go-auth", "allowed")
	proxywasm.ResumeHttpRequest()
}
