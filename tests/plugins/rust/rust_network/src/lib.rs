//! rust_network on proxy-wasm 0.2.x (ABI 0.2.1): a network (TCP) filter.
//!
//! The plugin configuration picks what it does with the client's bytes:
//! - `upper`: a-z become A-Z (set_downstream_data replaces them all);
//! - `line`: held (PAUSE) until they end with a newline, so the upstream only ever gets
//!   whole lines: the host calls again with everything held each time more arrives.
//!
//! Counters: `rust_network.downstream_bytes`, `rust_network.upstream_bytes` (bytes seen in
//! each callback), `rust_network.connections`, and `rust_network.downstream_close_<peer>` /
//! `rust_network.upstream_close_<peer>` (peer: unknown, local, remote).

use std::collections::HashMap;
use std::rc::Rc;

use log::error;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(NetworkRoot { mode: Rc::new(String::new()), metrics: Rc::new(HashMap::new()) })
    });
}}

type Metrics = Rc<HashMap<String, u32>>;

fn bump(metrics: &Metrics, name: &str, by: usize) {
    if let Some(id) = metrics.get(name) {
        if by > 0 {
            let _ = hostcalls::increment_metric(*id, by as i64);
        }
    }
}

struct NetworkRoot {
    mode: Rc<String>,
    metrics: Metrics,
}

impl Context for NetworkRoot {}

impl RootContext for NetworkRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        let mut names = vec![
            "downstream_bytes".to_string(),
            "upstream_bytes".to_string(),
            "connections".to_string(),
        ];
        for side in ["downstream", "upstream"] {
            for peer in ["unknown", "local", "remote"] {
                names.push(format!("{}_close_{}", side, peer));
            }
        }
        let mut metrics = HashMap::new();
        for name in names {
            match hostcalls::define_metric(MetricType::Counter, &format!("rust_network.{}", name)) {
                Ok(id) => {
                    metrics.insert(name, id);
                }
                Err(status) => {
                    error!("rust_network: define_metric failed: {:?}", status);
                    return false;
                }
            }
        }
        self.metrics = Rc::new(metrics);
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let mode = self
            .get_plugin_configuration()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        self.mode = Rc::new(mode.trim().to_string());
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }

    fn create_stream_context(&self, _context_id: u32) -> Option<Box<dyn StreamContext>> {
        Some(Box::new(Connection { mode: self.mode.clone(), metrics: self.metrics.clone() }))
    }
}

struct Connection {
    mode: Rc<String>,
    metrics: Metrics,
}

impl Context for Connection {}

fn peer_name(peer: PeerType) -> &'static str {
    match peer {
        PeerType::Local => "local",
        PeerType::Remote => "remote",
        _ => "unknown",
    }
}

impl StreamContext for Connection {
    fn on_new_connection(&mut self) -> Action {
        bump(&self.metrics, "connections", 1);
        Action::Continue
    }

    fn on_downstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        bump(&self.metrics, "downstream_bytes", data_size);
        if data_size == 0 {
            return Action::Continue;
        }
        let data = self.get_downstream_data(0, data_size).unwrap_or_default();
        match self.mode.as_str() {
            "upper" => {
                self.set_downstream_data(0, data_size, &data.to_ascii_uppercase());
                Action::Continue
            }
            "line" if !data.ends_with(b"\n") => Action::Pause,
            _ => Action::Continue,
        }
    }

    fn on_upstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        bump(&self.metrics, "upstream_bytes", data_size);
        Action::Continue
    }

    fn on_downstream_close(&mut self, peer_type: PeerType) {
        bump(&self.metrics, &format!("downstream_close_{}", peer_name(peer_type)), 1);
    }

    fn on_upstream_close(&mut self, peer_type: PeerType) {
        bump(&self.metrics, &format!("upstream_close_{}", peer_name(peer_type)), 1);
    }
}
