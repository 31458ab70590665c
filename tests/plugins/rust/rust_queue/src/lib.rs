//! rust_queue on proxy-wasm 0.2.x (ABI 0.2.1).
//!
//! - Root context: registers the shared queue "rust_events" and ticks every 100 ms;
//!   each tick stores the tick count in shared data "rust.ticks". on_queue_ready
//!   dequeues until the queue is empty and adds the number of items to shared data
//!   "rust.dequeued" (compare-and-swap loop).
//! - Request headers: resolves "rust_events" under this plugin's vm_id (property
//!   plugin_vm_id) and enqueues the request path; adds `x-rust-plugin-name`
//!   (property plugin_name) to the request. A request with `x-rust-stats` is answered
//!   locally: `dequeued=<n> ticks=<n>`.
//! - Request trailers: remembers trailer `x-client-trailer`; response headers: adds
//!   `x-rust-saw-trailer: <value>` when there was one.

use std::time::Duration;

use log::error;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

const QUEUE: &str = "rust_events";

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(QueueRoot { ticks: 0 })
    });
}}

fn shared_number(ctx: &dyn Context, key: &str) -> (u64, Option<u32>) {
    let (value, cas) = ctx.get_shared_data(key);
    let n = value
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (n, cas)
}

struct QueueRoot {
    ticks: u64,
}

impl Context for QueueRoot {}

impl RootContext for QueueRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        self.register_shared_queue(QUEUE);
        self.set_tick_period(Duration::from_millis(100));
        true
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        let v = self.ticks.to_string();
        if let Err(status) = self.set_shared_data("rust.ticks", Some(v.as_bytes()), None) {
            error!("rust_queue: set_shared_data: {:?}", status);
        }
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        let mut items = 0;
        while let Ok(Some(_)) = self.dequeue_shared_queue(queue_id) {
            items += 1;
        }
        loop {
            let (n, cas) = shared_number(&*self, "rust.dequeued");
            let v = (n + items).to_string();
            match self.set_shared_data("rust.dequeued", Some(v.as_bytes()), cas) {
                Err(Status::CasMismatch) => continue,
                _ => break,
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(QueueStream { trailer: None }))
    }
}

struct QueueStream {
    trailer: Option<String>,
}

impl Context for QueueStream {}

impl HttpContext for QueueStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.get_http_request_header("x-rust-stats").is_some() {
            let (dequeued, _) = shared_number(&*self, "rust.dequeued");
            let (ticks, _) = shared_number(&*self, "rust.ticks");
            let body = format!("dequeued={} ticks={}", dequeued, ticks);
            self.send_http_response(200, vec![], Some(body.as_bytes()));
            return Action::Pause;
        }
        let vm_id = self
            .get_property(vec!["plugin_vm_id"])
            .and_then(|v| String::from_utf8(v).ok())
            .unwrap_or_default();
        let path = self.get_http_request_header(":path").unwrap_or_default();
        match self.resolve_shared_queue(&vm_id, QUEUE) {
            Some(queue) => {
                if let Err(status) = self.enqueue_shared_queue(queue, Some(path.as_bytes())) {
                    error!("rust_queue: enqueue: {:?}", status);
                }
            }
            None => error!("rust_queue: queue {} not found under vm_id {:?}", QUEUE, vm_id),
        }
        if let Some(name) = self.get_property(vec!["plugin_name"]).and_then(|v| String::from_utf8(v).ok()) {
            self.add_http_request_header("x-rust-plugin-name", &name);
        }
        Action::Continue
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.trailer = self.get_http_request_trailer("x-client-trailer");
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let Some(t) = self.trailer.take() {
            self.add_http_response_header("x-rust-saw-trailer", &t);
        }
        Action::Continue
    }
}
