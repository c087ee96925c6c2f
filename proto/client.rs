//! Connecting to a coordinator: a channel (plain or TLS), wrapped with the token interceptor and the message limits.
use crate::auth::BearerToken;
use crate::error::ProtoError;
use crate::v1::control_service_client::ControlServiceClient;
use crate::v1::worker_service_client::WorkerServiceClient;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// A channel that adds the token to every call.
pub type AuthedChannel = InterceptedService<Channel, BearerToken>;
/// The worker-facing client.
pub type WorkerClient = WorkerServiceClient<AuthedChannel>;
/// The control client.
pub type ControlClient = ControlServiceClient<AuthedChannel>;

/// How to reach a coordinator.
#[derive(Debug, Clone)]
pub struct Target {
    /// "host:port" or a full "http(s)://host:port" URL.
    pub address: String,
    /// PEM CA certificate to trust; TLS is used when present.
    pub tls_ca: Option<Vec<u8>>,
    /// Server name expected in the certificate.
    pub tls_domain: String,
    /// Largest message sent or received.
    pub max_message_bytes: usize,
}

impl Target {
    /// A plain-text target with default limits.
    pub fn plain(address: impl Into<String>) -> Self {
        Target {
            address: address.into(),
            tls_ca: None,
            tls_domain: "localhost".into(),
            max_message_bytes: 4 << 20,
        }
    }

    fn url(&self) -> String {
        if self.address.contains("://") {
            self.address.clone()
        } else if self.tls_ca.is_some() {
            format!("https://{}", self.address)
        } else {
            format!("http://{}", self.address)
        }
    }

    /// Connects (fails fast when nobody listens).
    pub async fn channel(&self) -> Result<Channel, ProtoError> {
        let url = self.url();
        let conn = |source| ProtoError::Connect {
            endpoint: url.clone(),
            source,
        };
        let mut ep = Endpoint::from_shared(url.clone())
            .map_err(conn)?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            // Large windows so an artifact stream is not held to one 64 KiB window per round trip.
            .initial_stream_window_size(8 << 20)
            .initial_connection_window_size(16 << 20);
        if let Some(ca) = &self.tls_ca {
            let tls = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .domain_name(&self.tls_domain);
            ep = ep.tls_config(tls).map_err(conn)?;
        }
        ep.connect().await.map_err(conn)
    }

    /// A worker client carrying `token`.
    pub async fn worker(&self, token: &BearerToken) -> Result<WorkerClient, ProtoError> {
        let ch = self.channel().await?;
        Ok(WorkerServiceClient::with_interceptor(ch, token.clone())
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(self.max_message_bytes))
    }

    /// A control client carrying `token`.
    pub async fn control(&self, token: &BearerToken) -> Result<ControlClient, ProtoError> {
        let ch = self.channel().await?;
        Ok(ControlServiceClient::with_interceptor(ch, token.clone())
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(self.max_message_bytes))
    }
}
