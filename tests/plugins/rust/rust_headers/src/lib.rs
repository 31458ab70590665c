//! rust_headers on proxy-wasm 0.2.x (ABI 0.2.1).
//!
//! - on_configure: reads the plugin configuration as a UTF-8 string (empty when
//!   none is given).
//! - request headers: adds `x-rust-saw-path: <:path>` to the request and
//!   increments the gauge `rust_headers.active_requests`.
//! - response headers: adds `x-rust-config: <plugin configuration>`.
//! - end of stream (on_done, or on_log if the host calls that first): decrements
//!   the gauge again, once per stream that incremented it.
//! Logs at info level for each step.

use std::rc::Rc;

use log::{error, info};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

const ACTIVE: &str = "rust_headers.active_requests";

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(HeadersRoot { config: Rc::new(String::new()), active: None })
    });
}}

struct HeadersRoot {
    config: Rc<String>,
    active: Option<u32>,
}

impl Context for HeadersRoot {}

impl RootContext for HeadersRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        match hostcalls::define_metric(MetricType::Gauge, ACTIVE) {
            Ok(id) => {
                self.active = Some(id);
                info!("rust_headers: gauge {} defined", ACTIVE);
                true
            }
            Err(status) => {
                error!("rust_headers: define_metric failed: {:?}", status);
                false
            }
        }
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let config = match self.get_plugin_configuration() {
            Some(bytes) => match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(_) => {
                    error!("rust_headers: plugin configuration is not UTF-8");
                    return false;
                }
            },
            None => String::new(),
        };
        info!("rust_headers: configured with {:?}", config);
        self.config = Rc::new(config);
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(HeadersStream {
            context_id,
            config: Rc::clone(&self.config),
            active: self.active,
            counted: false,
        }))
    }
}

struct HeadersStream {
    context_id: u32,
    config: Rc<String>,
    active: Option<u32>,
    counted: bool,
}

impl HeadersStream {
    fn finish(&mut self) {
        if self.counted {
            self.counted = false;
            if let Some(id) = self.active {
                if let Err(status) = hostcalls::increment_metric(id, -1) {
                    error!("rust_headers: gauge decrement failed: {:?}", status);
                }
            }
        }
    }
}

impl Context for HeadersStream {
    fn on_done(&mut self) -> bool {
        self.finish();
        true
    }
}

impl HttpContext for HeadersStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        info!("rust_headers #{}: request path {}", self.context_id, path);
        self.add_http_request_header("x-rust-saw-path", &path);
        if !self.counted {
            if let Some(id) = self.active {
                match hostcalls::increment_metric(id, 1) {
                    Ok(()) => self.counted = true,
                    Err(status) => error!("rust_headers: gauge increment failed: {:?}", status),
                }
            }
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        info!("rust_headers #{}: adding x-rust-config", self.context_id);
        self.add_http_response_header("x-rust-config", &self.config);
        Action::Continue
    }

    fn on_log(&mut self) {
        self.finish();
    }
}
