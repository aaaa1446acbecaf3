//! The SMTP client side: one long-lived connection to the configured relay.
//!
//! lettre's pooled transport never sets TCP_NODELAY, so every message waits ~40 ms on Nagle
//! and delayed ACKs, and it aborts a whole message on one refused recipient. This drives
//! lettre's connection API over our own socket instead, with TCP_NODELAY, and reads each
//! reply itself.

use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use lettre::Address;
use tokio::net::TcpStream;

use crate::config::{RelayConfig, TlsMode};
use crate::inbound::Extensions;

/// What the relay made of one message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    Accepted,
    /// A 4xx reply: try again later.
    Temporary(String),
    /// A 5xx reply: this recipient will not take this message.
    Permanent(String),
    /// The connection failed: the message's fate is unknown, treat as temporary and reconnect.
    ConnectionLost(String),
}

#[derive(Debug, thiserror::Error)]
#[error("cannot reach the relay {host}:{port}: {reason}")]
pub struct ConnectError {
    pub host: String,
    pub port: u16,
    pub reason: String,
}

impl ConnectError {
    fn of(relay: &RelayConfig, reason: impl ToString) -> ConnectError {
        ConnectError {
            host: relay.host.clone(),
            port: relay.port,
            reason: reason.to_string(),
        }
    }
}

/// The connection to the relay, greeted, over TLS when `tls = "tls"`.
async fn open(
    relay: &RelayConfig,
    hello: &ClientId,
    connect_timeout: Duration,
) -> Result<AsyncSmtpConnection, ConnectError> {
    let fail = |error: lettre::transport::smtp::Error| ConnectError::of(relay, error);
    if relay.tls == TlsMode::Tls {
        // Implicit TLS goes through lettre's own connector, which does not expose the
        // socket: these connections run without TCP_NODELAY.
        let address = (relay.host.as_str(), relay.port);
        let tls = Some(tls_parameters(relay)?);
        return AsyncSmtpConnection::connect_tokio1(
            address,
            Some(connect_timeout),
            hello,
            tls,
            None,
        )
        .await
        .map_err(fail);
    }
    let stream = tokio::time::timeout(
        connect_timeout,
        TcpStream::connect((relay.host.as_str(), relay.port)),
    )
    .await
    .map_err(|_| {
        let seconds = relay.connect_timeout_seconds;
        ConnectError::of(relay, format!("no connection within {seconds} s"))
    })?
    .map_err(|error| ConnectError::of(relay, error))?;
    stream
        .set_nodelay(true)
        .map_err(|error| ConnectError::of(relay, error))?;
    AsyncSmtpConnection::connect_with_transport(Box::new(stream), hello)
        .await
        .map_err(fail)
}

/// STARTTLS when asked for, what the relay offers, and AUTH when a user is configured.
async fn negotiate(
    connection: &mut AsyncSmtpConnection,
    relay: &RelayConfig,
    hello: &ClientId,
) -> Result<Extensions, ConnectError> {
    let fail = |error: lettre::transport::smtp::Error| ConnectError::of(relay, error);
    if relay.tls == TlsMode::Starttls {
        connection
            .starttls(tls_parameters(relay)?, hello)
            .await
            .map_err(fail)?;
    }
    // lettre keeps no note of PIPELINING: ask again (before AUTH, which a new EHLO could
    // reset) and read every keyword that matters from this one reply, the last EHLO of the
    // session (after STARTTLS, where a relay may offer more).
    let ehlo = connection
        .command(Ehlo::new(hello.clone()))
        .await
        .map_err(fail)?;
    let offered = Extensions::from_ehlo(ehlo.message());
    if !relay.username.is_empty() {
        let credentials = Credentials::new(relay.username.clone(), relay.password.clone());
        connection
            .auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
            .await
            .map_err(fail)?;
    }
    Ok(offered)
}

fn tls_parameters(relay: &RelayConfig) -> Result<TlsParameters, ConnectError> {
    TlsParameters::new(relay.host.clone()).map_err(|error| ConnectError::of(relay, error))
}

/// How long the relay may take to answer, after RFC 5321 §4.5.3.2: MAIL and RCPT (and
/// RSET, QUIT) 5 minutes, DATA 2 minutes, and the message itself (sent in one go here, so
/// its blocks and the final reply share one limit) 10 minutes.
struct Timeouts {
    command: Duration,
    data_start: Duration,
    data_end: Duration,
}

