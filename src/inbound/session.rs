//! One SMTP or LMTP session, driven by smtp-proto's parser. The protocol (greeting, command
//! order, pipelining, DATA, limits, time-outs) lives here; what to accept is the handler's
//! business, so the same engine serves the daemon and the test sink.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtp_proto::request::receiver::RequestReceiver;
use smtp_proto::{Error as ParseError, MailFrom, Request, MAIL_BODY_8BITMIME, MAIL_SMTPUTF8};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tracing::Instrument;

use super::data::DataReader;
use super::extensions::Extensions;
use super::reply::Reply;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Smtp,
    Lmtp,
}

/// What the client has said so far in the current transaction.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub protocol: Protocol,
    pub peer: SocketAddr,
    pub helo: String,
    /// The client said EHLO or LHLO, not HELO.
    pub extended: bool,
    /// Reverse path; empty for the null sender `<>`.
    pub mail_from: String,
    /// MAIL FROM said SMTPUTF8 (RFC 6531): addresses and header fields may be UTF-8.
    pub smtputf8: bool,
    /// MAIL FROM said BODY=8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// Accepted recipients, in RCPT order.
    pub recipients: Vec<String>,
}

impl Envelope {
    /// The protocol as a `Received:` field names it after `with` (RFC 3848, and RFC 6531
    /// 3.7.3 for a transaction that said SMTPUTF8).
    pub fn trace_protocol(&self) -> &'static str {
        match (self.protocol, self.smtputf8, self.extended) {
            (Protocol::Lmtp, true, _) => "UTF8LMTP",
            (Protocol::Lmtp, false, _) => "LMTP",
            (Protocol::Smtp, _, false) => "SMTP",
            (Protocol::Smtp, true, true) => "UTF8SMTP",
            (Protocol::Smtp, false, true) => "ESMTP",
        }
    }
}

/// Decides what a session accepts.
pub trait MailHandler: Send + Sync + 'static {
    /// Judges one RCPT TO.
    fn check_recipient(
        &self,
        envelope: &Envelope,
        recipient: &str,
    ) -> impl Future<Output = Result<(), Reply>> + Send;

    /// Takes a complete message. Must answer one reply per accepted recipient in LMTP and
    /// exactly one in SMTP, and answer a 2xx only once the message is safely stored.
    fn take_message(
        &self,
        envelope: &Envelope,
        message: Vec<u8>,
    ) -> impl Future<Output = Vec<Reply>> + Send;
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message_size: usize,
    pub max_line_length: usize,
    pub max_recipients: usize,
    /// Simultaneous sessions of this listener.
    pub max_connections: usize,
    /// Simultaneous sessions from one client address; `None` where every client is the
    /// same front MTA (LMTP).
    pub max_connections_per_ip: Option<usize>,
    /// Silence allowed between reads, and the time a client has to send each command whole
    /// (Postfix's `smtpd_timeout` with `smtpd_per_request_deadline`): trickling a byte at a
    /// time does not keep a session alive.
    pub idle_timeout: Duration,
    /// The longest a session may last, whatever the client does.
    pub session_timeout: Duration,
    /// Bytes per second a client must keep up during DATA beyond the first `idle_timeout`
    /// (Postfix's `smtpd_min_data_rate`).
    pub min_data_rate: u64,
}

/// The memory every session's DATA may use together, shared by the SMTP and LMTP listeners:
/// a message is read into memory before it is judged and stored, so without a bound a few
/// connections sending large messages at once could take all of it. Past the budget a
/// message is refused with 452 4.3.1, and the client tries again later.
#[derive(Debug)]
pub struct DataBudget {
    kib: Arc<Semaphore>,
}

impl DataBudget {
    pub fn new(bytes: usize) -> DataBudget {
        DataBudget {
            kib: Arc::new(Semaphore::new(
                bytes.div_ceil(1024).min(Semaphore::MAX_PERMITS),
            )),
        }
    }

    /// Bytes still free, for tests and logs.
    pub fn available(&self) -> usize {
        self.kib.available_permits() * 1024
    }
}

/// What one session holds of the [`DataBudget`].
struct Reservation {
    budget: Arc<Semaphore>,
    permits: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    fn new(budget: &DataBudget) -> Reservation {
        Reservation {
            budget: Arc::clone(&budget.kib),
            permits: None,
        }
    }

