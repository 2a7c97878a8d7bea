//! Decoding several batches at once, one OS thread each: with libtorch's `N` intra-op threads a call
//! with several batches runs up to `N` of them side by side, each on one thread, instead of one after
//! another on `N` threads. A decoding step is many small ops; spread over threads, each op's parallel
//! region costs a wake-up of the sleeping OpenMP workers (about 35 per greedy step at batch 64, see the
//! README's Performance section), and at batch 1 most ops are too small to be split at all, so whole
//! batches per thread use the cores better at every batch size. One batch keeps the intra-op threads.
//! The results do not depend on the split: batches are independent (padding-invariant) and come back
//! in order.

use super::Prepared;
use crate::error::Result;
use crate::search::Hypothesis;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The decoding cores (one per ensemble member) shared by the decoding threads of [`decode_batches`].
pub(super) struct Shared<'a>(pub &'a [Prepared]);

// SAFETY: `tch::Tensor` is not `Sync` only because tch cannot know how a tensor will be used; libtorch
// itself allows concurrent reads of a CPU tensor (reference counts are atomic). Through `Shared` the
// threads only call [`super::decode`], which reads the weights and decode tables under a no-grad guard
// and writes only tensors it creates itself.
unsafe impl Sync for Shared<'_> {}

impl Shared<'_> {
    /// [`super::decode`] with these members.
    pub(super) fn decode(&self, rows: &[&[i64]], d: &super::Decoding) -> Result<Vec<Vec<Hypothesis>>> {
        super::decode(self.0, rows, d)
    }
}

/// Runs `decode` on every batch of `batches` and returns the results in the batches' order: on the
/// calling thread alone when there is one batch or one intra-op thread, else on
/// `min(intra-op threads, batches)` threads that each take the next batch not yet taken and compute
/// with one intra-op thread. The first error is returned (the other threads stop taking batches).
pub(super) fn decode_batches<B: Sync, T: Send>(
    batches: &[B],
    decode: &(dyn Fn(&B) -> Result<T> + Sync),
) -> Result<Vec<T>> {
    let threads = tch::get_num_threads().max(1) as usize;
    let workers = threads.min(batches.len());
    if workers <= 1 {
        return batches.iter().map(decode).collect();
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Result<T>)>> = Mutex::new(Vec::with_capacity(batches.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                // A setting of this thread (libtorch's OpenMP count); MKL's is restored below.
                tch::set_num_threads(1);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(i) else { break };
                    let result = decode(batch);
                    let failed = result.is_err();
                    done.lock().unwrap_or_else(|e| e.into_inner()).push((i, result));
                    if failed {
                        next.store(batches.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    // Setting one thread in a worker may also have set MKL's process-wide count: give it back.
    tch::set_num_threads(threads as i32);
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn results_come_back_in_the_batches_order_on_several_threads() {
        tch::set_num_threads(2);
        let batches: Vec<usize> = (0..9).collect();
        let out = decode_batches(&batches, &|&b| {
            std::thread::sleep(std::time::Duration::from_millis((9 - b as u64) % 3));
            Ok((b * 10, std::thread::current().id()))
        })
        .unwrap();
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), (0..9).map(|b| b * 10).collect::<Vec<_>>());
        let caller = std::thread::current().id();
        assert!(out.iter().all(|o| o.1 != caller), "the batches ran on worker threads");
        assert_eq!(tch::get_num_threads(), 2, "the caller's intra-op threads are restored");
    }

    #[test]
    fn an_error_of_any_batch_is_returned() {
        tch::set_num_threads(2);
        let batches: Vec<usize> = (0..5).collect();
        let out: Result<Vec<usize>> =
            decode_batches(&batches, &|&b| if b == 3 { Err(Error::Usage("batch 3".into())) } else { Ok(b) });
        assert!(matches!(out, Err(Error::Usage(m)) if m == "batch 3"));
    }
}
