// go_stat_filter: the seed's stat filter, written against the public Go SDK.
//
// At VM start it defines two counters; every request-headers callback adds one
// to the first, every response-headers callback adds one to the second.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

const (
	requestCounterName  = "stat_filter.custom_metric.num_of_request"
	responseCounterName = "stat_filter.custom_metric.num_of_response"
)

var (
	requestCounter  proxywasm.MetricCounter
	responseCounter proxywasm.MetricCounter
)

func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

type vmContext struct {
	types.DefaultVMContext
}

func (*vmContext) OnVMStart(vmConfigurationSize int) types.OnVMStartStatus {
	requestCounter = proxywasm.DefineCounterMetric(requestCounterName)
	responseCounter = proxywasm.DefineCounterMetric(responseCounterName)
	return types.OnVMStartStatusOK
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
}

func (*httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	requestCounter.Increment(1)
	return types.ActionContinue
}

func (*httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	responseCounter.Increment(1)
	return types.ActionContinue
}
