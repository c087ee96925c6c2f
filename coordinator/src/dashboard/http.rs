//! The dashboard's HTTP/1.1 server (hyper), plain or TLS, behind the same connection caps as the other ports, and
//! its routes: each validates, checks the session, delegates the ledger work off the reactor and maps errors.
use super::auth::{same, Sessions, COOKIE};
use super::{reports, state};
use crate::error::CoordError;
use crate::gate::{Gate, Limits};
use crate::service::Coordinator;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, COOKIE as COOKIE_H, LOCATION, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PAGE: &str = include_str!("page.html");
const LIMITS: Limits = Limits {
    total: 256,
    per_peer: 64,
};
/// A snapshot is reused for this long while the ledger has not changed: several open pages cost one ledger read.
const FRESH: Duration = Duration::from_millis(900);

/// What every request handler shares.
pub(super) struct App {
    pub coord: Coordinator,
    login: String,
    secure: bool,
    sessions: Sessions,
    cache: Mutex<Option<(Instant, u64, Arc<String>)>>,
}

type Reply = Response<Full<Bytes>>;

impl App {
    pub fn new(coord: Coordinator, login: String, secure: bool) -> App {
        App {
            coord,
            login,
            secure,
            sessions: Sessions::default(),
            cache: Mutex::new(None),
        }
    }

    fn snapshot(&self) -> Result<Arc<String>, CoordError> {
        let mut g = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let changes = self.coord.ledger().change_count();
        if let Some((_, _, s)) = g.as_ref().filter(|(at, n, _)| at.elapsed() < FRESH && *n == changes) {
            return Ok(s.clone());
        }
        let s = Arc::new(state::snapshot(&self.coord)?.to_string());
        // The snapshot's own writes (recording finished sweeps) count too: take the count after it.
        *g = Some((Instant::now(), self.coord.ledger().change_count(), s.clone()));
        Ok(s)
    }
}

fn reply(status: StatusCode, kind: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; connect-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; \
             script-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    r
}

const HTML: &str = "text/html; charset=utf-8";
const SIGN_IN: &str =
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">\
<title>forgebench dashboard</title></head><body><h1>forgebench dashboard</h1><p id=\"refused\">Not signed in. Open the \
link the coordinator printed at start (<code>dashboard: ...</code>).</p></body></html>";

fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = v.replace('+', " ");
            let v = percent_encoding::percent_decode_str(&v)
                .decode_utf8_lossy()
                .into_owned();
            (k.to_owned(), v)
        })
        .collect()
}

fn failed(e: CoordError) -> Reply {
    let status = match &e {
        CoordError::NotFound(_) => StatusCode::NOT_FOUND,
        CoordError::Invalid(_) | CoordError::Precondition(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = serde_json::json!({ "error": format!("{e:#}") }).to_string();
    reply(status, "application/json", body)
}

/// Runs ledger work off the reactor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CoordError> + Send + 'static,
) -> Result<T, CoordError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CoordError::Process(format!("dashboard task: {e}")))?
}

async fn route(app: Arc<App>, req: Request<Incoming>) -> Result<Reply, std::convert::Infallible> {
    if req.method() != Method::GET {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only"));
    }
    let q = query(&req);
    let path = req.uri().path().to_owned();
    if path == "/" {
        if let Some(token) = q.get("login") {
            return Ok(sign_in(&app, token));
        }
    }
    let cookie = req.headers().get(COOKIE_H).and_then(|v| v.to_str().ok());
    if !app.sessions.valid(cookie) {
        return Ok(reply(StatusCode::UNAUTHORIZED, HTML, SIGN_IN));
    }
    let a = app.clone();
    let out = match path.as_str() {
        "/" => Ok(reply(StatusCode::OK, HTML, PAGE)),
        "/api/state" => blocking(move || a.snapshot())
            .await
            .map(|s| reply(StatusCode::OK, "application/json", s.as_bytes().to_vec())),
        "/api/figure" => {
            let (sweep, m) = (
                q.get("sweep").cloned().unwrap_or_default(),
                q.get("m").cloned().unwrap_or_default(),
            );
            blocking(move || state::figure(&a.coord, &sweep, &m))
                .await
                .map(|svg| reply(StatusCode::OK, "image/svg+xml", svg))
        }
        "/api/compare" => {
            let (x, y) = (
                q.get("a").cloned().unwrap_or_default(),
                q.get("b").cloned().unwrap_or_default(),
            );
            blocking(move || crate::hwdb::compare(a.coord.ledger(), &x, &y))
                .await
                .and_then(|c| serde_json::to_string(&c).map_err(|e| CoordError::json("compare", e)))
                .map(|j| reply(StatusCode::OK, "application/json", j))
        }
        p if p.starts_with("/report/") => {
            let id = p["/report/".len()..].to_owned();
            blocking(move || reports::index(&a.coord, &id))
                .await
                .map(|html| reply(StatusCode::OK, HTML, html))
        }
        _ => Err(CoordError::NotFound(format!("{path}: no such page"))),
    };
    Ok(out.unwrap_or_else(failed))
}

fn sign_in(app: &App, token: &str) -> Reply {
    if !same(token, &app.login) {
        return reply(StatusCode::UNAUTHORIZED, HTML, SIGN_IN);
    }
    let id = app.sessions.open();
    let secure = if app.secure { "; Secure" } else { "" };
    let mut r = reply(StatusCode::SEE_OTHER, HTML, "signed in");
    let h = r.headers_mut();
    h.insert(LOCATION, HeaderValue::from_static("/"));
    if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}")) {
        h.insert(SET_COOKIE, v);
    }
    r
}

/// Accepts connections until `stop`, each admitted by the connection caps and served on its own task.
pub(super) async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<forgebench_proto::bulk::tls::ServerConfig>>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let gate = Gate::new(LIMITS);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(stop);
    loop {
        let (sock, peer) = tokio::select! {
            _ = &mut stop => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "dashboard: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(pass) = gate.enter(peer.ip()) else { continue };
        let (app, acceptor) = (app.clone(), acceptor.clone());
        tokio::spawn(async move {
            let _pass = pass;
            let svc = hyper::service::service_fn(move |req| route(app.clone(), req));
            let http = {
                let mut b = hyper::server::conn::http1::Builder::new();
                b.timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10));
                b
            };
            let r = match acceptor {
                Some(a) => match tokio::time::timeout(Duration::from_secs(10), a.accept(sock)).await {
                    Ok(Ok(s)) => http.serve_connection(hyper_util::rt::TokioIo::new(s), svc).await,
                    _ => return,
                },
                None => http.serve_connection(hyper_util::rt::TokioIo::new(sock), svc).await,
            };
            if let Err(e) = r {
                tracing::debug!(error = %e, "dashboard connection ended");
            }
        });
    }
}