pub struct RelayClient {
    connection: AsyncSmtpConnection,
    timeouts: Timeouts,
    /// Set when the connection can no longer be trusted to be in step with the server.
    broken: bool,
    /// What the relay's EHLO reply offers: PIPELINING (MAIL, RCPT and DATA in one go),
    /// 8BITMIME and SMTPUTF8.
    offered: Extensions,
}

impl RelayClient {
    pub async fn connect(
        relay: &RelayConfig,
        hello_name: &str,
    ) -> Result<RelayClient, ConnectError> {
        let connect_timeout = Duration::from_secs(relay.connect_timeout_seconds);
        // The greeting, EHLO, STARTTLS and AUTH once the socket is open.
        let setup_timeout = connect_timeout + Duration::from_secs(relay.greeting_timeout_seconds);
        let hello = ClientId::Domain(hello_name.to_string());
        let setup = async {
            let mut connection = open(relay, &hello, connect_timeout).await?;
            let offered = negotiate(&mut connection, relay, &hello).await?;
            Ok((connection, offered))
        };
        let (connection, offered) =
            tokio::time::timeout(setup_timeout, setup)
                .await
                .map_err(|_| {
                    ConnectError::of(
                        relay,
                        format!("no greeting within {} s", setup_timeout.as_secs()),
                    )
                })??;
        Ok(RelayClient {
            connection,
            timeouts: Timeouts {
                command: Duration::from_secs(relay.command_timeout_seconds),
                data_start: Duration::from_secs(relay.data_start_timeout_seconds),
                data_end: Duration::from_secs(relay.data_end_timeout_seconds),
            },
            broken: false,
            offered,
        })
    }

    /// Sends one message to one recipient: `parts` are written back to back as the message
    /// (the recipient's own headers, then the shared decorated message).
    pub async fn send(&mut self, from: &str, to: &str, parts: &[&[u8]]) -> SendResult {
        let mut results = self.send_many(from, &[to], parts).await;
        results
            .pop()
            .unwrap_or(SendResult::ConnectionLost("no result".into()))
    }

    /// Sends one message to several recipients, with each recipient's own result: a refused
    /// RCPT fails that recipient only. When the relay takes only so many recipients per
    /// transaction (452 after accepting some, RFC 5321 §4.5.3.1.10), the others go at once
    /// in further transactions.
    pub async fn send_many(
        &mut self,
        from: &str,
        recipients: &[&str],
        parts: &[&[u8]],
    ) -> Vec<SendResult> {
        let mut results: Vec<Option<SendResult>> = vec![None; recipients.len()];
        // Every round settles at least one recipient, so this ends.
        loop {
            let waiting: Vec<usize> = (0..recipients.len())
                .filter(|&i| results[i].is_none())
                .collect();
            if waiting.is_empty() {
                break;
            }
            let batch: Vec<&str> = waiting.iter().map(|&i| recipients[i]).collect();
            let round = self.transaction(from, &batch, parts).await;
            for (i, result) in waiting.into_iter().zip(round) {
                results[i] = result;
            }
        }
        results.into_iter().flatten().collect()
    }

    /// One transaction: a result per recipient, `None` for those the relay had no room for.
    async fn transaction(
        &mut self,
        from: &str,
        recipients: &[&str],
        parts: &[&[u8]],
    ) -> Vec<Option<SendResult>> {
        let all = |result: SendResult| vec![Some(result); recipients.len()];
        let mail = match self.mail_command(from, recipients, parts) {
            Ok(mail) => mail,
            Err(refusal) => return all(refusal),
        };
        let (mut results, envelope) = rcpt_commands(recipients);
        let rcpts: Vec<String> = envelope.iter().flatten().map(Rcpt::to_string).collect();
        let replies = self.envelope(&mail, &rcpts).await;
        if let Some(lost) = replies.iter().find_map(connection_lost) {
            self.broken = true;
            return all(lost);
        }
        let Some((mail, rest)) = replies.split_first() else {
            return all(SendResult::ConnectionLost("no reply to MAIL".into()));
        };
        let (rcpt_replies, data) = rest.split_at(rest.len().saturating_sub(1));
        let data_may_follow = matches!(data.first(), Some(Ok(Ok(_))));
        if let Some(refused) = classify(mail) {
            self.abandon(data_may_follow).await;
            return all(refused);
        }
        let accepted = settle_recipients(&mut results, &envelope, rcpt_replies);
        let outcome = match (accepted, data.first()) {
            (0, _) => {
                // Every recipient was refused: close the transaction so the connection goes on.
                self.abandon(data_may_follow).await;
                SendResult::Accepted
            }
            (_, Some(Ok(Ok(_)))) => {
                let answer = timed(self.timeouts.data_end, self.data(parts)).await;
                self.failure(&answer).await.unwrap_or(SendResult::Accepted)
            }
            (_, Some(refused)) => self
                .failure(refused)
                .await
                .unwrap_or(SendResult::ConnectionLost("no reply to DATA".into())),
            (_, None) => SendResult::ConnectionLost("no reply to DATA".into()),
        };
        spread(results, outcome)
    }

