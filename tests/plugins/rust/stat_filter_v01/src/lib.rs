//! stat_filter on proxy-wasm 0.1.x (ABI 0.1.0): the seed config's original filter.
//!
//! The root context defines two counters in on_vm_start; every HTTP stream
//! increments `..num_of_request` when its request headers arrive and
//! `..num_of_response` when its response headers arrive.
//!
//! 0.1.x registers the root-context factory in `_start` (no `main!` macro):
//! the host must call `_start` before creating the first context.

use log::{error, info};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

const REQUESTS: &str = "stat_filter.custom_metric.num_of_request";
const RESPONSES: &str = "stat_filter.custom_metric.num_of_response";

#[no_mangle]
pub fn _start() {
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(StatRoot::default()) });
}

#[derive(Default)]
struct StatRoot {
    requests: u32,
    responses: u32,
}

impl Context for StatRoot {}

impl RootContext for StatRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        match (
            hostcalls::define_metric(MetricType::Counter, REQUESTS),
            hostcalls::define_metric(MetricType::Counter, RESPONSES),
        ) {
            (Ok(requests), Ok(responses)) => {
                self.requests = requests;
                self.responses = responses;
                info!("stat_filter (proxy-wasm 0.1.x): metrics defined");
                true
            }
            (r, s) => {
                error!("stat_filter: define_metric failed: {:?} {:?}", r.err(), s.err());
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(StatStream { requests: self.requests, responses: self.responses }))
    }
}

struct StatStream {
    requests: u32,
    responses: u32,
}

impl Context for StatStream {}

impl HttpContext for StatStream {
    fn on_http_request_headers(&mut self, _num_headers: usize) -> Action {
        if let Err(status) = hostcalls::increment_metric(self.requests, 1) {
            error!("stat_filter: increment_metric(request) failed: {:?}", status);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize) -> Action {
        if let Err(status) = hostcalls::increment_metric(self.responses, 1) {
            error!("stat_filter: increment_metric(response) failed: {:?}", status);
        }
        Action::Continue
    }
}
