// echo_service is the gRPC service the integration tests call through weir
// (tests/integration/test_grpc_calls.py). Its messages are google.protobuf.StringValue,
// so the service needs no generated code and plugins encode them by hand
// (field 1, a string). tests/grpc/echo.proto describes it for grpcurl.
//
//	weir.test.Echo/Check (unary): the request value decides the answer:
//	  "sleep:<ms>"         waits, then answers "allow:sleep"
//	  "fail:<code>:<msg>"  ends with that gRPC status
//	  "big:<n>"            answers n bytes of 'x'
//	  "deny..."            answers "deny"
//	  anything else        answers "allow:<value>"
//	  with header metadata x-check-id: <value> and x-check-authority: <:authority>, and
//	  trailer x-check-trailer: done.
//	weir.test.Echo/Chat (bidirectional): header metadata x-chat: open; answers every
//	  message <v> with "echo:<v>" ("end:<code>" ends the call with that status instead);
//	  when the client half-closes, ends OK with trailer x-chat-count: <messages received>.
//
// Usage: echo_service [-listen 127.0.0.1:0]; prints "LISTENING <port>" once serving.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type echoServer interface{}

type server struct{}

func (server) check(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	v := req.GetValue()
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-check-id", v))
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md[":authority"]) > 0 {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-check-authority", md[":authority"][0]))
	}
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-check-trailer", "done"))
	switch {
	case strings.HasPrefix(v, "sleep:"):
		ms, _ := strconv.Atoi(strings.TrimPrefix(v, "sleep:"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return wrapperspb.String("allow:sleep"), nil
	case strings.HasPrefix(v, "fail:"):
		parts := strings.SplitN(v, ":", 3)
		c, _ := strconv.Atoi(parts[1])
		msg := ""
		if len(parts) > 2 {
			msg = parts[2]
		}
		return nil, status.Error(codes.Code(c), msg)
	case strings.HasPrefix(v, "big:"):
		n, _ := strconv.Atoi(strings.TrimPrefix(v, "big:"))
		return wrapperspb.String(strings.Repeat("x", n)), nil
	case strings.HasPrefix(v, "deny"):
		return wrapperspb.String("deny"), nil
	}
	return wrapperspb.String("allow:" + v), nil
}

func (server) chat(stream grpc.ServerStream) error {
	_ = stream.SendHeader(metadata.Pairs("x-chat", "open"))
	n := 0
	for {
		req := new(wrapperspb.StringValue)
		if err := stream.RecvMsg(req); err == io.EOF {
			stream.SetTrailer(metadata.Pairs("x-chat-count", strconv.Itoa(n)))
			return nil
		} else if err != nil {
			return err
		}
		n++
		v := req.GetValue()
		if strings.HasPrefix(v, "end:") {
			c, _ := strconv.Atoi(strings.TrimPrefix(v, "end:"))
			return status.Error(codes.Code(c), "ended by request")
		}
		if err := stream.SendMsg(wrapperspb.String("echo:" + v)); err != nil {
			return err
		}
	}
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "weir.test.Echo",
	HandlerType: (*echoServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Check",
		Handler: func(srv interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
			req := new(wrapperspb.StringValue)
			if err := dec(req); err != nil {
				return nil, err
			}
			return srv.(server).check(ctx, req)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Chat",
		Handler:       func(srv interface{}, stream grpc.ServerStream) error { return srv.(server).chat(stream) },
		ServerStreams: true,
		ClientStreams: true,
	}},
	Metadata: "echo.proto",
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	flag.Parse()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo_service:", err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	s.RegisterService(&serviceDesc, server{})
	fmt.Printf("LISTENING %d\n", l.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	if err := s.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, "echo_service:", err)
		os.Exit(1)
	}
}
