// A request quota kept in Redis, in the style of Higress's cluster-key-rate-limit, written
// against Higress's own SDK (github.com/higress-group/wasm-go, proxy_abi_version_0_2_100):
// proxy_redis_init in parseConfig, proxy_redis_call + proxy_on_redis_call_response per
// request.
//
// Config: {"service_name": "redis", "service_port": 6379, "username": "", "password": "",
// "database": 0, "timeout": 1000, "limit": 3}.
// The Redis cluster is Higress's StaticIpCluster: "outbound|<port>||<name>.static".
// Each request INCRs "quota:<x-api-key>" (EXPIRE 60 on the first); past `limit` the
// answer is 429; otherwise the request goes on with x-quota-count: <n>. A failed call
// (Redis down, timeout) answers 503; a Redis error reply answers 500 with the error.
package main

import (
	"strconv"

	"github.com/higress-group/proxy-wasm-go-sdk/proxywasm"
	"github.com/higress-group/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/higress-group/wasm-go/pkg/wrapper"
	"github.com/tidwall/gjson"
	"github.com/tidwall/resp"
)

func main() {}

func init() {
	wrapper.SetCtx(
		"higress-redis-quota",
		wrapper.ParseConfig(parseConfig),
		wrapper.ProcessRequestHeaders(onHttpRequestHeaders),
	)
}

type QuotaConfig struct {
	client wrapper.RedisClient
	limit  int64
}

func parseConfig(json gjson.Result, config *QuotaConfig) error {
	config.client = wrapper.NewRedisClusterClient(wrapper.StaticIpCluster{
		ServiceName: json.Get("service_name").String(),
		Port:        json.Get("service_port").Int(),
	})
	config.limit = json.Get("limit").Int()
	timeout := json.Get("timeout").Int()
	if timeout == 0 {
		timeout = 1000
	}
	return config.client.Init(json.Get("username").String(), json.Get("password").String(),
		timeout, wrapper.WithDataBase(int(json.Get("database").Int())))
}

func reply(status uint32, body string) {
	_ = proxywasm.SendHttpResponseWithDetail(status, "higress-redis-quota",
		[][2]string{{"content-type", "text/plain"}}, []byte(body), -1)
}

func onHttpRequestHeaders(ctx wrapper.HttpContext, config QuotaConfig) types.Action {
	key, _ := proxywasm.GetHttpRequestHeader("x-api-key")
	if key == "" {
		key = "anonymous"
	}
	redisKey := "quota:" + key
	err := config.client.Incr(redisKey, func(response resp.Value) {
		if response.Error() != nil {
			if response.Error().Error() == "cannot connect to redis cluster" {
				reply(503, "redis unavailable\n")
			} else {
				reply(500, "redis error: "+response.Error().Error()+"\n")
			}
			return
		}
		n := int64(response.Integer())
		if n == 1 {
			_ = config.client.Expire(redisKey, 60, nil)
		}
		if n > config.limit {
			reply(429, "quota exceeded: "+strconv.FormatInt(n, 10)+"\n")
			return
		}
		_ = proxywasm.AddHttpRequestHeader("x-quota-count", strconv.FormatInt(n, 10))
		_ = proxywasm.ResumeHttpRequest()
	})
	if err != nil {
		reply(503, "redis call refused: "+err.Error()+"\n")
		return types.ActionPause
	}
	return types.HeaderStopAllIterationAndWatermark
}
