//! `tidings-bench`: measures a fan-out end to end, the web console's pages (`console`), a
//! list's archive (`archive`), the database's size over a simulated year of retention
//! (`soak`), daemons sharing one database claiming commands (`claims`), and several daemons
//! on one PostgreSQL delivering (`cluster`). Built only from this test-support crate
//! (`cargo run --release -p tidings-testkit -- --help`), so that the daemon's binary holds
//! only the product.

mod archive_bench;
mod bench;
mod claims_bench;
mod cluster_bench;
mod console_bench;
mod soak;
mod web_bench;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = bench::BenchArgs::parse();
    tidings::cli::process::run("tidings-bench", bench::run(args))
}
