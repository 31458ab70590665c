// go_network: a network (TCP) filter written against the public Go SDK, modelled on the
// SDK's `network` example. What it does depends on its plugin configuration (one word):
//
//	count    counts the bytes of each direction (metrics go_network.downstream_bytes and
//	         go_network.upstream_bytes) and leaves them as they are
//	rewrite  counts, and rewrites: client bytes a-z become A-Z; upstream bytes 'O'
//	         become '0'. The first client bytes get a line in front naming the
//	         connection's properties ("props src=... dst=... id=...\n"), and the first
//	         upstream bytes one naming the upstream ("up=...\n").
//	drop     drops every client byte whose line starts with "drop" (the rest go on)
//	hold     pauses client bytes until a tick (100 ms) continues the stream with
//	         ContinueTcpStream (proxy_continue_stream from outside the callback)
//	pause    pauses client bytes forever (nothing reaches the upstream)
//	trap     panics (a Wasm trap) in OnDownstreamData when the bytes contain "trap"
//	close    closes the connection (CloseDownstream) when client bytes contain "close"
//
// Every mode counts closes by peer type: go_network.downstream_close_<peer> and
// go_network.upstream_close_<peer> (peer: unknown, local, remote), and connections
// created and done (go_network.connections, go_network.streams_done).
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

var (
	downstreamBytes proxywasm.MetricCounter
	upstreamBytes   proxywasm.MetricCounter
	connections     proxywasm.MetricCounter
	streamsDone     proxywasm.MetricCounter
	closes          = map[string]proxywasm.MetricCounter{}
)

type vmContext struct {
	types.DefaultVMContext
}

func (*vmContext) OnVMStart(int) types.OnVMStartStatus {
	downstreamBytes = proxywasm.DefineCounterMetric("go_network.downstream_bytes")
	upstreamBytes = proxywasm.DefineCounterMetric("go_network.upstream_bytes")
	connections = proxywasm.DefineCounterMetric("go_network.connections")
	streamsDone = proxywasm.DefineCounterMetric("go_network.streams_done")
	for _, side := range []string{"downstream", "upstream"} {
		for _, peer := range []string{"unknown", "local", "remote"} {
			name := side + "_close_" + peer
			closes[name] = proxywasm.DefineCounterMetric("go_network." + name)
		}
	}
	return types.OnVMStartStatusOK
}

func (*vmContext) NewPluginContext(uint32) types.PluginContext {
	return &pluginContext{held: map[uint32]bool{}}
}

