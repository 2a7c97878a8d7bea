//! Sets an rpath to the libtorch that tch's build found, so `nmt` and the test binaries run without
//! LD_LIBRARY_PATH. torch-sys publishes that directory through its `links = "tch"` metadata. Links and
//! exports `src/mkl_dispatch.rs`'s answer to MKL's CPU-vendor question (see that file's header).
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg=-Wl,-u,mkl_serv_intel_cpu_true");
        println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=mkl_serv_intel_cpu_true");
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
