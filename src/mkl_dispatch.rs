//! MKL's code path chosen by the CPU's features, not by its vendor.
//!
//! libtorch's fp32 `matmul` (every product of training and, with this module active, of decoding) is
//! MKL's sgemm, linked into `libtorch_cpu.so`; its `tanh` and `exp` are MKL's vector functions. MKL picks its kernels by asking
//! `mkl_serv_intel_cpu_true()` first: on a CPU that is not Intel's it answers 0 and MKL runs its AVX2
//! kernels even where the CPU has AVX-512, as the AMD EPYC this project is measured on does. Where it
//! answers 1, MKL chooses by the CPU's own feature flags (cpuid), exactly as on an Intel CPU with the
//! same features, so no instruction the CPU lacks is ever chosen.
//!
//! libtorch exports that function and calls it through the dynamic linker, so a definition in the
//! executable comes first. `build.rs` links this one into `nmt` and the test binaries and exports it
//! (`-u` keeps it, `--export-dynamic-symbol` publishes it); a program that links the `nmt` library
//! crate and wants the same must pass both linker flags itself (GNU ld and lld; `build.rs` passes them
//! on Linux only). [`active`] says whether libtorch sees this definition. Nothing wraps this in a
//! crate, hence the hand-written item.
//!
//! The effect (`nmt bench`, `nmt bench --kernels`, README "Performance") is on speed only: outputs
//! differ by float rounding, as between two CPUs.

/// The answer MKL gets when it asks whether this is an Intel CPU: yes, so that it chooses its
/// kernels by the CPU's features (see the module header). Called by MKL, not by this crate.
#[no_mangle]
pub extern "C" fn mkl_serv_intel_cpu_true() -> std::ffi::c_int {
    1
}

/// Whether the dynamic linker resolves MKL's vendor question to [`mkl_serv_intel_cpu_true`] above
/// (false in a program linked without `build.rs`'s flags). Looked up once.
pub fn active() -> bool {
    static ACTIVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ACTIVE.get_or_init(|| {
        // SAFETY: dlsym with a NUL-terminated name only looks the symbol up.
        let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"mkl_serv_intel_cpu_true".as_ptr()) };
        found == mkl_serv_intel_cpu_true as *mut libc::c_void
    })
}

#[cfg(test)]
mod tests {
    /// The test binary is linked with `build.rs`'s flags: libtorch (which is loaded, as tch is linked)
    /// must see this definition, not MKL's own.
    #[cfg(target_os = "linux")]
    #[test]
    fn libtorch_sees_this_definition() {
        let ones = tch::Tensor::ones([2, 2], (tch::Kind::Float, tch::Device::Cpu));
        let _ = ones.matmul(&ones);
        assert!(super::active(), "the dynamic linker does not resolve mkl_serv_intel_cpu_true to nmt's");
    }
}