    /// `MAIL FROM` with the parameters the message needs, or why it cannot be sent here.
    fn mail_command(
        &self,
        from: &str,
        recipients: &[&str],
        parts: &[&[u8]],
    ) -> Result<String, SendResult> {
        let parameters = self.parameters(from, recipients, parts)?;
        let Ok(from) = from.parse::<Address>() else {
            return Err(SendResult::Permanent(format!(
                "invalid sender address {from:?}"
            )));
        };
        Ok(Mail::new(Some(from), parameters).to_string())
    }

    /// The MAIL parameters the message needs (RFC 6152, RFC 6531), or why it cannot go to
    /// this relay at all: 8-bit text to a relay that did not offer 8BITMIME, UTF-8 in an
    /// address or a header field to one that did not offer SMTPUTF8. Such a copy is not
    /// converted (that would break its signatures and change what its author wrote) and is
    /// never sent unannounced, which a relay may mangle or pass on to servers that cannot
    /// read it: it fails for good, saying why. The reason names no reply code, so that it
    /// is never counted against the recipient as a bounce.
    fn parameters(
        &self,
        from: &str,
        recipients: &[&str],
        parts: &[&[u8]],
    ) -> Result<Vec<MailParameter>, SendResult> {
        let mut parameters = Vec::new();
        if parts.iter().any(|part| !part.is_ascii()) {
            if !self.offered.eight_bit_mime {
                tracing::warn!(
                    recipients = recipients.len(),
                    "message not sent: it has 8-bit text and the relay does not offer 8BITMIME"
                );
                return Err(SendResult::Permanent(NO_8BITMIME.into()));
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let utf8 =
            !from.is_ascii() || recipients.iter().any(|to| !to.is_ascii()) || header_is_8bit(parts);
        if utf8 {
            if !self.offered.smtputf8 {
                tracing::warn!(
                    recipients = recipients.len(),
                    "message not sent: it has UTF-8 in its header or addresses and the relay does not offer SMTPUTF8"
                );
                return Err(SendResult::Permanent(NO_SMTPUTF8.into()));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        Ok(parameters)
    }

    /// Sends MAIL, the RCPTs and DATA and returns their replies in that order: in one write
    /// when the relay offers PIPELINING (RFC 2920), which saves two round trips per copy,
    /// else one command at a time. Stops at the first reply that cannot be had.
    async fn envelope(&mut self, mail: &str, rcpts: &[String]) -> Vec<Answer> {
        let commands: Vec<&str> = std::iter::once(mail)
            .chain(rcpts.iter().map(String::as_str))
            .chain(["DATA\r\n"])
            .collect();
        let last = commands.len() - 1;
        let mut replies = Vec::with_capacity(commands.len());
        if self.offered.pipelining {
            let written = timed(
                self.timeouts.command,
                self.connection.command(Raw(&commands)),
            )
            .await;
            replies.push(written);
            for i in 1..commands.len() {
                if connection_lost(&replies[i - 1]).is_some() {
                    break;
                }
                let limit = self.limit_for(i == last);
                replies.push(timed(limit, self.connection.read_response()).await);
            }
            return replies;
        }
        for (i, command) in commands.iter().enumerate() {
            let limit = self.limit_for(i == last);
            let reply = timed(limit, self.connection.command(Raw(&[command]))).await;
            let lost = connection_lost(&reply).is_some();
            replies.push(reply);
            if lost {
                break;
            }
        }
        replies
    }

    fn limit_for(&self, data: bool) -> Duration {
        if data {
            self.timeouts.data_start
        } else {
            self.timeouts.command
        }
    }

    /// Sends the message after a 354: dot-stuffed here, and written at once where it can be
    /// (see [`data_payload`]).
    async fn data(&mut self, parts: &[&[u8]]) -> Result<Response, lettre::transport::smtp::Error> {
        match String::from_utf8(data_payload(parts, Transparency::Stuffed)) {
            Ok(payload) => self.connection.command(Raw(&[&payload])).await,
            // lettre's own encoder takes any bytes: it serves the rare 8-bit, non-UTF-8 copy.
            // It stuffs a dot only after CRLF, which is every line start once the lines are
            // canonical; it adds the final CRLF.CRLF itself.
            Err(_) => {
                let lines = data_payload(parts, Transparency::Unstuffed);
                let lines = lines.strip_suffix(b"\r\n").unwrap_or(&lines);
                self.connection.message(lines).await
            }
        }
    }

    /// Ends a transaction that will not carry a message: the relay may still have answered
    /// a pipelined DATA with 354, in which case an empty message is sent (and refused by
    /// any relay that had no recipient), then the state is reset.
    async fn abandon(&mut self, data_started: bool) {
        if data_started {
            let ended = timed(
                self.timeouts.data_end,
                self.connection.command(Raw(&[".\r\n"])),
            )
            .await;
            if connection_lost(&ended).is_some() {
                self.broken = true;
                return;
            }
        }
        self.reset().await;
    }

    /// The failure a command's answer means, if any. A refused command leaves the
    /// transaction open, so it is reset; a lost connection is marked unusable.
    async fn failure(&mut self, answer: &Answer) -> Option<SendResult> {
        let failure = classify(answer)?;
        match failure {
            SendResult::ConnectionLost(_) => self.broken = true,
            _ => self.reset().await,
        }
        Some(failure)
    }

    async fn reset(&mut self) {
        let reset = timed(self.timeouts.command, self.connection.command(Rset)).await;
        if !matches!(reset, Ok(Ok(_))) {
            self.broken = true;
        }
    }

    /// Whether the connection can carry another message.
    pub fn is_usable(&self) -> bool {
        !self.broken && !self.connection.has_broken()
    }

    pub async fn quit(mut self) {
        let _ = timed(self.timeouts.command, self.connection.quit()).await;
    }
}

/// Why a copy with 8-bit text was not sent, recorded as the delivery's last reply.
pub const NO_8BITMIME: &str = "not sent: the message has 8-bit text and the relay does not \
    offer 8BITMIME (RFC 6152); tidings does not convert messages to 7-bit";

/// Why a copy with UTF-8 in its header or envelope was not sent.
pub const NO_SMTPUTF8: &str = "not sent: the message has UTF-8 in its header fields or \
    addresses and the relay does not offer SMTPUTF8 (RFC 6531); tidings does not downgrade \
    internationalised mail";

/// Whether the header section (up to the first empty line) of the message made of `parts`
/// has a byte above 127: UTF-8 in header fields (RFC 6532), which only SMTPUTF8 carries.
fn header_is_8bit(parts: &[&[u8]]) -> bool {
    let mut line_start = true;
    for part in parts {
        let mut rest: &[u8] = part;
        while let Some(&first) = rest.first() {
            if line_start && matches!(first, b'\r' | b'\n') {
                return false;
            }
            let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |at| at + 1);
            if !rest[..end].is_ascii() {
                return true;
            }
            line_start = rest[end - 1] == b'\n';
            rest = &rest[end..];
        }
    }
    false
}

/// A 452 to RCPT: the relay's limit of recipients per transaction (it is also the code of
/// "insufficient storage", which is why it only counts once some recipient was accepted).
fn is_too_many_recipients(answer: &Answer) -> bool {
    match answer {
        Ok(Err(error)) => error.status().is_some_and(|code| code.to_string() == "452"),
        _ => false,
    }
}

/// Results so far, per recipient (inner `None`: accepted at RCPT, waiting for the answer to
/// DATA; outer `None`: no room in this transaction), and the RCPT command of each recipient
/// whose address can be sent to at all.
#[allow(clippy::type_complexity)]
fn rcpt_commands(recipients: &[&str]) -> (Vec<Option<Option<SendResult>>>, Vec<Option<Rcpt>>) {
    recipients
        .iter()
        .map(|to| match to.parse::<Address>() {
            Ok(address) => (None, Some(Rcpt::new(address, vec![]))),
            Err(_) => (
                Some(Some(SendResult::Permanent(format!(
                    "invalid address {to:?}"
                )))),
                None,
            ),
        })
        .unzip()
}

/// Reads the RCPT replies into the results, and says how many recipients were accepted. A
/// 452 after some were accepted means no room in this transaction (RFC 5321 §4.5.3.1.10):
/// that recipient waits for the next one.
fn settle_recipients(
    results: &mut [Option<Option<SendResult>>],
    envelope: &[Option<Rcpt>],
    rcpt_replies: &[Answer],
) -> usize {
    let mut accepted = 0;
    let mut rcpt_replies = rcpt_replies.iter();
    for (slot, rcpt) in results.iter_mut().zip(envelope) {
        if rcpt.is_none() {
            continue;
        }
        let Some(reply) = rcpt_replies.next() else {
            break;
        };
        if accepted > 0 && is_too_many_recipients(reply) {
            continue;
        }
        let failure = classify(reply);
        accepted += usize::from(failure.is_none());
        *slot = Some(failure);
    }
    accepted
}

/// Each recipient's result: its own, or the transaction's outcome for those accepted at RCPT.
/// Over a lost connection, those not tried yet wait for the next attempt too.
fn spread(
    results: Vec<Option<Option<SendResult>>>,
    outcome: SendResult,
) -> Vec<Option<SendResult>> {
    let lost = matches!(outcome, SendResult::ConnectionLost(_));
    results
        .into_iter()
        .map(|slot| match slot {
            Some(result) => Some(result.unwrap_or_else(|| outcome.clone())),
            None if lost => Some(outcome.clone()),
            None => None,
        })
        .collect()
}

/// What a command's answer means for the recipients it concerns; `None` for success.
fn classify(answer: &Answer) -> Option<SendResult> {
    match answer {
        Ok(Ok(_)) => None,
        Ok(Err(error)) if error.is_permanent() => Some(SendResult::Permanent(reply_of(error))),
        Ok(Err(error)) if error.is_transient() => Some(SendResult::Temporary(reply_of(error))),
        Ok(Err(error)) => Some(SendResult::ConnectionLost(error.to_string())),
        Err(timeout) => Some(SendResult::ConnectionLost(timeout.clone())),
    }
}

/// The failure of an answer that leaves the connection out of step, if it is one.
fn connection_lost(answer: &Answer) -> Option<SendResult> {
    classify(answer).filter(|failure| matches!(failure, SendResult::ConnectionLost(_)))
}

/// A relay's answer to a command, or the time-out that came first.
type Answer = Result<Result<Response, lettre::transport::smtp::Error>, String>;

/// Text written to the relay exactly as given, through lettre's `command` (one write, one
/// reply read): lettre has no pipelining and no way to send a message already dot-stuffed.
struct Raw<'a>(&'a [&'a str]);

impl std::fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|text| f.write_str(text))
    }
}

/// Whether [`data_payload`] dot-stuffs and marks the end, or leaves that to lettre.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transparency {
    Stuffed,
    Unstuffed,
}

