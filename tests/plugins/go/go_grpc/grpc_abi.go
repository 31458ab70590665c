package main

// The Proxy-Wasm gRPC functions and callbacks, which the Go SDK does not wrap.

import (
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
)

//go:wasmimport env proxy_grpc_call
func proxyGrpcCall(service *byte, serviceSize int32, serviceName *byte, serviceNameSize int32,
	method *byte, methodSize int32, metadata *byte, metadataSize int32, message *byte,
	messageSize int32, timeout uint32, token *uint32) uint32

//go:wasmimport env proxy_grpc_stream
func proxyGrpcStream(service *byte, serviceSize int32, serviceName *byte, serviceNameSize int32,
	method *byte, methodSize int32, metadata *byte, metadataSize int32, token *uint32) uint32

//go:wasmimport env proxy_grpc_send
func proxyGrpcSend(token uint32, message *byte, messageSize int32, endStream uint32) uint32

//go:wasmimport env proxy_grpc_cancel
func proxyGrpcCancel(token uint32) uint32

//go:wasmimport env proxy_grpc_close
func proxyGrpcClose(token uint32) uint32

//go:wasmimport env proxy_get_status
func proxyGetStatus(code *uint32, message unsafe.Pointer, messageSize *int32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType uint32, start int32, maxSize int32, data unsafe.Pointer, size *int32) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key *byte, keySize int32, value unsafe.Pointer, valueSize *int32) uint32

//go:wasmexport proxy_on_grpc_receive_initial_metadata
func proxyOnGrpcReceiveInitialMetadata(pluginContextID, token, n uint32) {
	onGrpcInitialMetadata(token, n)
}

//go:wasmexport proxy_on_grpc_receive
func proxyOnGrpcReceive(pluginContextID, token, size uint32) {
	onGrpcReceive(token, size)
}

//go:wasmexport proxy_on_grpc_receive_trailing_metadata
func proxyOnGrpcReceiveTrailingMetadata(pluginContextID, token, n uint32) {
	onGrpcTrailingMetadata(token, n)
}

//go:wasmexport proxy_on_grpc_close
func proxyOnGrpcClose(pluginContextID, token, status uint32) {
	onGrpcClose(token, status)
}

func ptr(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return &b[0]
}

// The serialized map format of the ABI.
func serializeMap(pairs [][2]string) []byte {
	if len(pairs) == 0 {
		return nil
	}
	le := func(out []byte, v int) []byte {
		return append(out, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	out := le(nil, len(pairs))
	for _, p := range pairs {
		out = le(out, len(p[0]))
		out = le(out, len(p[1]))
	}
	for _, p := range pairs {
		out = append(out, p[0]...)
		out = append(out, 0)
		out = append(out, p[1]...)
		out = append(out, 0)
	}
	return out
}

func grpcCall(service, serviceName, method string, metadata [][2]string, message []byte, timeout uint32) (uint32, uint32) {
	s, n, m, md := []byte(service), []byte(serviceName), []byte(method), serializeMap(metadata)
	var token uint32
	st := proxyGrpcCall(ptr(s), int32(len(s)), ptr(n), int32(len(n)), ptr(m), int32(len(m)),
		ptr(md), int32(len(md)), ptr(message), int32(len(message)), timeout, &token)
	return token, st
}

func grpcStream(service, serviceName, method string, metadata [][2]string) (uint32, uint32) {
	s, n, m, md := []byte(service), []byte(serviceName), []byte(method), serializeMap(metadata)
	var token uint32
	st := proxyGrpcStream(ptr(s), int32(len(s)), ptr(n), int32(len(n)), ptr(m), int32(len(m)),
		ptr(md), int32(len(md)), &token)
	return token, st
}

func grpcSend(token uint32, message []byte, end bool) uint32 {
	e := uint32(0)
	if end {
		e = 1
	}
	return proxyGrpcSend(token, ptr(message), int32(len(message)), e)
}

func grpcCancel(token uint32) uint32 { return proxyGrpcCancel(token) }
func grpcClose(token uint32) uint32  { return proxyGrpcClose(token) }

func grpcStatus() (uint32, string) {
	var code uint32
	var data *byte
	var size int32
	if proxyGetStatus(&code, unsafe.Pointer(&data), &size) != 0 || data == nil {
		return code, ""
	}
	return code, string(unsafe.Slice(data, size))
}

// GrpcReceiveBuffer (5): the message proxy_on_grpc_receive announced.
func grpcMessage(size uint32) []byte {
	var data *byte
	var n int32
	if proxyGetBufferBytes(5, 0, int32(size), unsafe.Pointer(&data), &n) != 0 || data == nil {
		return nil
	}
	return append([]byte(nil), unsafe.Slice(data, n)...)
}

// GrpcReceiveInitialMetadata (4) or GrpcReceiveTrailingMetadata (5).
func grpcMetadataValue(initial bool, key string) (string, bool) {
	mapType := uint32(5)
	if initial {
		mapType = 4
	}
	k := []byte(key)
	var data *byte
	var n int32
	if st := proxyGetHeaderMapValue(mapType, ptr(k), int32(len(k)), unsafe.Pointer(&data), &n); st != 0 || data == nil {
		if st != 0 {
			proxywasm.LogDebugf("go_grpc: metadata %s: status %d", key, st)
		}
		return "", false
	}
	return string(unsafe.Slice(data, n)), true
}
