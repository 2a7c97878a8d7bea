//! Process-level settings the binary applies before any work: the intra-op thread count, how
//! libgomp's idle threads wait, and how glibc's allocator keeps freed tensor memory.

use std::ffi::OsString;

/// The `--threads` value in effect: the one asked for, else the machine's cores.
pub fn threads(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
}

/// Spin iterations of an idle libgomp thread before it sleeps, unless the user set a wait policy.
/// libgomp's default (300 000, about a millisecond) makes every idle OpenMP thread burn its core
/// between libtorch's parallel regions: on a machine with other work, the spinning threads take the
/// cores that the working ones need and `--threads 2` ran 3–6× slower than `--threads 1` (see the
/// README's Performance section). 3 000 spins still bridge the gaps between consecutive ops.
const GOMP_SPINCOUNT: &str = "3000";

/// Restarts the process with `GOMP_SPINCOUNT` in its environment when it will run several threads
/// and the user set neither `OMP_WAIT_POLICY` nor `GOMP_SPINCOUNT`. libgomp reads these once, when it
/// is loaded (before `main`), hence the restart. Returns only when no restart was needed or possible.
pub fn limit_openmp_spinning(threads: usize) {
    use std::os::unix::process::CommandExt;
    let set = |name: &str| std::env::var_os(name).is_some();
    if threads <= 1 || set("OMP_WAIT_POLICY") || set("GOMP_SPINCOUNT") {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("nmt"));
    // `exec` returns only on failure; the process then simply goes on with libgomp's default.
    let _ = std::process::Command::new(exe).arg0(argv0).args(args).env("GOMP_SPINCOUNT", GOMP_SPINCOUNT).exec();
}

/// Tells glibc to keep freed memory for reuse: a training step frees and reallocates the same large
/// tensors every step, and by default glibc returns them to the kernel and takes them back page by
/// page (a page fault and a zeroed page each: about 7% of a training step). Allocations up to 32 MiB
/// come from the heap and up to 512 MiB of free heap is kept, which costs under 100 MiB of peak memory.
pub fn keep_freed_memory() {
    // SAFETY: mallopt only changes allocator parameters, under glibc's own locks.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
