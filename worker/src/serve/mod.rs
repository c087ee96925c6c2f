//! `forgebench-worker serve`: the cluster worker. It registers with a coordinator under this process's profile,
//! pulls one job at a time (never two on one device), runs it off the async reactor, uploads the artifacts it wrote
//! and reports the outcome. It survives coordinator restarts by reconnecting and registering again.
mod artifacts;
mod pull;
mod session;

pub use pull::{pull_loop, Executor};
pub use session::Session;

use crate::cli::ProcessArgs;
use crate::error::{Result, WorkerError};
use clap::Args;
use forgebench_proto::auth::BearerToken;
use forgebench_proto::client::Target;
use forgebench_shared::config::{read_token, DEFAULT_TOKEN_ENV};
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Coordinator address, host:port or a URL.
    #[arg(long, env = "FORGEBENCH_COORDINATOR", default_value = "127.0.0.1:50151")]
    pub coordinator: String,
    /// File holding the cluster token (the environment variable named by --token-env wins).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the cluster token.
    #[arg(long, default_value = DEFAULT_TOKEN_ENV)]
    pub token_env: String,
    /// Where jobs write their artifacts and inputs are cached.
    #[arg(long, default_value = "runs/worker")]
    pub work_dir: PathBuf,
    /// Worker name (default: <profile>@<host>:<pid>); the same name keeps the same worker id.
    #[arg(long)]
    pub name: Option<String>,
    /// PEM CA certificate of the coordinator; enables TLS.
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// Server name in the coordinator's certificate.
    #[arg(long, default_value = "localhost")]
    pub tls_domain: String,
    /// Largest gRPC message, in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    pub max_message_bytes: usize,
}

/// Runs the worker until it is interrupted or a fatal error (wrong token, protocol mismatch) stops it.
pub fn run(pa: &ProcessArgs, args: &ServeArgs) -> Result<()> {
    let token = read_token(&args.token_env, args.token_file.as_deref())?;
    let token = BearerToken::new(&token)?;
    let tls_ca = match &args.tls_ca {
        Some(p) => Some(std::fs::read(p).map_err(|e| WorkerError::io(p, e))?),
        None => None,
    };
    let ctx = pa.context(args.work_dir.clone())?;
    // A profile whose device this machine lacks (a GPU profile without a driver) refuses to start, naming both,
    // rather than registering and failing every job it leases.
    ctx.device()?;
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "{}@{}:{}",
            ctx.profile.name,
            ctx.fingerprint.hostname,
            std::process::id()
        )
    });
    let target = Target {
        address: args.coordinator.clone(),
        tls_ca,
        tls_domain: args.tls_domain.clone(),
        max_message_bytes: args.max_message_bytes,
    };
    let session = Session::new(target, token, name, ctx.profile.clone(), ctx.fingerprint.clone());
    let executor: Executor = Arc::new(move |spec, inputs, work_dir| {
        let mut job_ctx = ctx.clone();
        job_ctx.work_dir = work_dir.to_path_buf();
        crate::jobs::execute(&job_ctx, spec, inputs)
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| WorkerError::Invalid(format!("starting the async runtime: {e}")))?;
    rt.block_on(async {
        tokio::select! {
            r = pull_loop(session, executor, args.work_dir.clone(), None) => r.map(|_| ()),
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("interrupted; leaving (a running job's lease will expire)");
                Ok(())
            }
        }
    })
}
