//! Sets an rpath to the libtorch that tch's build found, so `nmt` and the test binaries run without
//! LD_LIBRARY_PATH. torch-sys publishes that directory through its `links = "tch"` metadata.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
