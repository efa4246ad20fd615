//! Regenerates `include/interlink.h` from the `extern "C"` items of this crate with cbindgen
//! (pinned in the workspace). The header is checked in; `tests/c/run.sh` fails when a build
//! changes it (`git diff --exit-code include/`).

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("ffi/cbindgen.toml is readable");
    let header = crate_dir.join("../include/interlink.h");
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        // Writes only when the text changed, so an unchanged header keeps its mtime.
        Ok(bindings) => {
            bindings.write_to_file(&header);
        }
        Err(e) => panic!("cbindgen could not generate include/interlink.h: {e}"),
    }
}
