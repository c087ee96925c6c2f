//! Serving the coordinator: both services behind the token interceptor, message limits, optional TLS, the bulk
//! channel for artifact bytes, the lease reaper, and a clean shutdown.
use crate::error::{CoordError, Result};
use crate::gate::{Gate, Incoming, Limits};
use crate::service::Coordinator;
use forgebench_proto::auth::TokenCheck;
use forgebench_proto::v1::control_service_server::ControlServiceServer;
use forgebench_proto::v1::worker_service_server::WorkerServiceServer;
use forgebench_shared::config::TlsConfig;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Identity, Server, ServerTlsConfig};

/// Open gRPC connections: a worker holds one or two, a `forgebench` client one.
const GRPC_CONNECTIONS: Limits = Limits {
    total: 1024,
    per_peer: 256,
};

/// A running coordinator server.
pub struct Running {
    addr: SocketAddr,
    bulk_addr: Option<SocketAddr>,
    dashboard: Option<crate::dashboard::Dashboard>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the bulk channel, when it is on.
    pub fn bulk_addr(&self) -> Option<SocketAddr> {
        self.bulk_addr
    }

    /// The dashboard, when one is served: its address and sign-in link (print the link, never log it).
    pub fn dashboard(&self) -> Option<&crate::dashboard::Dashboard> {
        self.dashboard.as_ref()
    }

    /// Stops accepting calls, lets in-flight ones finish and waits.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        self.task
            .await
            .map_err(|e| CoordError::Process(format!("server task: {e}")))?
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    // An error means the sender is gone, which is a stop too.
    let _ = rx.wait_for(|s| *s).await;
}

/// The PEM certificate chain and key of the configured TLS identity, read once for gRPC and the bulk channel.
struct Pems {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl Pems {
    fn read(tls: &TlsConfig) -> Result<Pems> {
        let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| CoordError::io(p, e));
        Ok(Pems {
            cert: read(&tls.cert)?,
            key: read(&tls.key)?,
        })
    }
}

/// Serves `coord` on `listener` with `token` until [`Running::shutdown`].
pub async fn start(
    coord: Coordinator,
    listener: TcpListener,
    token: &str,
    tls: Option<&TlsConfig>,
    max_message_bytes: usize,
) -> Result<Running> {
    let addr = listener.local_addr().map_err(|e| CoordError::io("listener", e))?;
    let check = TokenCheck::new(token)?;
    let partials = crate::store::remove_partials(&coord.settings().artifacts_dir)?;
    if partials > 0 {
        tracing::warn!(
            files = partials,
            "removed partial artifact files a stopped coordinator left"
        );
    }
    let worker = WorkerServiceServer::new(coord.clone())
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    let control = ControlServiceServer::new(coord.clone())
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    // Artifacts stream in 256 KiB chunks: HTTP/2's default 64 KiB windows would stall every chunk on a round trip.
    // Limits so that no client can hold the server: streams and header bytes per connection, and keepalive pings
    // that close dead peers (the gate closes connections that never speak).
    let mut builder = Server::builder()
        .initial_stream_window_size(8 << 20)
        .initial_connection_window_size(16 << 20)
        .concurrency_limit_per_connection(64)
        .max_concurrent_streams(64)
        .http2_max_header_list_size(64 << 10)
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_keepalive(Some(Duration::from_secs(60)));
    let pems = tls.map(Pems::read).transpose()?;
    if let Some(p) = &pems {
        builder = builder.tls_config(ServerTlsConfig::new().identity(Identity::from_pem(&p.cert, &p.key)))?;
    }
    let router = builder
        .add_service(InterceptedService::new(worker, check.clone()))
        .add_service(InterceptedService::new(control, check.clone()));
    let (stop, rx) = watch::channel(false);
    tokio::spawn(coord.clone().reap_leases(stopped(rx.clone())));
    let bulk_addr = match coord.settings().bulk_port {
        Some(port) => Some(
            start_bulk(
                &coord,
                SocketAddr::new(addr.ip(), port),
                &check,
                pems.as_ref(),
                stopped(rx.clone()),
            )
            .await?,
        ),
        None => None,
    };
    let dashboard = match coord.settings().dashboard_port {
        Some(port) => {
            let tls = pems
                .as_ref()
                .map(|p| forgebench_proto::bulk::tls::server_config(&p.cert, &p.key))
                .transpose()?;
            let at = SocketAddr::new(addr.ip(), port);
            Some(crate::dashboard::start(coord.clone(), at, token, tls, stopped(rx.clone())).await?)
        }
        None => None,
    };
    let incoming = Incoming::new(listener, Gate::new(GRPC_CONNECTIONS));
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(incoming, stopped(rx))
            .await
            .map_err(CoordError::from)
    });
    // The dashboard's address only: its link carries the login token, which never goes to the log.
    let dashboard_addr = dashboard.as_ref().map(|d| d.addr);
    tracing::info!(%addr, bulk = ?bulk_addr, dashboard = ?dashboard_addr, tls = tls.is_some(), "coordinator listening");
    Ok(Running {
        addr,
        bulk_addr,
        dashboard,
        stop,
        task,
    })
}

/// Binds the bulk channel on `at`, serves it until `stop` and advertises its port at registration.
async fn start_bulk(
    coord: &Coordinator,
    at: SocketAddr,
    check: &TokenCheck,
    pems: Option<&Pems>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<SocketAddr> {
    let listener = TcpListener::bind(at)
        .await
        .map_err(|e| CoordError::io(format!("bulk channel on {at}"), e))?;
    let bound = listener.local_addr().map_err(|e| CoordError::io("bulk listener", e))?;
    let tls = pems
        .map(|p| forgebench_proto::bulk::tls::server_config(&p.cert, &p.key))
        .transpose()?;
    coord.set_bulk_port(bound.port());
    tokio::spawn(crate::bulk::serve(coord.clone(), listener, check.clone(), tls, stop));
    Ok(bound)
}
