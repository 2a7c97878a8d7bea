//! The `nmt` binary: parse the command line, run it, print the error once and exit non-zero.

mod cli;

use clap::Parser;

fn main() {
    // A full disk or a file-size limit must surface as a write error, not kill the process.
    // SAFETY: setting a signal disposition to SIG_IGN before any thread starts is sound.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = cli::args::Cli::parse();
    let threads = nmt::runtime::threads(cli.threads.map(|t| t as usize));
    nmt::runtime::limit_openmp_spinning(threads);
    nmt::runtime::keep_freed_memory();
    match cli::run(cli, threads) {
        Ok(()) => {}
        // The reader of the output went away (`nmt info ... | head -2`): it wanted no more, which is no
        // failure. Every print to stdout goes through a writer that returns this error instead of panicking.
        Err(nmt::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            // Every variant's message already includes its cause (e.g. the OS error of an I/O failure).
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
