// A body-routing plugin in the style of Higress's ai-proxy / model-router, written against
// Higress's own SDK (github.com/higress-group/wasm-go, proxy_abi_version_0_2_100). It
// returns HeaderStopIteration from its request-headers handler, as those plugins do, so
// the headers wait while the wrapper buffers the body; the body decides a header.
//
// Config: {"models": ["name", ...]} (the models the upstream serves).
// A request with a body must be JSON with a "model" the config lists: the request goes on
// with "x-higress-model: <model>" added to its headers. Otherwise 400 with a JSON body,
// and nothing (headers included) reaches the upstream. A request without a body goes on.
package main

import (
	"errors"

	"github.com/higress-group/proxy-wasm-go-sdk/proxywasm"
	"github.com/higress-group/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/higress-group/wasm-go/pkg/wrapper"
	"github.com/tidwall/gjson"
)

func main() {}

func init() {
	wrapper.SetCtx(
		"higress-model-router",
		wrapper.ParseConfig(parseConfig),
		wrapper.ProcessRequestHeaders(onHttpRequestHeaders),
		wrapper.ProcessRequestBody(onHttpRequestBody),
	)
}

type RouterConfig struct {
	models map[string]bool
}

func parseConfig(json gjson.Result, config *RouterConfig) error {
	config.models = map[string]bool{}
	for _, m := range json.Get("models").Array() {
		config.models[m.String()] = true
	}
	if len(config.models) == 0 {
		return errors.New("no models configured")
	}
	return nil
}

func onHttpRequestHeaders(ctx wrapper.HttpContext, config RouterConfig) types.Action {
	if !wrapper.HasRequestBody() {
		ctx.DontReadRequestBody()
		return types.ActionContinue
	}
	// The body decides a header: hold the headers (not the whole stream) until it is read.
	return types.HeaderStopIteration
}

func refuse(reason string) types.Action {
	_ = proxywasm.SendHttpResponseWithDetail(400, "higress-model-router."+reason,
		[][2]string{{"content-type", "application/json"}},
		[]byte(`{"message":"`+reason+`"}`), -1)
	return types.ActionPause
}

func onHttpRequestBody(ctx wrapper.HttpContext, config RouterConfig, body []byte) types.Action {
	if !gjson.ValidBytes(body) {
		return refuse("body is not JSON")
	}
	model := gjson.GetBytes(body, "model").String()
	if !config.models[model] {
		return refuse("unknown model")
	}
	_ = proxywasm.ReplaceHttpRequestHeader("x-higress-model", model)
	proxywasm.LogInfof("routed to model %s", model)
	return types.ActionContinue
}
