//! The binary: parse the arguments and hand over to a face. `moodtape` alone opens the TUI; a subcommand runs on
//! the command line. The faces never use each other; what one needs of the other is handed over here.

fn main() {
    tune_allocator();
    start_thread_pool();
    let code = match moodtape::cli::parse() {
        Err(code) => code,
        Ok(cli) => match cli.command {
            None => moodtape::cli::finish(moodtape::tui::main(&cli.global.flags())),
            Some(command) => moodtape::cli::run(
                &cli.global,
                command,
                &moodtape::cli::Hooks {
                    check_tui: moodtape::tui::check_config,
                    bench_ui: moodtape::tui::bench::measure,
                },
            ),
        },
    };
    std::process::exit(code);
}

/// The model allocates and frees many tensors of a few megabytes each; glibc's default serves those with fresh
/// mmaps, so every step pays for page faults (more than a third of the time in training). Keeping freed memory
/// in the heap instead makes inference and training markedly faster.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only changes allocator thresholds; it is called once, before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// The pool that reads the library and runs the filter on every core. Built now, before the model's loader may
/// set `RAYON_NUM_THREADS=1` for its single-threaded matrix products (see `Encoder::use_workers`), which would
/// otherwise leave this pool one thread. A `RAYON_NUM_THREADS` the user set is left to rayon.
fn start_thread_pool() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(cores)
            .build_global();
    }
}
