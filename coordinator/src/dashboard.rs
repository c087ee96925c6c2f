//! The live dashboard: a web page served over HTTP on its own port beside gRPC (same TLS, behind the cluster token)
//! showing the sweeps and their progress, the workers with their devices and equivalence classes, failures with
//! their errors, each sweep's cross-device matrices (tables and heatmaps) and attack table filling in as jobs finish,
//! a complete sweep's full report, and the hardware database's pooled tables and pair comparison. The page polls a
//! JSON endpoint every two seconds and loads nothing from outside.
//!
//! Sign-in: the link printed at start carries a login token derived from the cluster token (it survives restarts and
//! whoever holds the cluster token can derive it); following it sets a random session cookie (HttpOnly,
//! SameSite=Strict) and redirects to the bare page, so the token leaves the address bar. The token is never logged.
//! Every request without a valid session is answered 401.
mod auth;
mod http;
mod reports;
mod state;

pub use auth::login_token;

use crate::error::{CoordError, Result};
use crate::service::Coordinator;
use std::net::SocketAddr;
use std::sync::Arc;

/// A running dashboard.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The sign-in link (carries the login token: print it for the user, never log it).
    pub url: String,
}

/// Serves the dashboard on `at` until `stop` resolves.
pub async fn start(
    coord: Coordinator,
    at: SocketAddr,
    token: &str,
    tls: Option<Arc<forgebench_proto::bulk::tls::ServerConfig>>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Dashboard> {
    let listener = tokio::net::TcpListener::bind(at)
        .await
        .map_err(|e| CoordError::io(format!("dashboard on {at}"), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CoordError::io("dashboard listener", e))?;
    let login = login_token(token);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let url = format!("{scheme}://{host}:{}/?login={login}", addr.port());
    let app = Arc::new(http::App::new(coord, login, tls.is_some()));
    tokio::spawn(http::serve(app, listener, tls, stop));
    Ok(Dashboard { addr, url })
}