type pluginContext struct {
	types.DefaultPluginContext
	mode string
	held map[uint32]bool // "hold": contexts waiting for the next tick
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	config, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("reading the plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	p.mode = string(bytes.TrimSpace(config))
	if p.mode == "" {
		p.mode = "count"
	}
	if p.mode == "hold" {
		if err := proxywasm.SetTickPeriodMilliSeconds(100); err != nil {
			proxywasm.LogCriticalf("setting the tick period: %v", err)
			return types.OnPluginStartStatusFailed
		}
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) OnTick() {
	for id := range p.held {
		delete(p.held, id)
		if err := proxywasm.SetEffectiveContext(id); err != nil {
			continue // the connection is gone
		}
		if err := proxywasm.ContinueTcpStream(); err != nil {
			proxywasm.LogErrorf("continuing connection context %d: %v", id, err)
		}
	}
}

func (p *pluginContext) NewTcpContext(contextID uint32) types.TcpContext {
	return &tcpContext{plugin: p, id: contextID}
}

type tcpContext struct {
	types.DefaultTcpContext
	plugin        *pluginContext
	id            uint32
	sawDownstream bool
	sawUpstream   bool
}

func property(path ...string) string {
	v, err := proxywasm.GetProperty(path)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(v)
}

func numberProperty(path ...string) string {
	v, err := proxywasm.GetProperty(path)
	if err != nil || len(v) != 8 {
		return "<missing>"
	}
	return fmt.Sprint(binary.LittleEndian.Uint64(v))
}

func (c *tcpContext) OnNewConnection() types.Action {
	connections.Increment(1)
	proxywasm.LogInfof("new connection from %s", property("source", "address"))
	return types.ActionContinue
}

func (c *tcpContext) OnDownstreamData(dataSize int, endOfStream bool) types.Action {
	mode := c.plugin.mode
	if dataSize == 0 {
		return types.ActionContinue
	}
	if mode == "count" { // the bytes are not even copied into the plugin
		downstreamBytes.Increment(uint64(dataSize))
		return types.ActionContinue
	}
	data, err := proxywasm.GetDownstreamData(0, dataSize)
	if err != nil {
		proxywasm.LogErrorf("reading downstream data: %v", err)
		return types.ActionContinue
	}
	switch mode {
	case "pause":
		return types.ActionPause
	case "hold":
		c.plugin.held[c.id] = true
		return types.ActionPause
	case "trap":
		if bytes.Contains(data, []byte("trap")) {
			panic("go_network: asked to trap")
		}
	case "close":
		if bytes.Contains(data, []byte("close")) {
			if err := proxywasm.CloseDownstream(); err != nil {
				proxywasm.LogErrorf("closing: %v", err)
			}
			return types.ActionPause
		}
	case "drop":
		var kept []byte
		for _, line := range bytes.SplitAfter(data, []byte("\n")) {
			if !bytes.HasPrefix(line, []byte("drop")) {
				kept = append(kept, line...)
			}
		}
		if err := proxywasm.ReplaceDownstreamData(kept); err != nil {
			proxywasm.LogErrorf("replacing downstream data: %v", err)
		}
	case "rewrite":
		out := bytes.ToUpper(data)
		if !c.sawDownstream {
			props := fmt.Sprintf("props src=%s dst=%s id=%s\n", property("source", "address"),
				property("destination", "address"), numberProperty("connection", "id"))
			out = append([]byte(props), out...)
		}
		if err := proxywasm.ReplaceDownstreamData(out); err != nil {
			proxywasm.LogErrorf("replacing downstream data: %v", err)
		}
	}
	c.sawDownstream = true
	downstreamBytes.Increment(uint64(dataSize))
	return types.ActionContinue
}

func (c *tcpContext) OnUpstreamData(dataSize int, endOfStream bool) types.Action {
	if dataSize == 0 {
		return types.ActionContinue
	}
	upstreamBytes.Increment(uint64(dataSize))
	if c.plugin.mode != "rewrite" {
		return types.ActionContinue
	}
	data, err := proxywasm.GetUpstreamData(0, dataSize)
	if err != nil {
		proxywasm.LogErrorf("reading upstream data: %v", err)
		return types.ActionContinue
	}
	out := bytes.ReplaceAll(data, []byte("O"), []byte("0"))
	if !c.sawUpstream {
		c.sawUpstream = true
		out = append([]byte("up="+property("upstream", "address")+"\n"), out...)
	}
	if err := proxywasm.ReplaceUpstreamData(out); err != nil {
		proxywasm.LogErrorf("replacing upstream data: %v", err)
	}
	return types.ActionContinue
}

func peerName(peer types.PeerType) string {
	switch peer {
	case types.PeerTypeLocal:
		return "local"
	case types.PeerTypeRemote:
		return "remote"
	}
	return "unknown"
}

func (c *tcpContext) OnDownstreamClose(peer types.PeerType) {
	closes["downstream_close_"+peerName(peer)].Increment(1)
}

func (c *tcpContext) OnUpstreamClose(peer types.PeerType) {
	closes["upstream_close_"+peerName(peer)].Increment(1)
}

func (c *tcpContext) OnStreamDone() {
	delete(c.plugin.held, c.id)
	streamsDone.Increment(1)
}