/// The message as DATA carries it (RFC 5321 §4.5.2): every line ends in CRLF, a line that
/// starts with a dot gets a second one, and the end is marked by a dot alone.
///
/// Stored messages are canonical already (the listener reads them so), but a copy is made of
/// several parts, and a relay that takes a bare LF or CR for a line end must never find a
/// line start here that was not stuffed: so a bare CR or LF, wherever it comes from, is
/// written as CRLF, and a line starts after any of the three. lettre's encoder stuffs only
/// after CRLF, and a byte at a time (a fifth of a fan-out's CPU); here whole lines are copied.
fn data_payload(parts: &[&[u8]], transparency: Transparency) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 16);
    let mut line_start = true;
    // A CR ended the previous part: an LF at the start of this one belongs to it.
    let mut pending_cr = false;
    for part in parts {
        let mut rest: &[u8] = part;
        if pending_cr && !rest.is_empty() {
            pending_cr = false;
            rest = rest.strip_prefix(b"\n").unwrap_or(rest);
        }
        while let Some(&first) = rest.first() {
            if line_start && first == b'.' && transparency == Transparency::Stuffed {
                out.push(b'.');
            }
            let Some(end) = memchr::memchr2(b'\r', b'\n', rest) else {
                out.extend_from_slice(rest);
                line_start = false;
                break;
            };
            out.extend_from_slice(&rest[..end]);
            out.extend_from_slice(b"\r\n");
            line_start = true;
            let crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
            pending_cr = rest[end] == b'\r' && end + 1 == rest.len();
            rest = &rest[end + if crlf { 2 } else { 1 }..];
        }
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    if transparency == Transparency::Stuffed {
        out.extend_from_slice(b".\r\n");
    }
    out
}

