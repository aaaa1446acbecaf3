//! The HTTP listener's connections: a cap on how many are open at once and time limits on
//! each, so that web clients can neither take the file descriptors the mail listeners need
//! nor keep a connection open for ever.
//!
//! `axum::serve` has none of these knobs, so connections are served here with hyper's own
//! HTTP/1 builder (its header-read timeout, on tokio's timer) and hyper-util's graceful
//! shutdown. Written by hand: the cap (a semaphore, as for the mail listeners) and the
//! request time limit ([`within`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

use crate::config::ServerConfig;

/// What one HTTP client may hold, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; past it a new one is refused and closed at once.
    pub max_connections: usize,
    /// To send a request's headers, and the longest a kept-alive connection may sit idle.
    pub header_timeout: Duration,
    /// From the headers to the answer: reading the body and running the handler.
    pub request_timeout: Duration,
}

impl Limits {
    pub fn of(server: &ServerConfig) -> Limits {
        Limits {
            max_connections: server.max_http_connections,
            header_timeout: Duration::from_secs(server.http_header_timeout_seconds),
            request_timeout: Duration::from_secs(server.http_request_timeout_seconds),
        }
    }
}

/// The address a request's connection came from (a proxy's, behind one).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl ClientAddr {
    /// The client behind any trusted reverse proxies: while the hop at hand is `trusted`,
    /// the address it appended to `X-Forwarded-For` (the header's last) is the one before
    /// it, as nginx's `real_ip_recursive` reads it. Only entries added by trusted hops are
    /// believed; whatever the client wrote itself stays to their left, unread. A malformed
    /// entry ends the walk at the last hop known.
    pub fn client_ip(&self, headers: &HeaderMap, trusted: impl Fn(IpAddr) -> bool) -> IpAddr {
        let mut client = self.0.ip();
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for hop in forwarded.iter().rev() {
            if !trusted(client) {
                break;
            }
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => client = ip,
                Err(_) => break,
            }
        }
        client
    }
}

/// Sent, if the socket takes it at once, to a connection refused past the cap.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
Content-Length: 0\r\nRetry-After: 5\r\n\r\n";

/// How often a full listener says so in the log, at most.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Serves `app` until `shutdown` turns true (or its sender is gone), then stops accepting,
/// gives the socket to `release` (which keeps it for the next configuration on a reload,
/// or closes it), and waits for the requests in progress to be answered.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    release: impl FnOnce(TcpListener),
) {
    let app = app.layer(middleware::from_fn_with_state(
        limits.request_timeout,
        within,
    ));
    let mut http = http1::Builder::new();
    // hyper starts this timer when it waits for a request's head: on a new connection, and
    // again each time a kept-alive connection goes idle. One setting bounds both slow
    // headers and idle keep-alive connections.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut refusals = Refusals::default();
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    tokio::pin!(stopped);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refusals.record(limits.max_connections);
            refuse(stream);
            continue;
        };
        let inner = TowerToHyperService::new(app.clone());
        // Each request learns its client's address, which per-client rate limits key on.
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ClientAddr(peer));
            hyper::service::Service::call(&inner, request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    // Released first: closed, so that the kernel refuses new connections while the last
    // ones finish, or kept for the next configuration, which takes them at once.
    release(listener);
    graceful.shutdown().await;
}

/// Past the cap: one attempt to say so that never waits (a fresh socket's send buffer takes
/// these few bytes at once), then the descriptor is closed straight away. Waiting for the
/// client to read the answer would let a flood hold descriptors again.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(BUSY);
}

/// A failed accept is logged and retried after a pause, as the mail listeners do: out of
/// descriptors, accepting again at once would only spin. A client that gave up before it
/// was accepted is no news.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "HTTP accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Connections refused past the cap, reported at most once per [`REPORT_EVERY`]: a flood
/// must not become a flood of log lines.
#[derive(Default)]
struct Refusals {
    since_report: u64,
    reported_at: Option<Instant>,
}

impl Refusals {
    fn record(&mut self, max_http_connections: usize) {
        self.since_report += 1;
        if self
            .reported_at
            .is_some_and(|at| at.elapsed() < REPORT_EVERY)
        {
            return;
        }
        tracing::warn!(
            max_http_connections,
            refused = self.since_report,
            "HTTP connection cap reached: new connections are refused until some close \
             (server.max_http_connections)"
        );
        self.since_report = 0;
        self.reported_at = Some(Instant::now());
    }
}

