// Copies the C API headers the wasmtime-c-api crate generates (its `include` metadata) to
// a stable place, $WEIR_WASMTIME_INCLUDE_OUT, so CMake finds them without knowing cargo's
// hashed output directories.
use std::path::Path;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating the header directory");
    for entry in std::fs::read_dir(from).expect("reading the generated headers") {
        let entry = entry.expect("reading a header directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying a header");
        }
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=WEIR_WASMTIME_INCLUDE_OUT");
    println!("cargo:rerun-if-env-changed=DEP_WASMTIME_C_API_INCLUDE");
    let include = std::env::var("DEP_WASMTIME_C_API_INCLUDE")
        .expect("wasmtime-c-api did not say where its headers are");
    if let Ok(out) = std::env::var("WEIR_WASMTIME_INCLUDE_OUT") {
        copy_tree(Path::new(&include), Path::new(&out));
    }
}