    /// Holds enough of the budget for `bytes`; false when the budget has no room for them.
    fn cover(&mut self, bytes: usize) -> bool {
        let needed = bytes.div_ceil(1024);
        let held = self.permits.as_ref().map_or(0, |p| p.num_permits());
        if needed <= held {
            return true;
        }
        let Ok(more) = u32::try_from(needed - held) else {
            return false;
        };
        match Arc::clone(&self.budget).try_acquire_many_owned(more) {
            Ok(more) => {
                match &mut self.permits {
                    Some(permits) => permits.merge(more),
                    None => self.permits = Some(more),
                }
                true
            }
            Err(_) => false,
        }
    }

    fn release(&mut self) {
        self.permits = None;
    }
}

/// Sessions per client address, for [`Limits::max_connections_per_ip`].
#[derive(Default)]
struct PerClient {
    sessions: Mutex<HashMap<IpAddr, usize>>,
}

impl PerClient {
    /// Counts a session from `ip` unless `limit` are open already.
    fn admit(self: &Arc<Self>, ip: IpAddr, limit: usize) -> Option<ClientSlot> {
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let open = sessions.entry(ip).or_insert(0);
        if *open >= limit {
            return None;
        }
        *open += 1;
        Some(ClientSlot {
            clients: Arc::clone(self),
            ip,
        })
    }
}

/// One session counted against its client address until dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    ip: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut sessions = self
            .clients
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(open) = sessions.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                sessions.remove(&self.ip);
            }
        }
    }
}

/// Clients making this many protocol errors are disconnected (Postfix's hard error limit).
const MAX_ERRORS: usize = 20;

pub struct Server<H> {
    pub protocol: Protocol,
    pub hostname: String,
    pub limits: Limits,
    /// What the EHLO or LHLO reply offers: everything on tidings' own listeners; the test
    /// sink can leave an extension out to stand for a relay without it.
    pub extensions: Extensions,
    pub handler: Arc<H>,
    /// Shared with the daemon's other mail listener.
    pub budget: Arc<DataBudget>,
}

