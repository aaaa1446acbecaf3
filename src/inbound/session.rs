//! One SMTP or LMTP session, driven by smtp-proto's parser. The protocol (greeting, command
//! order, pipelining, DATA, limits, time-outs) lives here; what to accept is the handler's
//! business, so the same engine serves the daemon and the test sink.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver, RequestReceiver};
use smtp_proto::{Error as ParseError, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

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
    /// Reverse path; empty for the null sender `<>`.
    pub mail_from: String,
    /// Accepted recipients, in RCPT order.
    pub recipients: Vec<String>,
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
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

/// Clients making this many protocol errors are disconnected (Postfix's hard error limit).
const MAX_ERRORS: usize = 20;

pub struct Server<H> {
    pub protocol: Protocol,
    pub hostname: String,
    pub limits: Limits,
    /// Offer PIPELINING (RFC 2920). Always on for tidings' own listeners; the test sink can
    /// turn it off to stand for a relay without it.
    pub pipelining: bool,
    pub handler: Arc<H>,
}

impl<H: MailHandler> Server<H> {
    /// Accepts connections until `shutdown` turns true; sessions in progress run to their end.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let slots = Arc::new(Semaphore::new(self.limits.max_connections));
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
                _ = shutdown.changed() => return,
            };
            let server = Arc::clone(&self);
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(permit) => {
                    tokio::spawn(async move {
                        if let Err(error) = server.session(stream, peer).await {
                            tracing::debug!(%error, %peer, "session ended with an I/O error");
                        }
                        drop(permit);
                    });
                }
                Err(_) => {
                    tokio::spawn(async move { server.refuse_busy(stream).await });
                }
            }
        }
    }

    async fn refuse_busy(&self, mut stream: TcpStream) {
        let reply = Reply::new(
            421,
            "4.7.0",
            format!("{} too many connections, try again later", self.hostname),
        );
        let _ = stream.write_all(reply.to_string().as_bytes()).await;
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
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let read = tokio::time::timeout(self.limits.idle_timeout, reader.read(&mut buf)).await;
            let n = match read {
                Ok(result) => result?,
                Err(_) => {
                    let reply = Reply::new(
                        421,
                        "4.4.2",
                        format!("{} idle for too long, closing", self.hostname),
                    );
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
    Commands,
    Data {
        receiver: DataReceiver,
        message: Vec<u8>,
        line: LineMeter,
    },
    /// The message broke a limit: read it to its end, then refuse it.
    Discarding {
        receiver: DummyDataReceiver,
        refusal: Reply,
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
}

impl<'s, H: MailHandler> Session<'s, H> {
    fn new(server: &'s Server<H>, peer: SocketAddr) -> Self {
        Session {
            server,
            envelope: Envelope {
                protocol: server.protocol,
                peer,
                helo: String::new(),
                mail_from: String::new(),
                recipients: Vec::new(),
            },
            greeted: false,
            in_transaction: false,
            errors: 0,
            requests: RequestReceiver::default(),
            phase: Phase::Commands,
        }
    }

    /// Consumes one read's worth of bytes, answering every complete command (pipelining).
    async fn ingest<W: AsyncWriteExt + Unpin>(
        &mut self,
        bytes: &mut std::slice::Iter<'_, u8>,
        out: &mut W,
    ) -> std::io::Result<Flow> {
        loop {
            match &mut self.phase {
                Phase::Commands => {
                    if bytes.len() == 0 {
                        return Ok(Flow::Continue);
                    }
                    if skip_overlong_command(bytes) {
                        let reply = Reply::new(500, "5.5.2", "command line too long");
                        let (reply, flow) = self.count_error(reply);
                        out.write_all(reply.as_bytes()).await?;
                        if flow == Flow::Close {
                            return Ok(flow);
                        }
                        continue;
                    }
                    let request = match self.requests.ingest(bytes) {
                        Ok(request) => Ok(request.into_owned()),
                        Err(ParseError::NeedsMoreData { .. }) => return Ok(Flow::Continue),
                        Err(error) => Err(error),
                    };
                    let (reply, flow) = match request {
                        Ok(Request::Rcpt { to }) => {
                            let reply = self.rcpt(to.address).await;
                            self.count_error(reply)
                        }
                        Ok(request) => self.command(request),
                        Err(error) => self.parse_error(error),
                    };
                    out.write_all(reply.as_bytes()).await?;
                    if flow == Flow::Close {
                        return Ok(flow);
                    }
                }
                Phase::Data {
                    receiver, message, ..
                } => {
                    let start = message.len();
                    let done = receiver.ingest(bytes, message);
                    let refusal = self.limit_refusal(start);
                    if let Some(refusal) = refusal {
                        self.discard_rest(refusal, done, out).await?;
                    } else if done {
                        let Phase::Data { message, .. } =
                            std::mem::replace(&mut self.phase, Phase::Commands)
                        else {
                            unreachable!("phase checked above")
                        };
                        let replies = self
                            .server
                            .handler
                            .take_message(&self.envelope, message)
                            .await;
                        for reply in replies {
                            out.write_all(reply.to_string().as_bytes()).await?;
                        }
                        self.reset_transaction();
                    } else {
                        return Ok(Flow::Continue);
                    }
                }
                Phase::Discarding { receiver, refusal } => {
                    if !receiver.ingest(bytes) {
                        return Ok(Flow::Continue);
                    }
                    let refusal = refusal.clone();
                    self.phase = Phase::Commands;
                    self.answer_every_recipient(&refusal, out).await?;
                    self.reset_transaction();
                }
            }
        }
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
        let Phase::Data { receiver, .. } = &self.phase else {
            return Ok(());
        };
        if done {
            self.phase = Phase::Commands;
            self.answer_every_recipient(&refusal, out).await?;
            self.reset_transaction();
        } else {
            self.phase = Phase::Discarding {
                receiver: DummyDataReceiver::new_data(receiver),
                refusal,
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
                self.reset_transaction();
                Reply::new(250, "", self.server.hostname.clone())
            }
            Request::Ehlo { .. } | Request::Helo { .. } => {
                Reply::new(500, "5.5.1", "this is an LMTP server: use LHLO")
            }
            Request::Lhlo { .. } => Reply::new(500, "5.5.1", "this is an SMTP server: use EHLO"),
            Request::Mail { from } => self.mail(from.address, from.size),
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
        self.reset_transaction();
        let pipelining = if self.server.pipelining {
            "250-PIPELINING\r\n"
        } else {
            ""
        };
        format!(
            "250-{}\r\n{pipelining}250-SIZE {}\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n",
            self.server.hostname, self.server.limits.max_message_size
        )
    }

    fn mail(&mut self, from: String, size: usize) -> Reply {
        if !self.greeted {
            return Reply::new(503, "5.5.1", "say hello first");
        }
        if self.in_transaction {
            return Reply::new(503, "5.5.1", "nested MAIL command");
        }
        if size > self.server.limits.max_message_size {
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
        self.envelope.mail_from = from;
        Reply::new(250, "2.1.0", "sender OK")
    }

    async fn rcpt(&mut self, to: String) -> Reply {
        if !self.in_transaction {
            return Reply::new(503, "5.5.1", "need MAIL before RCPT");
        }
        if self.envelope.recipients.len() >= self.server.limits.max_recipients {
            return Reply::new(452, "4.5.3", "too many recipients in one transaction");
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
            receiver: DataReceiver::new(),
            message: Vec::with_capacity(16 * 1024),
            line: LineMeter::default(),
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

/// Longest command line taken (RFC 5321 says 512; extensions make longer ones legitimate).
const MAX_COMMAND_LINE: usize = 4096;

/// smtp-proto limits a command line only when it spans reads: a long line that arrives
/// whole is skipped here, up to its end.
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
