//! `forgebench`: the cluster command line (coordinator, local cluster, clients, reports).
use clap::Parser;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = forgebench_coordinator::cli::Cli::parse();
    if let Err(e) = cli.run().map_err(anyhow::Error::from) {
        eprintln!("forgebench: {e:#}");
        std::process::exit(1);
    }
}