/// The relay's reply as it was written (`550 5.1.1 <a@example.org>: no such user`), for the
/// delivery record, the owners and the bounce classifier.
fn reply_of(error: &lettre::transport::smtp::Error) -> String {
    use std::error::Error as _;
    match (error.status(), error.source()) {
        (Some(code), Some(text)) => format!("{code} {text}"),
        _ => error.to_string(),
    }
}

async fn timed<T>(
    limit: Duration,
    work: impl std::future::Future<Output = T>,
) -> Result<T, String> {
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| format!("relay did not answer within {} s", limit.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The rule a byte at a time: any of CRLF, a bare CR and a bare LF ends a line and is
    /// written as CRLF, and a dot is doubled at the start of every line.
    fn stuffed_byte_by_byte(message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut line_start = true;
        let mut i = 0;
        while i < message.len() {
            let b = message[i];
            if b == b'\r' || b == b'\n' {
                out.extend_from_slice(b"\r\n");
                line_start = true;
                i += if b == b'\r' && message.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                continue;
            }
            if line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            line_start = false;
            i += 1;
        }
        if !line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    #[test]
    fn dot_stuffing_matches_the_byte_by_byte_rule_however_the_parts_are_cut() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5321);
        let alphabet = b".\r\na ";
        for _ in 0..5_000 {
            let len = rng.random_range(0..64);
            let message: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let mut cuts: Vec<usize> = (0..rng.random_range(0..4))
                .map(|_| rng.random_range(0..=len))
                .collect();
            cuts.sort_unstable();
            let mut parts = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([len]) {
                parts.push(&message[from..cut]);
                from = cut;
            }
            assert_eq!(
                data_payload(&parts, Transparency::Stuffed),
                stuffed_byte_by_byte(&message),
                "{:?} cut into {parts:?}",
                String::from_utf8_lossy(&message)
            );
        }
    }

    /// How a server reads DATA: what ends a line, and so where a `.` line may end the message.
    #[derive(Debug, Clone, Copy)]
    enum Reading {
        /// CRLF only (RFC 5321).
        Strict,
        /// A bare LF too (Postfix before `smtpd_forbid_bare_newline`, and many others).
        BareLf,
        /// A bare CR or a bare LF.
        BareCrOrLf,
    }

    /// The messages a server reading as `reading` finds in `payload`, and the bytes it would
    /// read as commands after the last one.
    fn read_as(reading: Reading, payload: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut messages = Vec::new();
        let mut message = Vec::new();
        let mut rest = payload;
        loop {
            let end = match reading {
                Reading::Strict => rest
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .map(|i| (i, i + 2)),
                Reading::BareLf => rest.iter().position(|&b| b == b'\n').map(|i| {
                    let text = if i > 0 && rest[i - 1] == b'\r' {
                        i - 1
                    } else {
                        i
                    };
                    (text, i + 1)
                }),
                Reading::BareCrOrLf => {
                    rest.iter()
                        .position(|&b| b == b'\r' || b == b'\n')
                        .map(|i| {
                            let crlf = rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n');
                            (i, i + if crlf { 2 } else { 1 })
                        })
                }
            };
            let Some((text_end, next)) = end else {
                return (messages, rest.to_vec());
            };
            let line = &rest[..text_end];
            rest = &rest[next..];
            if line == b"." {
                messages.push(std::mem::take(&mut message));
                if rest.is_empty() {
                    return (messages, Vec::new());
                }
                continue;
            }
            message.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
            message.extend_from_slice(b"\r\n");
        }
    }

    /// The property that closes SMTP smuggling: whatever bytes a client sends as DATA, what
    /// the listener stores is canonical, and the relayed DATA of it, cut into any parts, is
    /// read as exactly one message, equal to what was stored, by a strict server and by
    /// servers that take a bare LF, or a bare CR, for a line end, with nothing left over to
    /// be read as commands.
    #[test]
    fn any_data_taken_in_is_relayed_as_exactly_one_message_whoever_reads_it() {
        use crate::inbound::data::{is_canonical, DataReader};
        let mut rng = rand::rngs::StdRng::seed_from_u64(2920);
        let alphabets: [&[u8]; 3] = [b".\r\n", b".\r\nM ", b".\r\na\x00\xff"];
        for case in 0..20_000 {
            let alphabet = alphabets[case % alphabets.len()];
            let len = rng.random_range(0..48);
            let mut sent: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.random_range(0..8) == 0 {
                        rng.random()
                    } else {
                        alphabet[rng.random_range(0..alphabet.len())]
                    }
                })
                .collect();
            // The client's end of data, so that every case ends.
            sent.extend_from_slice(b"\r\n.\r\n");
            let mut stored = Vec::new();
            let mut bytes = sent.iter();
            assert!(DataReader::new().ingest(&mut bytes, &mut stored));
            assert!(is_canonical(&stored), "{sent:?} stored as {stored:?}");
            // A copy is the recipient's own headers, then the shared message: cut anywhere.
            let cut = rng.random_range(0..=stored.len());
            let payload = data_payload(&[&stored[..cut], &stored[cut..]], Transparency::Stuffed);
            // And should a part ever not be canonical (a decoration, a header of a copy),
            // the relay client still writes one unambiguous message.
            let raw = &sent[..len];
            let cut = rng.random_range(0..=raw.len());
            let uncanonical = data_payload(&[&raw[..cut], &raw[cut..]], Transparency::Stuffed);
            for reading in [Reading::Strict, Reading::BareLf, Reading::BareCrOrLf] {
                let (messages, left) = read_as(reading, &payload);
                assert_eq!(
                    (messages.as_slice(), left.as_slice()),
                    (&[stored.clone()][..], &b""[..]),
                    "{reading:?} of {sent:?}, stored as {stored:?}, relayed as {payload:?}"
                );
                let (messages, left) = read_as(reading, &uncanonical);
                assert_eq!(
                    (messages.as_slice(), left.as_slice()),
                    (&[with_crlf_lines(raw)][..], &b""[..]),
                    "{reading:?} of {raw:?} relayed as {uncanonical:?}"
                );
            }
        }
    }

    /// `bytes` with every line end (CRLF, bare CR, bare LF) a CRLF, the last line ended too.
    fn with_crlf_lines(bytes: &[u8]) -> Vec<u8> {
        let text = bytes.iter().map(|&b| b as char).collect::<String>();
        let mut out: Vec<u8> = text
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .replace('\n', "\r\n")
            .chars()
            .map(|c| c as u8)
            .collect();
        if !out.is_empty() && !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn only_the_header_section_decides_on_utf8_however_the_parts_are_cut() {
        let message = "Subject: plain\r\nFrom: a@example.org\r\n\r\nCafé\r\n".as_bytes();
        let utf8 = "Subject: Café\r\n\r\nplain\r\n".as_bytes();
        for cut in 0..=message.len() {
            assert!(
                !header_is_8bit(&[&message[..cut], &message[cut..]]),
                "{cut}"
            );
        }
        for cut in 0..=utf8.len() {
            assert!(header_is_8bit(&[
                b"X-Own: 1\r\n",
                &utf8[..cut],
                &utf8[cut..]
            ]));
        }
        // A body alone (no header at all) has nothing to announce.
        assert!(!header_is_8bit(&[b"\r\nCaf\xc3\xa9\r\n"]));
    }

    #[test]
    fn a_copy_we_refuse_to_send_is_not_taken_for_the_recipients_bounce() {
        for reason in [NO_8BITMIME, NO_SMTPUTF8] {
            assert!(
                crate::bounces::Failure::from_reply(reason).is_none(),
                "{reason}"
            );
        }
    }

    #[test]
    fn a_leading_dot_is_doubled_and_the_end_marked() {
        let payload = data_payload(&[b".hidden\r\nline\r\n..two"], Transparency::Stuffed);
        assert_eq!(payload, b"..hidden\r\nline\r\n...two\r\n.\r\n");
        let bare = data_payload(&[b"a\n.\nMAIL FROM:<x>\r.\r"], Transparency::Stuffed);
        assert_eq!(bare, b"a\r\n..\r\nMAIL FROM:<x>\r\n..\r\n.\r\n");
    }
}
