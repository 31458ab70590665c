// go_headers: header manipulation and a local reply, written against the public Go SDK.
//
//   - OnPluginStart reads the plugin configuration (empty when none is set).
//   - Request headers: adds "x-go-saw-path: <:path>"; when the request carries
//     "x-go-deny", answers locally with 403 and body "denied by go\n".
//   - Request body: when the request carries "x-go-upper-body", the whole body is
//     buffered (Pause until the end) and forwarded upper-cased (same length).
//   - Response headers: adds "x-go-config: <plugin configuration>".
//   - Logs each step at info level.
package main

import (
	"bytes"

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
	return &pluginContext{}
}

type pluginContext struct {
	types.DefaultPluginContext
	config string
}

func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	if pluginConfigurationSize > 0 {
		data, err := proxywasm.GetPluginConfiguration()
		if err != nil {
			proxywasm.LogCriticalf("go_headers: reading plugin configuration: %v", err)
			return types.OnPluginStartStatusFailed
		}
		p.config = string(data)
	}
	proxywasm.LogInfof("go_headers: plugin started, config=%q", p.config)
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{contextID: contextID, config: p.config}
}

type httpContext struct {
	types.DefaultHttpContext
	contextID uint32
	config    string
	upperBody bool
}

func (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	path, err := proxywasm.GetHttpRequestHeader(":path")
	if err != nil {
		proxywasm.LogWarnf("go_headers: context %d: no :path: %v", h.contextID, err)
	}
	if err := proxywasm.AddHttpRequestHeader("x-go-saw-path", path); err != nil {
		proxywasm.LogErrorf("go_headers: context %d: adding x-go-saw-path: %v", h.contextID, err)
	}
	proxywasm.LogInfof("go_headers: context %d: request path %s", h.contextID, path)

	if _, err := proxywasm.GetHttpRequestHeader("x-go-deny"); err == nil {
		proxywasm.LogInfof("go_headers: context %d: x-go-deny present, answering 403", h.contextID)
		if err := proxywasm.SendHttpResponse(403, [][2]string{{"content-type", "text/plain"}},
			[]byte("denied by go\n"), -1); err != nil {
			proxywasm.LogErrorf("go_headers: context %d: send local response: %v", h.contextID, err)
		}
		return types.ActionPause
	}
	if _, err := proxywasm.GetHttpRequestHeader("x-go-upper-body"); err == nil {
		h.upperBody = true
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if !h.upperBody {
		return types.ActionContinue
	}
	if !endOfStream {
		return types.ActionPause // buffer until the whole body is here
	}
	body, err := proxywasm.GetHttpRequestBody(0, bodySize)
	if err != nil {
		proxywasm.LogErrorf("go_headers: context %d: reading body: %v", h.contextID, err)
		return types.ActionContinue
	}
	if err := proxywasm.ReplaceHttpRequestBody(bytes.ToUpper(body)); err != nil {
		proxywasm.LogErrorf("go_headers: context %d: replacing body: %v", h.contextID, err)
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader("x-go-config", h.config); err != nil {
		proxywasm.LogErrorf("go_headers: context %d: adding x-go-config: %v", h.contextID, err)
	}
	proxywasm.LogInfof("go_headers: context %d: response headers, added x-go-config", h.contextID)
	return types.ActionContinue
}
