//! The SMTP client side: one long-lived connection to the configured relay.
//!
//! lettre's pooled transport never sets TCP_NODELAY, so every message waits ~40 ms on Nagle
//! and delayed ACKs, and it aborts a whole message on one refused recipient. This drives
//! lettre's connection API over our own socket instead, with TCP_NODELAY, and reads each
//! reply itself.

use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use lettre::Address;
use tokio::net::TcpStream;

use crate::config::{RelayConfig, TlsMode};

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
}

impl RelayClient {
    pub async fn connect(
        relay: &RelayConfig,
        hello_name: &str,
    ) -> Result<RelayClient, ConnectError> {
        let fail = |reason: String| ConnectError {
            host: relay.host.clone(),
            port: relay.port,
            reason,
        };
        let connect_timeout = Duration::from_secs(relay.connect_timeout_seconds);
        // The greeting, EHLO, STARTTLS and AUTH once the socket is open.
        let setup_timeout = connect_timeout + Duration::from_secs(relay.greeting_timeout_seconds);
        let hello = ClientId::Domain(hello_name.to_string());
        let tls = || TlsParameters::new(relay.host.clone()).map_err(|e| fail(e.to_string()));
        let connecting = async {
            let mut connection = match relay.tls {
                // Implicit TLS goes through lettre's own connector, which does not expose the
                // socket: these connections run without TCP_NODELAY.
                TlsMode::Tls => AsyncSmtpConnection::connect_tokio1(
                    (relay.host.as_str(), relay.port),
                    Some(connect_timeout),
                    &hello,
                    Some(tls()?),
                    None,
                )
                .await
                .map_err(|e| fail(e.to_string()))?,
                TlsMode::None | TlsMode::Starttls => {
                    let stream = tokio::time::timeout(
                        connect_timeout,
                        TcpStream::connect((relay.host.as_str(), relay.port)),
                    )
                    .await
                    .map_err(|_| {
                        fail(format!(
                            "no connection within {} s",
                            relay.connect_timeout_seconds
                        ))
                    })?
                    .map_err(|e| fail(e.to_string()))?;
                    stream.set_nodelay(true).map_err(|e| fail(e.to_string()))?;
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
                        .await
                        .map_err(|e| fail(e.to_string()))?
                }
            };
            if relay.tls == TlsMode::Starttls {
                connection
                    .starttls(tls()?, &hello)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
            if !relay.username.is_empty() {
                let credentials = Credentials::new(relay.username.clone(), relay.password.clone());
                connection
                    .auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            }
            Ok(connection)
        };
        let connection = tokio::time::timeout(setup_timeout, connecting)
            .await
            .map_err(|_| fail(format!("no greeting within {} s", setup_timeout.as_secs())))??;
        Ok(RelayClient {
            connection,
            timeouts: Timeouts {
                command: Duration::from_secs(relay.command_timeout_seconds),
                data_start: Duration::from_secs(relay.data_start_timeout_seconds),
                data_end: Duration::from_secs(relay.data_end_timeout_seconds),
            },
            broken: false,
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
        let Ok(from) = from.parse::<Address>() else {
            return all(SendResult::Permanent(format!(
                "invalid sender address {from:?}"
            )));
        };
        // lettre ends DATA with CRLF.CRLF itself: the message's own final CRLF must go, or
        // every copy would gain an empty last line.
        let Some((last, first)) = parts.split_last() else {
            return all(SendResult::Permanent("empty message".into()));
        };
        let last = last.strip_suffix(b"\r\n").unwrap_or(last);
        let mut parameters = Vec::new();
        if parts.iter().any(|part| !part.is_ascii()) {
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }

        let mail = timed(
            self.timeouts.command,
            self.connection.command(Mail::new(Some(from), parameters)),
        )
        .await;
        if let Some(failure) = self.failure(mail).await {
            return all(failure);
        }
        // Inner `None`: accepted at RCPT, waiting for the answer to DATA; outer `None`: no
        // room in this transaction.
        let mut results: Vec<Option<Option<SendResult>>> = vec![None; recipients.len()];
        let mut accepted = 0;
        for (slot, to) in results.iter_mut().zip(recipients) {
            let Ok(to) = to.parse::<Address>() else {
                *slot = Some(Some(SendResult::Permanent(format!(
                    "invalid address {to:?}"
                ))));
                continue;
            };
            let rcpt = timed(
                self.timeouts.command,
                self.connection.command(Rcpt::new(to, vec![])),
            )
            .await;
            if accepted > 0 && is_too_many_recipients(&rcpt) {
                break;
            }
            let failure = classify(rcpt);
            if let Some(SendResult::ConnectionLost(reason)) = failure {
                self.broken = true;
                return all(SendResult::ConnectionLost(reason));
            }
            accepted += usize::from(failure.is_none());
            *slot = Some(failure);
        }
        let outcome = if accepted > 0 {
            let data = match timed(self.timeouts.data_start, self.connection.command(Data)).await {
                Ok(Ok(_)) => {
                    let message = self.connection.message_iter(first.iter().chain([&last]));
                    timed(self.timeouts.data_end, message).await
                }
                refused => refused,
            };
            self.failure(data).await.unwrap_or(SendResult::Accepted)
        } else {
            // Every recipient was refused: close the transaction so the connection goes on.
            self.reset().await;
            SendResult::Accepted
        };
        // Over a lost connection, those not tried yet wait for the next attempt too.
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

    /// The failure a command's answer means, if any. A refused command leaves the
    /// transaction open, so it is reset; a lost connection is marked unusable.
    async fn failure(
        &mut self,
        answer: Result<Result<Response, lettre::transport::smtp::Error>, String>,
    ) -> Option<SendResult> {
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

/// A 452 to RCPT: the relay's limit of recipients per transaction (it is also the code of
/// "insufficient storage", which is why it only counts once some recipient was accepted).
fn is_too_many_recipients(
    answer: &Result<Result<Response, lettre::transport::smtp::Error>, String>,
) -> bool {
    match answer {
        Ok(Err(error)) => error.status().is_some_and(|code| code.to_string() == "452"),
        _ => false,
    }
}

/// What a command's answer means for the recipients it concerns; `None` for success.
fn classify(
    answer: Result<Result<Response, lettre::transport::smtp::Error>, String>,
) -> Option<SendResult> {
    match answer {
        Ok(Ok(_)) => None,
        Ok(Err(error)) if error.is_permanent() => Some(SendResult::Permanent(error.to_string())),
        Ok(Err(error)) if error.is_transient() => Some(SendResult::Temporary(error.to_string())),
        Ok(Err(error)) => Some(SendResult::ConnectionLost(error.to_string())),
        Err(timeout) => Some(SendResult::ConnectionLost(timeout)),
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
