// A body-signature auth plugin in the style of Higress's hmac-auth, written against
// Higress's own SDK (github.com/higress-group/wasm-go, proxy_abi_version_0_2_100).
//
// Config: {"consumers": [{"name": "...", "key": "...", "secret": "..."}]}
// A request must carry x-ca-key (a consumer's key) and x-ca-signature, the base64 of
// HMAC-SHA256(secret, request body). Otherwise: 401 with a JSON body, and the upstream
// never gets the body. On success the body goes on unchanged.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/higress-group/proxy-wasm-go-sdk/proxywasm"
	"github.com/higress-group/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/higress-group/wasm-go/pkg/wrapper"
	"github.com/tidwall/gjson"
)

func main() {}

func init() {
	wrapper.SetCtx(
		"higress-body-auth",
		wrapper.ParseConfig(parseConfig),
		wrapper.ProcessRequestHeaders(onHttpRequestHeaders),
		wrapper.ProcessRequestBody(onHttpRequestBody),
	)
}

type consumer struct {
	name   string
	secret string
}

type BodyAuthConfig struct {
	consumers map[string]consumer // by key
}

func parseConfig(json gjson.Result, config *BodyAuthConfig) error {
	config.consumers = map[string]consumer{}
	for _, c := range json.Get("consumers").Array() {
		key := c.Get("key").String()
		if key == "" || c.Get("secret").String() == "" {
			return errors.New("each consumer needs a key and a secret")
		}
		config.consumers[key] = consumer{name: c.Get("name").String(), secret: c.Get("secret").String()}
	}
	if len(config.consumers) == 0 {
		return errors.New("no consumers configured")
	}
	return nil
}

func deny(reason string) types.Action {
	_ = proxywasm.SendHttpResponseWithDetail(401, "higress-body-auth."+reason,
		[][2]string{{"content-type", "application/json"}},
		[]byte(`{"message":"`+reason+`"}`), -1)
	return types.ActionPause
}

func onHttpRequestHeaders(ctx wrapper.HttpContext, config BodyAuthConfig) types.Action {
	key, _ := proxywasm.GetHttpRequestHeader("x-ca-key")
	sig, _ := proxywasm.GetHttpRequestHeader("x-ca-signature")
	if key == "" || sig == "" {
		ctx.DontReadRequestBody()
		return deny("missing x-ca-key or x-ca-signature")
	}
	ctx.SetContext("key", key)
	ctx.SetContext("signature", sig)
	// The wrapper buffers the body (a body callback pausing until end_of_stream) and
	// calls onHttpRequestBody with all of it. Returning HeaderStopIteration here, as
	// plugins for Higress's own Envoy build do, would hold the body callbacks too on
	// stock Envoy and weir (proxy-wasm-cpp-host's default).
	return types.ActionContinue
}

func onHttpRequestBody(ctx wrapper.HttpContext, config BodyAuthConfig, body []byte) types.Action {
	key := ctx.GetStringContext("key", "")
	c, ok := config.consumers[key]
	if !ok {
		return deny("unknown consumer key")
	}
	want, err := base64.StdEncoding.DecodeString(ctx.GetStringContext("signature", ""))
	if err != nil {
		return deny("signature is not base64")
	}
	mac := hmac.New(sha256.New, []byte(c.secret))
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), want) {
		return deny("signature mismatch")
	}
	proxywasm.LogInfof("consumer %s authenticated", c.name)
	return types.ActionContinue
}
