//! `tidings-bench`: measures a fan-out end to end, or (`console`) the web console's pages. Built only from this test-support crate
//! (`cargo run --release -p tidings-testkit -- --help`), so that the daemon's binary holds
//! only the product.

mod bench;
mod console_bench;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = bench::BenchArgs::parse();
    tidings::cli::process::run("tidings-bench", bench::run(args))
}
