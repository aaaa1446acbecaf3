use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = tidings::cli::Cli::parse();
    tidings::cli::process::run("tidings", tidings::cli::run(cli))
}
