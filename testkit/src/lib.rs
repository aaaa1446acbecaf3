//! What tests and benchmarks of tidings need and the daemon does not: kept out of the
//! shipped binary. The `tidings-bench` program (src/main.rs) is built from here too.

pub mod sink;
