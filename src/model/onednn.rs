//! Fully connected products through oneDNN for inference on the CPU.
//!
//! libtorch's fp32 `matmul` calls MKL's sgemm, and MKL runs its AVX2 code on CPUs other than Intel's
//! even where they have AVX-512, as the AMD EPYC this project is measured on does; oneDNN, which
//! libtorch also carries, uses AVX-512 there and multiplies a decoding step's matrices about 2× as
//! fast from a few rows on (`nmt bench --kernels`, README "Matrix kernels"). tch 0.26 does not
//! expose oneDNN's linear layer (`mkldnn::_linear_pointwise`), but libtorch exports it as a C function
//! for AOTInductor (`aoti_torch_cpu__linear_pointwise`, declared in libtorch's
//! `torch/csrc/inductor/aoti_torch/c/shim_cpu.h`) whose tensor handles are the `at::Tensor*` that tch's
//! tensors hold. No crate wraps it, hence this hand-written binding. It is looked up at run time, so
//! a libtorch built without oneDNN still runs (on MKL), and [`available`] checks it once against
//! `matmul` before anything uses it.
//!
//! With [`crate::mkl_dispatch`] active, MKL runs its AVX-512 code too and is the faster of the two at
//! every shape of a decoding step (README "Matrix kernels"): decoding then leaves its products to
//! `matmul` ([`preferred`] is false), and oneDNN serves where MKL's kernels are still chosen by vendor
//! (a program linked without `build.rs`'s flags).
//!
//! The function has no gradient: [`linear`] takes only tensors that do not require one. oneDNN builds
//! (and caches) a kernel per row count, about 2 ms each (in Python, 317 row counts cost 0.66 s more on
//! first use than on the second), so rows are padded to a multiple of
//! [`ROW_STEP`]: decoding drops finished rows and would otherwise meet every count from 1 to the
//! batch.

use std::ffi::{c_char, c_int};
use std::sync::OnceLock;
use tch::{nn, nn::Module, Device, Kind, Tensor};
use torch_sys::C_tensor;

/// Fewest rows a product runs through oneDNN: below, MKL's matrix–vector code is as fast
/// (`nmt bench --kernels`: oneDNN is slower at 1–2 rows, faster from 4).
pub const MIN_ROWS: i64 = 4;

/// Row counts are padded up to a multiple of this (see the module header).
pub const ROW_STEP: i64 = 8;

/// `aoti_torch_cpu__linear_pointwise(X, W, B*, attr, scalars, scalars_len, algorithm*, ret0*)`.
type LinearPointwise = unsafe extern "C" fn(
    *mut C_tensor,
    *mut C_tensor,
    *mut *mut C_tensor,
    *const c_char,
    *const *const f64,
    i64,
    *const *const c_char,
    *mut *mut C_tensor,
) -> c_int;

/// The function, when libtorch has it and it passed the check of [`available`].
fn function() -> Option<LinearPointwise> {
    static FUNCTION: OnceLock<Option<LinearPointwise>> = OnceLock::new();
    *FUNCTION.get_or_init(|| {
        // SAFETY: dlsym with a NUL-terminated name; a non-null result is that symbol's address, and
        // the signature is the one libtorch's shim_cpu.h declares.
        let f: LinearPointwise = unsafe {
            let p = libc::dlsym(libc::RTLD_DEFAULT, c"aoti_torch_cpu__linear_pointwise".as_ptr());
            if p.is_null() {
                return None;
            }
            std::mem::transmute::<*mut libc::c_void, LinearPointwise>(p)
        };
        let _guard = tch::no_grad_guard();
        let x = Tensor::arange(2 * ROW_STEP * 24, (Kind::Float, Device::Cpu)).view([2 * ROW_STEP, 24]) / 100.0;
        let w = Tensor::arange(24 * 40, (Kind::Float, Device::Cpu)).view([40, 24]).cos();
        let b = Tensor::arange(40, (Kind::Float, Device::Cpu)).sin();
        let ok = call(f, &x, &w, Some(&b)).is_some_and(|y| y.allclose(&(x.matmul(&w.tr()) + &b), 1e-4, 1e-4, false));
        ok.then_some(f)
    })
}

/// Whether products run through oneDNN here: libtorch has it and it agrees with `matmul`.
pub fn available() -> bool {
    function().is_some()
}

/// One call of `f`: x `[M, in]`, w `[out, in]`, bias `[out]` (all contiguous fp32 on the CPU) →
/// `[M, out]`, or `None` if libtorch reports a failure.
fn call(f: LinearPointwise, x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Option<Tensor> {
    let mut bias_ptr = bias.map(|b| b.as_ptr() as *mut C_tensor);
    let bias_arg = bias_ptr.as_mut().map_or(std::ptr::null_mut(), |p| p as *mut *mut C_tensor);
    let mut out: *mut C_tensor = std::ptr::null_mut();
    // SAFETY: the handles point to live tensors that the call only reads (shim_cpu.h takes them as
    // inputs); on success `out` is a new `at::Tensor*` that the returned `Tensor` owns and frees.
    let status = unsafe {
        f(
            x.as_ptr() as *mut C_tensor,
            w.as_ptr() as *mut C_tensor,
            bias_arg,
            c"none".as_ptr(),
            std::ptr::null(),
            0,
            std::ptr::null(),
            &mut out,
        )
    };
    (status == 0 && !out.is_null()).then(|| unsafe { Tensor::from_ptr(out) })
}

/// Whether decoding runs its products through oneDNN: it is [`available`] and MKL's kernels are still
/// chosen by CPU vendor ([`crate::mkl_dispatch::active`] is false; see the module header).
pub fn preferred() -> bool {
    available() && !crate::mkl_dispatch::active()
}

/// `x · wᵀ + bias` through oneDNN: x `[M, in]`, w `[out, in]` (contiguous), bias `[out]` → `[M, out]`.
/// `None` — the caller multiplies otherwise — when oneDNN is not [`available`], x has fewer than
/// [`MIN_ROWS`] rows, a tensor is not fp32 on the CPU, requires a gradient, or the shapes do not fit.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Option<Tensor> {
    x.size2().ok().filter(|&(rows, _)| rows >= MIN_ROWS)?;
    product(x, w, bias)
}