impl<H: MailHandler> Server<H> {
    /// Accepts connections until `shutdown` turns true, then gives the socket to `release`
    /// (which keeps it for the next configuration on a reload, or closes it); sessions in
    /// progress run to their end, under the configuration they started with.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
        release: impl FnOnce(TcpListener),
    ) {
        let slots = Arc::new(Semaphore::new(self.limits.max_connections));
        let clients = Arc::new(PerClient::default());
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => {
                    release(listener);
                    return;
                }
            };
            let server = Arc::clone(&self);
            let client = match self.limits.max_connections_per_ip {
                Some(limit) => match clients.admit(peer.ip(), limit) {
                    Some(slot) => Some(slot),
                    None => {
                        metrics::counter!("tidings_inbound_refusals_total", "reason" => "too many connections from the client").increment(1);
                        tracing::info!(peer = %peer.ip(), "connection refused: too many from this client");
                        tokio::spawn(async move {
                            server
                                .refuse_busy(stream, "too many connections from your address")
                                .await
                        });
                        continue;
                    }
                },
                None => None,
            };
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(permit) => {
                    let protocol = match self.protocol {
                        Protocol::Smtp => "smtp",
                        Protocol::Lmtp => "lmtp",
                    };
                    metrics::counter!("tidings_inbound_sessions_total", "protocol" => protocol)
                        .increment(1);
                    // Every line the session logs, and every line about what it takes in,
                    // carries this id: the thread to pull from the socket to the relay.
                    let session = tracing::info_span!(
                        "session",
                        session = %format!("{:016x}", rand::random::<u64>()),
                        protocol = ?self.protocol,
                    );
                    tokio::spawn(
                        async move {
                            if let Err(error) = server.session(stream, peer).await {
                                tracing::debug!(%error, %peer, "session ended with an I/O error");
                            }
                            drop((permit, client));
                        }
                        .instrument(session),
                    );
                }
                Err(_) => {
                    metrics::counter!("tidings_inbound_refusals_total", "reason" => "every session slot taken").increment(1);
                    tracing::info!("connection refused: every session slot is taken");
                    tokio::spawn(async move {
                        server.refuse_busy(stream, "too many connections").await
                    });
                }
            }
        }
    }

    /// Answers 421 and closes, within a bound: a client that does not read must not keep
    /// the socket (and its descriptor) open.
    async fn refuse_busy(&self, mut stream: TcpStream, why: &str) {
        let reply = Reply::new(
            421,
            "4.7.0",
            format!("{} {why}, try again later", self.hostname),
        );
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            stream.write_all(reply.to_string().as_bytes()),
        )
        .await;
    }

    async fn session(&self, stream: TcpStream, peer: SocketAddr) -> std::io::Result<()> {
        stream.set_nodelay(true)?;
        let (mut reader, writer) = stream.into_split();
        let mut out = BufWriter::new(writer);
        let mut session = Session::new(self, peer);
        let banner = match self.protocol {
            Protocol::Smtp => "ESMTP tidings",
            Protocol::Lmtp => "LMTP tidings",
        };
        out.write_all(format!("220 {} {banner}\r\n", self.hostname).as_bytes())
            .await?;
        out.flush().await?;
        let session_ends = Instant::now() + self.limits.session_timeout;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let silence_ends = Instant::now() + self.limits.idle_timeout;
            let deadline = silence_ends.min(session.deadline()).min(session_ends);
            let n = match tokio::time::timeout_at(deadline, reader.read(&mut buf)).await {
                Ok(result) => result?,
                Err(_) => {
                    let why = if deadline == session_ends {
                        "session lasted too long"
                    } else if deadline == silence_ends {
                        "idle for too long"
                    } else {
                        "client too slow"
                    };
                    metrics::counter!("tidings_inbound_refusals_total", "reason" => "session timed out").increment(1);
                    tracing::info!(peer = %peer.ip(), why, "session timed out");
                    let reply =
                        Reply::new(421, "4.4.2", format!("{} {why}, closing", self.hostname));
                    out.write_all(reply.to_string().as_bytes()).await?;
                    out.flush().await?;
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            let mut bytes = buf[..n].iter();
            let flow = session.ingest(&mut bytes, &mut out).await?;
            out.flush().await?;
            if flow == Flow::Close {
                return Ok(());
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

enum Phase {
    /// Commands; the next one must be whole by `due`.
    Commands { due: Instant },
    Data {
        reader: DataReader,
        message: Vec<u8>,
        line: LineMeter,
        started: Instant,
    },
    /// The message broke a limit: read it to its end (keeping none of it), then refuse it.
    Discarding {
        reader: DataReader,
        refusal: Reply,
        started: Instant,
        read: usize,
    },
}

struct Session<'s, H> {
    server: &'s Server<H>,
    envelope: Envelope,
    greeted: bool,
    in_transaction: bool,
    errors: usize,
    requests: RequestReceiver,
    phase: Phase,
    /// This session's share of the memory budget for DATA.
    reservation: Reservation,
}

impl<'s, H: MailHandler> Session<'s, H> {
    fn new(server: &'s Server<H>, peer: SocketAddr) -> Self {
        Session {
            server,
            envelope: Envelope {
                protocol: server.protocol,
                peer,
                helo: String::new(),
                extended: false,
                mail_from: String::new(),
                smtputf8: false,
                eight_bit_mime: false,
                recipients: Vec::new(),
            },
            greeted: false,
            in_transaction: false,
            errors: 0,
            requests: RequestReceiver::default(),
            phase: Phase::Commands {
                due: Instant::now() + server.limits.idle_timeout,
            },
            reservation: Reservation::new(&server.budget),
        }
    }

    /// When the client must have sent more: its next command whole, or, during DATA, enough
    /// of the message to keep up the minimum rate after a first `idle_timeout`.
    fn deadline(&self) -> Instant {
        let limits = &self.server.limits;
        let data = |started: Instant, read: usize| {
            let earned = Duration::from_secs_f64(read as f64 / limits.min_data_rate.max(1) as f64);
            started + limits.idle_timeout + earned
        };
        match &self.phase {
            Phase::Commands { due } => *due,
            Phase::Data {
                message, started, ..
            } => data(*started, message.len()),
            Phase::Discarding { started, read, .. } => data(*started, *read),
        }
    }

    /// Back to reading commands, the next one due within `idle_timeout`.
    fn await_commands(&mut self) {
        self.phase = Phase::Commands {
            due: Instant::now() + self.server.limits.idle_timeout,
        };
    }

    /// Consumes one read's worth of bytes, answering every complete command (pipelining).
    async fn ingest<W: AsyncWriteExt + Unpin>(
        &mut self,
        bytes: &mut std::slice::Iter<'_, u8>,
        out: &mut W,
    ) -> std::io::Result<Flow> {
        loop {
            let step = match &self.phase {
                Phase::Commands { .. } => self.ingest_command(bytes, out).await?,
                Phase::Data { .. } => self.ingest_data(bytes, out).await?,
                Phase::Discarding { .. } => self.ingest_discarded(bytes, out).await?,
            };
            if let ControlFlow::Break(flow) = step {
                return Ok(flow);
            }
        }
    }

    /// Answers the next command, if the bytes hold a whole one.
    async fn ingest_command<W: AsyncWriteExt + Unpin>(
        &mut self,
        bytes: &mut std::slice::Iter<'_, u8>,
        out: &mut W,
    ) -> std::io::Result<ControlFlow<Flow>> {
        if bytes.len() == 0 {
            return Ok(ControlFlow::Break(Flow::Continue));
        }
        if skip_overlong_command(bytes) {
            let reply = Reply::new(500, "5.5.2", "command line too long");
            let (reply, flow) = self.count_error(reply);
            out.write_all(reply.as_bytes()).await?;
            return Ok(stop_if_closing(flow));
        }
        let request = match self.requests.ingest(bytes) {
            Ok(request) => Ok(request.into_owned()),
            Err(ParseError::NeedsMoreData { .. }) => return Ok(ControlFlow::Break(Flow::Continue)),
            Err(error) => Err(error),
        };
        self.await_commands();
        let (reply, flow) = match request {
            Ok(Request::Rcpt { to }) => {
                let reply = self.rcpt(to.address).await;
                self.count_error(reply)
            }
            Ok(request) => self.command(request),
            Err(error) => self.parse_error(error),
        };
        out.write_all(reply.as_bytes()).await?;
        Ok(stop_if_closing(flow))
    }

    /// Takes the message's bytes, within its limits; at the end of the data, hands the
    /// message over and answers for it.
    async fn ingest_data<W: AsyncWriteExt + Unpin>(
        &mut self,
        bytes: &mut std::slice::Iter<'_, u8>,
        out: &mut W,
    ) -> std::io::Result<ControlFlow<Flow>> {
        if let Err(refusal) = self.make_room(bytes.as_slice()) {
            self.discard_rest(refusal, false, out).await?;
            return Ok(ControlFlow::Continue(()));
        }
        let Phase::Data {
            reader, message, ..
        } = &mut self.phase
        else {
            unreachable!("called in the data phase")
        };
        let start = message.len();
        let done = reader.ingest(bytes, message);
        if let Some(refusal) = self.limit_refusal(start) {
            self.discard_rest(refusal, done, out).await?;
            return Ok(ControlFlow::Continue(()));
        }
        if !done {
            return Ok(ControlFlow::Break(Flow::Continue));
        }
        let commands = Phase::Commands {
            due: Instant::now(),
        };
        let Phase::Data { message, .. } = std::mem::replace(&mut self.phase, commands) else {
            unreachable!("called in the data phase")
        };
        let replies = self
            .server
            .handler
            .take_message(&self.envelope, message)
            .await;
        self.reservation.release();
        self.await_commands();
        for reply in replies {
            out.write_all(reply.to_string().as_bytes()).await?;
        }
        self.reset_transaction();
        Ok(ControlFlow::Continue(()))
    }

    /// Reads a refused message to the end of its data, keeping nothing, then answers each
    /// recipient.
    async fn ingest_discarded<W: AsyncWriteExt + Unpin>(
        &mut self,
        bytes: &mut std::slice::Iter<'_, u8>,
        out: &mut W,
    ) -> std::io::Result<ControlFlow<Flow>> {
        let Phase::Discarding {
            reader,
            refusal,
            read,
            ..
        } = &mut self.phase
        else {
            unreachable!("called while discarding")
        };
        let before = bytes.len();
        let mut scratch = Vec::new();
        let done = reader.ingest(bytes, &mut scratch);
        *read += before - bytes.len();
        if !done {
            return Ok(ControlFlow::Break(Flow::Continue));
        }
        let refusal = refusal.clone();
        self.await_commands();
        self.answer_every_recipient(&refusal, out).await?;
        self.reset_transaction();
        Ok(ControlFlow::Continue(()))
    }

    /// Makes room in the message for the bytes of `incoming`, within this session's share
    /// of the [`DataBudget`]: the memory is reserved before it is taken. The message grows
    /// as a `Vec` would, by doubling, while the budget allows; near its end, by exactly what
    /// this read can add.
    fn make_room(&mut self, incoming: &[u8]) -> Result<(), Reply> {
        let Phase::Data { message, .. } = &mut self.phase else {
            return Ok(());
        };
        // Each bare CR or LF becomes CRLF, one byte more; nothing else grows.
        let line_ends = memchr::memchr2_iter(b'\r', b'\n', incoming).count();
        let needed = message.len() + incoming.len() + line_ends;
        if needed <= message.capacity() {
            return Ok(());
        }
        let ceiling = needed.max(self.server.limits.max_message_size + incoming.len());
        let doubled = needed.max(message.capacity() * 2).min(ceiling);
        let target = if self.reservation.cover(doubled) {
            doubled
        } else if self.reservation.cover(needed) {
            needed
        } else {
            tracing::warn!(
                peer = %self.envelope.peer.ip(),
                available = self.server.budget.available(),
                "message refused for now: the memory budget for incoming messages is spent"
            );
            return Err(Reply::new(
                452,
                "4.3.1",
                "insufficient system storage for this message now, try again later",
            ));
        };
        message.reserve_exact(target - message.len());
        Ok(())
    }

    /// Checks the bytes appended since `start` against the size and line-length limits.
    fn limit_refusal(&mut self, start: usize) -> Option<Reply> {
        let limits = &self.server.limits;
        let Phase::Data { message, line, .. } = &mut self.phase else {
            return None;
        };
        if message.len() > limits.max_message_size {
            return Some(Reply::new(
                552,
                "5.3.4",
                format!(
                    "message is larger than the {} bytes this server accepts",
                    limits.max_message_size
                ),
            ));
        }
        if line.exceeds(&message[start..], limits.max_line_length) {
            return Some(Reply::new(
                554,
                "5.6.0",
                format!(
                    "message has a line longer than {} bytes; wrap or encode it",
                    limits.max_line_length
                ),
            ));
        }
        None
    }

    async fn discard_rest<W: AsyncWriteExt + Unpin>(
        &mut self,
        refusal: Reply,
        done: bool,
        out: &mut W,
    ) -> std::io::Result<()> {
        self.reservation.release();
        let phase = std::mem::replace(
            &mut self.phase,
            Phase::Commands {
                due: Instant::now(),
            },
        );
        let Phase::Data {
            reader,
            message,
            started,
            ..
        } = phase
        else {
            self.phase = phase;
            return Ok(());
        };
        if done {
            self.await_commands();
            self.answer_every_recipient(&refusal, out).await?;
            self.reset_transaction();
        } else {
            self.phase = Phase::Discarding {
                reader,
                refusal,
                started,
                read: message.len(),
            };
        }
        Ok(())
    }

    /// SMTP answers a message once; LMTP once per accepted recipient (RFC 2033 §4.2).
    async fn answer_every_recipient<W: AsyncWriteExt + Unpin>(
        &self,
        reply: &Reply,
        out: &mut W,
    ) -> std::io::Result<()> {
        let count = match self.envelope.protocol {
            Protocol::Smtp => 1,
            Protocol::Lmtp => self.envelope.recipients.len(),
        };
        for _ in 0..count {
            out.write_all(reply.to_string().as_bytes()).await?;
        }
        Ok(())
    }

    fn reset_transaction(&mut self) {
        self.in_transaction = false;
        self.envelope.mail_from.clear();
        self.envelope.smtputf8 = false;
        self.envelope.eight_bit_mime = false;
        self.envelope.recipients.clear();
    }

    fn command(&mut self, request: Request<String>) -> (String, Flow) {
        let reply = match request {
            Request::Ehlo { host } if self.server.protocol == Protocol::Smtp => {
                return (self.hello(host), Flow::Continue)
            }
            Request::Lhlo { host } if self.server.protocol == Protocol::Lmtp => {
                return (self.hello(host), Flow::Continue)
            }
            Request::Helo { host } if self.server.protocol == Protocol::Smtp => {
                self.greeted = true;
                self.envelope.helo = host;
                self.envelope.extended = false;
                self.reset_transaction();
                Reply::new(250, "", self.server.hostname.clone())
            }
            Request::Ehlo { .. } | Request::Helo { .. } => {
                Reply::new(500, "5.5.1", "this is an LMTP server: use LHLO")
            }
            Request::Lhlo { .. } => Reply::new(500, "5.5.1", "this is an SMTP server: use EHLO"),
            Request::Mail { from } => self.mail(from),
            Request::Rcpt { .. } => unreachable!("RCPT is answered by Session::rcpt"),
            Request::Data => self.data(),
            Request::Rset => {
                self.reset_transaction();
                Reply::new(250, "2.0.0", "OK")
            }
            Request::Noop { .. } => Reply::new(250, "2.0.0", "OK"),
            Request::Quit => {
                return (
                    Reply::new(221, "2.0.0", format!("{} closing", self.server.hostname))
                        .to_string(),
                    Flow::Close,
                )
            }
            Request::Vrfy { .. } => Reply::new(
                252,
                "2.5.0",
                "not verifying addresses; send mail to find out",
            ),
            // Rosters are never disclosed, EXPN least of all.
            Request::Expn { .. } => Reply::new(502, "5.5.1", "EXPN is not available"),
            Request::Help { .. } => Reply::new(
                214,
                "2.0.0",
                "tidings: send mail to LIST-request@ with the word help",
            ),
            Request::Bdat { .. } => {
                // The chunk that follows would be read as commands: the stream is lost.
                return (
                    Reply::new(502, "5.5.1", "CHUNKING was not offered").to_string(),
                    Flow::Close,
                );
            }
            Request::StartTls
            | Request::Auth { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => Reply::new(502, "5.5.1", "command not implemented"),
        };
        self.count_error(reply)
    }

    fn hello(&mut self, host: String) -> String {
        self.greeted = true;
        self.envelope.helo = host;
        self.envelope.extended = true;
        self.reset_transaction();
        let mut keywords: Vec<String> = self
            .server
            .extensions
            .keywords()
            .map(String::from)
            .collect();
        keywords.push(format!("SIZE {}", self.server.limits.max_message_size));
        keywords.push("ENHANCEDSTATUSCODES".into());
        let mut reply = format!("250-{}\r\n", self.server.hostname);
        for (i, keyword) in keywords.iter().enumerate() {
            let separator = if i + 1 == keywords.len() { ' ' } else { '-' };
            reply.push_str(&format!("250{separator}{keyword}\r\n"));
        }
        reply
    }

    fn mail(&mut self, from: MailFrom<String>) -> Reply {
        if !self.greeted {
            return Reply::new(503, "5.5.1", "say hello first");
        }
        if self.in_transaction {
            return Reply::new(503, "5.5.1", "nested MAIL command");
        }
        let offered = self.server.extensions;
        let smtputf8 = from.flags & MAIL_SMTPUTF8 != 0;
        let eight_bit_mime = from.flags & MAIL_BODY_8BITMIME != 0;
        // RFC 5321 4.1.1.11: a parameter of an extension that was not offered.
        for (said, offered, parameter) in [
            (smtputf8, offered.smtputf8, "SMTPUTF8"),
            (eight_bit_mime, offered.eight_bit_mime, "BODY=8BITMIME"),
        ] {
            if said && !offered {
                return Reply::new(555, "5.5.4", format!("{parameter} was not offered"));
            }
        }
        if let Some(refusal) = unannounced_utf8(&from.address, smtputf8, "sender") {
            return refusal;
        }
        if from.size > self.server.limits.max_message_size {
            return Reply::new(
                552,
                "5.3.4",
                format!(
                    "message size exceeds the {} bytes this server accepts",
                    self.server.limits.max_message_size
                ),
            );
        }
        self.in_transaction = true;
        self.envelope.mail_from = from.address;
        self.envelope.smtputf8 = smtputf8;
        self.envelope.eight_bit_mime = eight_bit_mime;
        Reply::new(250, "2.1.0", "sender OK")
    }

    async fn rcpt(&mut self, to: String) -> Reply {
        if !self.in_transaction {
            return Reply::new(503, "5.5.1", "need MAIL before RCPT");
        }
        if self.envelope.recipients.len() >= self.server.limits.max_recipients {
            return Reply::new(452, "4.5.3", "too many recipients in one transaction");
        }
        if let Some(refusal) = unannounced_utf8(&to, self.envelope.smtputf8, "recipient") {
            return refusal;
        }
        match self
            .server
            .handler
            .check_recipient(&self.envelope, &to)
            .await
        {
            Ok(()) => {
                self.envelope.recipients.push(to);
                Reply::new(250, "2.1.5", "recipient OK")
            }
            Err(refusal) => refusal,
        }
    }

    fn data(&mut self) -> Reply {
        if !self.in_transaction {
            return Reply::new(503, "5.5.1", "need MAIL before DATA");
        }
        if self.envelope.recipients.is_empty() {
            return Reply::new(554, "5.5.1", "no valid recipients");
        }
        self.phase = Phase::Data {
            reader: DataReader::new(),
            // Grown read by read, within the budget (see `make_room`).
            message: Vec::new(),
            line: LineMeter::default(),
            started: Instant::now(),
        };
        Reply::new(354, "", "end data with <CR><LF>.<CR><LF>")
    }

    fn parse_error(&mut self, error: ParseError) -> (String, Flow) {
        let reply = match error {
            ParseError::UnknownCommand => Reply::new(500, "5.5.1", "command unrecognised"),
            ParseError::ResponseTooLong => Reply::new(500, "5.5.2", "command line too long"),
            ParseError::InvalidSenderAddress => {
                Reply::new(501, "5.1.7", "bad sender address syntax")
            }
            ParseError::InvalidRecipientAddress => {
                Reply::new(501, "5.1.3", "bad recipient address syntax")
            }
            ParseError::SyntaxError { syntax } => {
                Reply::new(501, "5.5.4", format!("syntax: {syntax}"))
            }
            ParseError::InvalidParameter { param } => {
                Reply::new(501, "5.5.4", format!("invalid parameter {param}"))
            }
            ParseError::UnsupportedParameter { param } => {
                Reply::new(504, "5.5.4", format!("unsupported parameter {param}"))
            }
            _ => Reply::new(500, "5.5.2", "syntax error"),
        };
        self.count_error(reply)
    }

    fn count_error(&mut self, reply: Reply) -> (String, Flow) {
        if reply.code < 400 {
            return (reply.to_string(), Flow::Continue);
        }
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            let mut text = reply.to_string();
            text.push_str(&Reply::new(421, "4.7.0", "too many errors, closing").to_string());
            return (text, Flow::Close);
        }
        (reply.to_string(), Flow::Continue)
    }
}

/// An address in UTF-8 in a transaction that did not say SMTPUTF8 (RFC 6531 3.5): the
/// client does not know what it is sending, and a copy of it could not be relayed as given.
fn unannounced_utf8(address: &str, smtputf8: bool, whose: &str) -> Option<Reply> {
    (!smtputf8 && !address.is_ascii()).then(|| {
        Reply::new(
            553,
            "5.6.7",
            format!("a non-ASCII {whose} address needs MAIL FROM:<...> SMTPUTF8"),
        )
    })
}

/// Longest command line taken (RFC 5321 says 512; extensions make longer ones legitimate).
const MAX_COMMAND_LINE: usize = 4096;

/// smtp-proto limits a command line only when it spans reads: a long line that arrives
/// whole is skipped here, up to its end.
/// Reads on after a reply, unless it closed the session.
fn stop_if_closing(flow: Flow) -> ControlFlow<Flow> {
    match flow {
        Flow::Close => ControlFlow::Break(Flow::Close),
        Flow::Continue => ControlFlow::Continue(()),
    }
}

fn skip_overlong_command(bytes: &mut std::slice::Iter<'_, u8>) -> bool {
    let rest = bytes.as_slice();
    let line = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    if line <= MAX_COMMAND_LINE {
        return false;
    }
    *bytes = rest[(line + 1).min(rest.len())..].iter();
    true
}

/// Tracks the length of the current line across reads.
#[derive(Default)]
struct LineMeter {
    current: usize,
}

impl LineMeter {
    fn exceeds(&mut self, chunk: &[u8], max: usize) -> bool {
        for &byte in chunk {
            if byte == b'\n' {
                self.current = 0;
            } else if byte != b'\r' {
                self.current += 1;
                if self.current > max {
                    return true;
                }
            }
        }
        false
    }
}
