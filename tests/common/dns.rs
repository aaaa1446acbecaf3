//! A DNS server on loopback UDP that answers TXT questions from records the test provides
//! (DKIM keys, SPF and DMARC policies) and NXDOMAIN for everything else, counting the
//! questions it gets. `silent()` is one that never answers: the offline machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use mail_auth::hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use mail_auth::hickory_resolver::proto::rr::rdata::TXT;
use mail_auth::hickory_resolver::proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;

/// Seconds the answers may be cached.
const TTL: u32 = 300;

#[derive(Default)]
struct Zone {
    txt: HashMap<String, Vec<String>>,
    questions: Vec<String>,
}

pub struct DnsServer {
    pub addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsServer {
    pub async fn start() -> DnsServer {
        DnsServer::bind(true).await
    }

    /// Takes questions and never answers them.
    pub async fn silent() -> DnsServer {
        DnsServer::bind(false).await
    }

    async fn bind(answers: bool) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind dns");
        let addr = socket.local_addr().expect("dns addr");
        let zone = Arc::new(Mutex::new(Zone::default()));
        let task = tokio::spawn(serve(socket, Arc::clone(&zone), answers));
        DnsServer { addr, zone, task }
    }

    /// Publishes a TXT record; a name may have several.
    pub fn txt(&self, name: &str, value: &str) {
        let mut zone = self.zone.lock().expect("zone");
        zone.txt
            .entry(fqdn(name))
            .or_default()
            .push(value.to_string());
    }

    /// How many questions were asked about `name`.
    pub fn questions_about(&self, name: &str) -> usize {
        let name = fqdn(name);
        let zone = self.zone.lock().expect("zone");
        zone.questions.iter().filter(|q| **q == name).count()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

async fn serve(socket: UdpSocket, zone: Arc<Mutex<Zone>>, answers: bool) {
    let mut buffer = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buffer).await else {
            return;
        };
        let Ok(query) = Message::from_vec(&buffer[..len]) else {
            continue;
        };
        let reply = answer(&query, &zone);
        if answers {
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    }
}

fn answer(query: &Message, zone: &Mutex<Zone>) -> Message {
    let mut reply = Message::response(query.metadata.id, OpCode::Query);
    reply.metadata.message_type = MessageType::Response;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    let mut zone = zone.lock().expect("zone");
    let mut found = false;
    for question in &query.queries {
        let name = question.name().to_ascii().to_ascii_lowercase();
        zone.questions.push(name.clone());
        reply.add_query(question.clone());
        let records = zone.txt.get(&name).cloned().unwrap_or_default();
        found |= !records.is_empty();
        if question.query_type() != RecordType::TXT {
            continue;
        }
        for value in records {
            let chunks = value
                .as_bytes()
                .chunks(255)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            reply.add_answer(Record::from_rdata(
                question.name().clone(),
                TTL,
                RData::TXT(TXT::new(chunks)),
            ));
        }
    }
    if !found {
        reply.metadata.response_code = ResponseCode::NXDomain;
    }
    reply
}