/// [`linear`] at any row count: what `nmt bench --kernels` times to find [`MIN_ROWS`].
pub fn product(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Option<Tensor> {
    let f = function()?;
    let (rows, inputs) = x.size2().ok()?;
    let (outputs, w_in) = w.size2().ok()?;
    let fits = |t: &Tensor| t.device() == Device::Cpu && t.kind() == Kind::Float && !t.requires_grad();
    if rows == 0
        || inputs != w_in
        || !fits(x)
        || !fits(w)
        || !w.is_contiguous()
        || bias.is_some_and(|b| !fits(b) || b.size() != [outputs] || !b.is_contiguous())
    {
        return None;
    }
    let padded = (rows + ROW_STEP - 1) / ROW_STEP * ROW_STEP;
    let x = match padded == rows {
        true => x.contiguous(),
        false => x.constant_pad_nd([0, 0, 0, padded - rows]),
    };
    let y = call(f, &x, w, bias)?;
    Some(if padded == rows { y } else { y.narrow(0, 0, rows) })
}

/// `layer` applied to x `[..., in]` → `[..., out]`: through [`linear`] where oneDNN is [`preferred`]
/// and takes the product, else `layer.forward`.
pub fn forward(layer: &nn::Linear, x: &Tensor) -> Tensor {
    if preferred() {
        through(layer, x)
    } else {
        layer.forward(x)
    }
}

/// `layer` applied to x `[..., in]` → `[..., out]` through [`linear`] where it takes the product, else
/// `layer.forward`.
fn through(layer: &nn::Linear, x: &Tensor) -> Tensor {
    let size = x.size();
    let Some(&inputs) = size.last() else { return layer.forward(x) };
    let flat = x.reshape([-1, inputs]);
    match linear(&flat, &layer.ws, layer.bs.as_ref()) {
        Some(y) => {
            let mut shape = size;
            *shape.last_mut().expect("x has a last dimension") = layer.ws.size()[0];
            y.view(shape.as_slice())
        }
        None => layer.forward(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        f64::try_from((a - b).abs().max()).unwrap()
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn libtorch_for_x86_64_linux_has_onednn() {
        assert!(available(), "aoti_torch_cpu__linear_pointwise missing or disagreeing with matmul");
        // The test binaries are linked with build.rs's flags: MKL chooses by features, and wins.
        assert!(!preferred());
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn products_equal_matmul_for_padded_and_unpadded_row_counts() {
        tch::manual_seed(1);
        let _guard = tch::no_grad_guard();
        let w = Tensor::randn([48, 32], (Kind::Float, Device::Cpu));
        let b = Tensor::randn([48], (Kind::Float, Device::Cpu));
        for rows in [MIN_ROWS, 5, 8, 13, 64, 67] {
            let x = Tensor::randn([rows, 32], (Kind::Float, Device::Cpu));
            let y = linear(&x, &w, Some(&b)).expect("oneDNN takes this product");
            assert_eq!(y.size(), [rows, 48]);
            assert!(max_diff(&y, &(x.matmul(&w.tr()) + &b)) < 1e-4, "{rows} rows");
            assert!(max_diff(&linear(&x, &w, None).unwrap(), &x.matmul(&w.tr())) < 1e-4, "{rows} rows");
        }
    }

    #[test]
    fn products_it_cannot_take_are_left_to_the_caller() {
        let _guard = tch::no_grad_guard();
        let w = Tensor::randn([48, 32], (Kind::Float, Device::Cpu));
        let x = Tensor::randn([16, 32], (Kind::Float, Device::Cpu));
        assert!(linear(&x.narrow(0, 0, MIN_ROWS - 1), &w, None).is_none(), "too few rows");
        assert!(linear(&x, &w.tr().contiguous().tr(), None).is_none(), "weight not contiguous");
        assert!(linear(&x.narrow(1, 0, 16), &w, None).is_none(), "in-features differ");
        assert!(linear(&x.to_kind(Kind::Double), &w.to_kind(Kind::Double), None).is_none(), "not fp32");
        assert!(linear(&x, &w.set_requires_grad(true), None).is_none(), "requires a gradient");
        assert!(linear(&x, &w, Some(&Tensor::zeros([47], (Kind::Float, Device::Cpu)))).is_none(), "bias size");
    }

    #[test]
    fn forward_keeps_leading_dimensions_and_matches_the_layer() {
        let vs = nn::VarStore::new(Device::Cpu);
        let layer = nn::linear(vs.root() / "l", 24, 40, Default::default());
        let mut vs = vs;
        let x = Tensor::randn([3, 7, 24], (Kind::Float, Device::Cpu));
        let _guard = tch::no_grad_guard();
        let trained = layer.forward(&x);
        vs.freeze();
        for y in [forward(&layer, &x), through(&layer, &x)] {
            assert_eq!(y.size(), [3, 7, 40]);
            assert!(max_diff(&y, &trained) < 1e-4);
        }
    }
}
