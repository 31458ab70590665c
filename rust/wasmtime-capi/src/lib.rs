//! Re-exports Wasmtime's C API so this crate builds it as one static library.
pub use wasmtime_c_api::*;