/// The whole-request time limit. axum has none of its own, and tower's needs an extra
/// error-handling layer to turn its error into an answer; this is the same in a few lines.
/// Extractors read the body inside the handler's future, so a body that trickles in counts
/// against the limit too.
async fn within(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                limit_seconds = limit.as_secs(),
                "HTTP request not answered in time (server.http_request_timeout_seconds)"
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONNECTION, "close")],
                "the request took too long, please try again\n",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::timeout;

    use super::*;

    #[test]
    fn the_client_behind_trusted_proxies_is_the_last_hop_they_did_not_add() {
        let proxy: SocketAddr = "127.0.0.1:4000".parse().expect("address");
        let trusted = |ip: IpAddr| ip.is_loopback() || ip == "10.0.0.2".parse::<IpAddr>().unwrap();
        let with = |peer: SocketAddr, forwarded: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in forwarded {
                headers.append("x-forwarded-for", value.parse().expect("header"));
            }
            ClientAddr(peer).client_ip(&headers, trusted).to_string()
        };
        assert_eq!(with(proxy, &["192.0.2.7"]), "192.0.2.7");
        // The client's own entries stay to the left of what the proxies appended.
        assert_eq!(with(proxy, &["6.6.6.6, 192.0.2.7"]), "192.0.2.7");
        assert_eq!(
            with(proxy, &["6.6.6.6", "192.0.2.7, 10.0.0.2"]),
            "192.0.2.7"
        );
        assert_eq!(with(proxy, &[]), "127.0.0.1");
        assert_eq!(with(proxy, &["not-an-ip"]), "127.0.0.1");
        // From anywhere else the header is the client's word, and ignored.
        let direct: SocketAddr = "198.51.100.1:5000".parse().expect("address");
        assert_eq!(with(direct, &["192.0.2.7"]), "198.51.100.1");
    }

    const LONG: Duration = Duration::from_secs(3600);

    /// A server on a loopback port with a few test routes; the sender stops it. `/slow`
    /// tells `entered` when it starts, and answers a moment later.
    async fn start(
        limits: Limits,
        entered: Arc<tokio::sync::Notify>,
    ) -> (SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let app = Router::new()
            .route("/", get(|| async { "hello\n" }))
            .route("/echo", post(|body: String| async move { body }))
            .route(
                "/slow",
                get(move || {
                    entered.notify_one();
                    async {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        "done\n"
                    }
                }),
            )
            .route("/stuck", get(std::future::pending::<String>));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(serve(listener, app, limits, stopped, drop));
        (addr, stop, server)
    }

    /// Sends `request` and reads until the server closes (at most 20 s, 64 KiB).
    async fn exchange(stream: &mut TcpStream, request: &str) -> String {
        let _ = stream.write_all(request.as_bytes()).await;
        answer(stream).await
    }

    async fn answer(stream: &mut TcpStream) -> String {
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        for _ in 0..16 {
            match timeout(Duration::from_secs(20), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
                Err(_) => panic!("still open after 20 s: {received:?}"),
            }
        }
        String::from_utf8_lossy(&received).into_owned()
    }

    async fn connect(addr: SocketAddr) -> TcpStream {
        TcpStream::connect(addr).await.expect("connect")
    }

    #[tokio::test]
    async fn a_request_not_answered_in_time_gets_503() {
        let limits = Limits {
            max_connections: 8,
            header_timeout: LONG,
            request_timeout: Duration::from_secs(1),
        };
        let (addr, _stop, _) = start(limits, Arc::default()).await;
        let stuck = "GET /stuck HTTP/1.1\r\nHost: t\r\n\r\n";
        let answer = exchange(&mut connect(addr).await, stuck).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        // A body announced and never sent in full: reading it is part of the request.
        let trickle = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc";
        let answer = exchange(&mut connect(addr).await, trickle).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        let whole =
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
        let answer = exchange(&mut connect(addr).await, whole).await;
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("abc"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn past_the_cap_a_connection_is_closed_at_once_and_slots_come_back() {
        let limits = Limits {
            max_connections: 2,
            header_timeout: LONG,
            request_timeout: LONG,
        };
        let (addr, _stop, _) = start(limits, Arc::default()).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut stream = connect(addr).await;
            stream.write_all(b"GET / HTTP/1.1\r\n").await.expect("send");
            held.push(stream);
        }
        // Each half-sent request holds its slot (no time-out here), so the third is refused
        // whenever it is accepted.
        let third = exchange(
            &mut connect(addr).await,
            "GET / HTTP/1.1\r\nHost: t\r\n\r\n",
        )
        .await;
        assert!(
            third.is_empty() || third.starts_with("HTTP/1.1 503"),
            "{third}"
        );
        drop(held);
        // The server sees those two go in its own time: retry, a bounded number of times.
        for _ in 0..100 {
            let request = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
            if exchange(&mut connect(addr).await, request)
                .await
                .starts_with("HTTP/1.1 200")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the slots of closed connections never came back");
    }

    #[tokio::test]
    async fn shutdown_answers_the_request_in_hand_then_stops() {
        let limits = Limits {
            max_connections: 8,
            header_timeout: LONG,
            request_timeout: LONG,
        };
        let entered = Arc::new(tokio::sync::Notify::new());
        let (addr, stop, server) = start(limits, Arc::clone(&entered)).await;
        let mut slow = connect(addr).await;
        slow.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .expect("send");
        timeout(Duration::from_secs(20), entered.notified())
            .await
            .expect("the request reaches its handler");
        stop.send(true).expect("server running");
        let answer = answer(&mut slow).await;
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("done\n"),
            "{answer}"
        );
        timeout(Duration::from_secs(20), server)
            .await
            .expect("serve returns once the last request is answered")
            .expect("serve does not panic");
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    }
}
