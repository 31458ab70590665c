// go_parity: Envoy behaviours plugin frameworks rely on, written against the public Go SDK.
// What it does depends on the request header x-parity:
//
//   - "sign": a body-signature check built as auth plugins build it. The request headers
//     callback pauses; the body callback buffers until end_of_stream, then compares the
//     body's sha256 (hex) with x-signature: a match adds "x-signature-verified: yes" and
//     returns Continue (headers and body then go upstream); a mismatch answers 401.
//   - "props": answers locally with one line per property named in x-props (comma-separated
//     dotted paths): "<path> <hex of the value>", or "<path> ! <error>".
//   - "compress" / "uncompress" / "foreign:<name>": calls that foreign function on the
//     whole request body and answers with its result (200), or 500 with the error.
//
// x-parity-authority: after reading route_name, replaces :authority with its value (the
// request is then routed by the new one).
//
// x-parity-response: "count" pauses the response headers; the response body callback
// buffers to the end, sets "x-body-bytes: <n>" on the held headers, and continues.
// Every response gets "x-upstream-address" (the upstream.address property) when known.
package main

import (
	"crypto/sha256"
	"encoding/hex"
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
	return &pluginContext{}
}

type pluginContext struct {
	types.DefaultPluginContext
}

func (*pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{}
}

type httpContext struct {
	types.DefaultHttpContext
	mode      string
	signature string
	countResp bool
}

func header(name string) string {
	v, err := proxywasm.GetHttpRequestHeader(name)
	if err != nil {
		return ""
	}
	return v
}

func (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	h.mode = header("x-parity")
	h.countResp = header("x-parity-response") == "count"
	if authority := header("x-parity-authority"); authority != "" {
		// Read the route first (frameworks do), then move the request to another host.
		proxywasm.GetProperty([]string{"route_name"})
		proxywasm.ReplaceHttpRequestHeader(":authority", authority)
	}
	switch {
	case h.mode == "sign":
		h.signature = header("x-signature")
		if endOfStream {
			return h.verify(nil)
		}
		return types.ActionPause
	case h.mode == "props":
		var b strings.Builder
		for _, p := range strings.Split(header("x-props"), ",") {
			v, err := proxywasm.GetProperty(strings.Split(p, "."))
			if err != nil {
				b.WriteString(p + " ! " + err.Error() + "\n")
			} else {
				b.WriteString(p + " " + hex.EncodeToString(v) + "\n")
			}
		}
		proxywasm.SendHttpResponse(200, nil, []byte(b.String()), -1)
		return types.ActionPause
	case h.mode == "compress" || h.mode == "uncompress" || strings.HasPrefix(h.mode, "foreign:"):
		if endOfStream {
			h.foreign(nil)
		}
		return types.ActionPause
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if h.mode != "sign" && h.mode != "compress" && h.mode != "uncompress" &&
		!strings.HasPrefix(h.mode, "foreign:") {
		return types.ActionContinue
	}
	if !endOfStream {
		return types.ActionPause // keep buffering: the whole body is needed
	}
	body, err := proxywasm.GetHttpRequestBody(0, bodySize)
	if err != nil {
		proxywasm.SendHttpResponse(500, nil, []byte("cannot read body: "+err.Error()+"\n"), -1)
		return types.ActionPause
	}
	if h.mode == "sign" {
		return h.verify(body)
	}
	h.foreign(body)
	return types.ActionPause
}

func (h *httpContext) verify(body []byte) types.Action {
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != h.signature {
		proxywasm.SendHttpResponse(401, nil, []byte("bad signature\n"), -1)
		return types.ActionPause
	}
	proxywasm.AddHttpRequestHeader("x-signature-verified", "yes")
	return types.ActionContinue
}

func (h *httpContext) foreign(body []byte) {
	name := strings.TrimPrefix(h.mode, "foreign:")
	out, err := proxywasm.CallForeignFunction(name, body)
	if err != nil {
		proxywasm.SendHttpResponse(500, [][2]string{{"x-foreign-error", err.Error()}}, nil, -1)
		return
	}
	proxywasm.SendHttpResponse(200, nil, out, -1)
}

func (h *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if v, err := proxywasm.GetProperty([]string{"upstream", "address"}); err == nil {
		proxywasm.AddHttpResponseHeader("x-upstream-address", string(v))
	}
	if h.countResp && !endOfStream {
		return types.ActionPause
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseBody(bodySize int, endOfStream bool) types.Action {
	if !h.countResp {
		return types.ActionContinue
	}
	if !endOfStream {
		return types.ActionPause
	}
	proxywasm.ReplaceHttpResponseHeader("x-body-bytes", strconv.Itoa(bodySize))
	return types.ActionContinue
}
