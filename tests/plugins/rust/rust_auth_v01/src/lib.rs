//! rust_auth_v01 on proxy-wasm 0.1.x (ABI 0.1.0): external authorization with an
//! HTTP call, resumed with the 0.1.0 `proxy_continue_request`.
//!
//! - Request headers: GET `<x-auth-path header, default /check>` on cluster `auth`
//!   (timeout 500 ms); the request waits.
//! - Answer 200: the request goes on with `x-rust-auth: allowed`; another status:
//!   local reply 403 `denied by rust auth`; no answer (failure, timeout): 500.

use std::time::Duration;

use log::error;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

#[no_mangle]
pub fn _start() {
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_http_context(|_context_id, _root_context_id| -> Box<dyn HttpContext> {
        Box::new(AuthStream)
    });
}

struct AuthStream;

impl Context for AuthStream {
    fn on_http_call_response(&mut self, _token_id: u32, num_headers: usize, _body_size: usize, _num_trailers: usize) {
        if num_headers == 0 {
            self.send_http_response(500, vec![], Some(b"auth service unavailable\n"));
            return;
        }
        match self.get_http_call_response_header(":status") {
            Some(status) if status == "200" => {
                self.add_http_request_header("x-rust-auth", "allowed");
                self.resume_http_request();
            }
            _ => self.send_http_response(403, vec![], Some(b"denied by rust auth\n")),
        }
    }
}

impl HttpContext for AuthStream {
    fn on_http_request_headers(&mut self, _num_headers: usize) -> Action {
        let path = self.get_http_request_header("x-auth-path").unwrap_or_else(|| "/check".to_string());
        let headers = vec![(":method", "GET"), (":path", path.as_str()), (":authority", "auth")];
        match self.dispatch_http_call("auth", headers, None, vec![], Duration::from_millis(500)) {
            Ok(_) => Action::Pause,
            Err(status) => {
                error!("rust_auth_v01: dispatch_http_call: {:?}", status);
                self.send_http_response(500, vec![], Some(b"auth call refused\n"));
                Action::Pause
            }
        }
    }
}
