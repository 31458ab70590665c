//! rust_grpc on proxy-wasm 0.2.x (ABI 0.2.1): gRPC calls and streams through the SDK's
//! own API, to weir's test service (tests/grpc/echo_service, weir.test.Echo, messages
//! google.protobuf.StringValue encoded by hand).
//!
//! - Plugin configuration: the gRPC service argument, a cluster name (default
//!   "grpc_service").
//! - GET /unary with x-user: U: `dispatch_grpc_call` Check(U), 5 s; the request waits.
//!   "allow:..." -> upstream with x-grpc-answer: <answer>; "deny" -> 403 "denied";
//!   a failed call -> 503 with x-grpc-status / x-grpc-message (`get_grpc_status`).
//! - GET /stream with x-count: N: `open_grpc_stream` Chat, N messages m0.., then
//!   `close_grpc_stream`; the echoes, x-chat (initial metadata) and x-chat-count (trailing
//!   metadata) come back in a local 200 at the stream's close, with x-grpc-status.

use std::time::Duration;

use log::error;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(GrpcRoot { service: String::from("grpc_service") })
    });
}}

struct GrpcRoot {
    service: String,
}

impl Context for GrpcRoot {}

impl RootContext for GrpcRoot {
    fn on_configure(&mut self, size: usize) -> bool {
        if size > 0 {
            if let Some(c) = self.get_plugin_configuration() {
                self.service = String::from_utf8_lossy(&c).into_owned();
            }
        }
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(GrpcHttp {
            service: self.service.clone(),
            echoes: Vec::new(),
            chat: String::new(),
            chat_count: String::new(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct GrpcHttp {
    service: String,
    echoes: Vec<String>,
    chat: String,
    chat_count: String,
}

fn encode_string(s: &str) -> Vec<u8> {
    let mut out = vec![0x0a];
    let mut n = s.len() as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(s.as_bytes());
    out
}

fn decode_string(b: &[u8]) -> String {
    if b.len() < 2 || b[0] != 0x0a {
        return String::new();
    }
    let (mut n, mut shift, mut i) = (0u64, 0u32, 1usize);
    while i < b.len() {
        let c = b[i];
        i += 1;
        n |= u64::from(c & 0x7f) << shift;
        shift += 7;
        if c < 0x80 {
            break;
        }
    }
    if ((b.len() - i) as u64) < n {
        return String::new();
    }
    String::from_utf8_lossy(&b[i..i + n as usize]).into_owned()
}

fn text(v: Option<Bytes>) -> String {
    v.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

impl Context for GrpcHttp {
    fn on_grpc_call_response(&mut self, _token_id: u32, status_code: u32, response_size: usize) {
        if status_code != 0 {
            let (code, message) = self.get_grpc_status();
            let code = code.to_string();
            let message = message.unwrap_or_default();
            self.send_http_response(
                503,
                vec![("x-grpc-status", code.as_str()), ("x-grpc-message", message.as_str())],
                Some(b"grpc call failed\n"),
            );
            return;
        }
        let answer = decode_string(&self.get_grpc_call_response_body(0, response_size).unwrap_or_default());
        if answer.starts_with("allow") {
            self.add_http_request_header("x-grpc-answer", &answer);
            self.resume_http_request();
        } else {
            self.send_http_response(403, vec![], Some(b"denied\n"));
        }
    }

    fn on_grpc_stream_initial_metadata(&mut self, _token_id: u32, _num_elements: u32) {
        self.chat = text(self.get_grpc_stream_initial_metadata_value("x-chat"));
    }

    fn on_grpc_stream_message(&mut self, _token_id: u32, message_size: usize) {
        let m = self.get_grpc_stream_message(0, message_size).unwrap_or_default();
        self.echoes.push(decode_string(&m));
    }

    fn on_grpc_stream_trailing_metadata(&mut self, _token_id: u32, _num_elements: u32) {
        self.chat_count = text(self.get_grpc_stream_trailing_metadata_value("x-chat-count"));
    }

    fn on_grpc_stream_close(&mut self, _token_id: u32, status_code: u32) {
        let code = status_code.to_string();
        let body = self.echoes.join(",");
        let chat = self.chat.clone();
        let count = self.chat_count.clone();
        self.send_http_response(
            200,
            vec![("x-grpc-status", code.as_str()), ("x-chat", chat.as_str()), ("x-chat-count", count.as_str())],
            Some(body.as_bytes()),
        );
    }
}

impl HttpContext for GrpcHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        if path == "/unary" {
            let user = self.get_http_request_header("x-user").unwrap_or_default();
            let message = encode_string(&user);
            match self.dispatch_grpc_call(
                &self.service,
                "weir.test.Echo",
                "Check",
                vec![("x-user", user.as_bytes())],
                Some(&message),
                Duration::from_secs(5),
            ) {
                Ok(_) => return Action::Pause,
                Err(status) => {
                    error!("rust_grpc: dispatch_grpc_call: {:?}", status);
                    self.send_http_response(500, vec![], Some(b"grpc call refused\n"));
                    return Action::Pause;
                }
            }
        }
        if path == "/stream" {
            let n: usize = self
                .get_http_request_header("x-count")
                .and_then(|c| c.parse().ok())
                .unwrap_or(3);
            let token = match self.open_grpc_stream(&self.service, "weir.test.Echo", "Chat", vec![]) {
                Ok(t) => t,
                Err(status) => {
                    error!("rust_grpc: open_grpc_stream: {:?}", status);
                    self.send_http_response(500, vec![], Some(b"grpc stream refused\n"));
                    return Action::Pause;
                }
            };
            for i in 0..n {
                let m = encode_string(&format!("m{}", i));
                self.send_grpc_stream_message(token, Some(&m), false);
            }
            self.close_grpc_stream(token);
            return Action::Pause;
        }
        Action::Continue
    }
}
