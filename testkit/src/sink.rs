//! A loopback SMTP receiver for `tidings-bench` and the test suite: it runs on the same
//! session engine as the daemon, records (or just counts) what it is given, and answers
//! RCPT as scripted, so tests can play a relay that defers or refuses.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use tidings::inbound::{
    DataBudget, Envelope, Extensions, Limits, MailHandler, Protocol, Reply, Server,
};

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    /// MAIL FROM said SMTPUTF8.
    pub smtputf8: bool,
    /// MAIL FROM said BODY=8BITMIME.
    pub eight_bit_mime: bool,
    pub recipients: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Recorder {
    keep_messages: bool,
    /// Milliseconds taken over each message, to make a fan-out last long enough to be
    /// interrupted, or a relay slower than the client's patience.
    delay_ms: AtomicU64,
    messages: Mutex<Vec<Received>>,
    /// Replies to give, in turn, to RCPT of an address; when none is left, 250.
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// Recipients taken in one transaction before answering 452 (0: no limit of its own).
    recipient_limit: AtomicUsize,
    count: AtomicU64,
    bytes: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide what the sink recorded.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MailHandler for Recorder {
    async fn check_recipient(&self, envelope: &Envelope, recipient: &str) -> Result<(), Reply> {
        let limit = self.recipient_limit.load(Ordering::Relaxed);
        if limit > 0 && envelope.recipients.len() >= limit {
            return Err(Reply::new(452, "4.5.3", "too many recipients"));
        }
        let scripted = lock(&self.script)
            .get_mut(&recipient.to_ascii_lowercase())
            .and_then(VecDeque::pop_front);
        match scripted {
            Some(reply) if !reply.is_positive() => Err(reply),
            _ => Ok(()),
        }
    }

    async fn take_message(&self, envelope: &Envelope, message: Vec<u8>) -> Vec<Reply> {
        let delay = self.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        self.bytes
            .fetch_add(message.len() as u64, Ordering::Relaxed);
        if self.keep_messages {
            lock(&self.messages).push(Received {
                mail_from: envelope.mail_from.clone(),
                smtputf8: envelope.smtputf8,
                eight_bit_mime: envelope.eight_bit_mime,
                recipients: envelope.recipients.clone(),
                data: message,
            });
        }
        self.count.fetch_add(1, Ordering::Release);
        vec![Reply::new(250, "2.0.0", "OK")]
    }
}

/// A running sink; it stops when dropped.
pub struct Sink {
    pub addr: SocketAddr,
    recorder: Arc<Recorder>,
    _stop: watch::Sender<bool>,
}

impl Sink {
    /// Starts a sink on an ephemeral loopback port. `keep_messages: false` only counts, so
    /// that a benchmark's memory stays flat.
    pub async fn start(keep_messages: bool) -> std::io::Result<Sink> {
        Sink::launch(keep_messages, Duration::ZERO, Extensions::ALL).await
    }

    /// Like [`Sink::start`], taking `delay` over every message.
    pub async fn start_slow(keep_messages: bool, delay: Duration) -> std::io::Result<Sink> {
        Sink::launch(keep_messages, delay, Extensions::ALL).await
    }

    /// Like [`Sink::start`], offering only `extensions`: a relay without PIPELINING,
    /// 8BITMIME or SMTPUTF8. It refuses the MAIL parameters of those it does not offer.
    pub async fn start_offering(
        keep_messages: bool,
        extensions: Extensions,
    ) -> std::io::Result<Sink> {
        Sink::launch(keep_messages, Duration::ZERO, extensions).await
    }

    async fn launch(
        keep_messages: bool,
        delay: Duration,
        extensions: Extensions,
    ) -> std::io::Result<Sink> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let recorder = Arc::new(Recorder {
            keep_messages,
            delay_ms: AtomicU64::new(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
            ..Recorder::default()
        });
        let server = Arc::new(Server {
            protocol: Protocol::Smtp,
            hostname: "sink.localhost".into(),
            limits: Limits {
                max_message_size: 64 * 1024 * 1024,
                max_line_length: 1 << 20,
                max_recipients: 1000,
                max_connections: 1000,
                max_connections_per_ip: None,
                idle_timeout: Duration::from_secs(300),
                session_timeout: Duration::from_secs(3600),
                min_data_rate: 1,
            },
            extensions,
            handler: Arc::clone(&recorder),
            budget: Arc::new(DataBudget::new(1 << 30)),
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(server.serve(listener, stopped, drop));
        Ok(Sink {
            addr,
            recorder,
            _stop: stop,
        })
    }

    /// Makes the next RCPTs of `address` get these replies, in order.
    pub fn script(&self, address: &str, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.recorder.script)
            .entry(address.to_ascii_lowercase())
            .or_default()
            .extend(replies);
    }

    /// Makes the sink take `delay` over every message from now on.
    pub fn slow_down(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.recorder.delay_ms.store(ms, Ordering::Relaxed);
    }

    /// Makes every transaction take `limit` recipients at most, answering 452 to the next.
    pub fn limit_recipients(&self, limit: usize) {
        self.recorder
            .recipient_limit
            .store(limit, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.recorder.count.load(Ordering::Acquire)
    }

    pub fn bytes(&self) -> u64 {
        self.recorder.bytes.load(Ordering::Relaxed)
    }

    pub fn messages(&self) -> Vec<Received> {
        lock(&self.recorder.messages).clone()
    }

    /// Waits until at least `count` messages arrived, or `limit` passed; returns the count.
    pub async fn wait_for(&self, count: u64, limit: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + limit;
        while self.count() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.count()
    }
}
