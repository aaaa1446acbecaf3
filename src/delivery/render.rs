//! Each recipient's own copy: the decorated message is shared, and only a few header lines
//! and the envelope sender differ per recipient, so nothing is re-parsed or re-encoded.

use crate::config::Config;
use crate::inbound::routing::verp_address;
use crate::store::ClaimedDelivery;
use crate::tokens::{Purpose, Signer};

pub struct Personalised {
    /// `LIST-bounces+TOKEN@domain`: a bounce names the delivery it is about.
    pub envelope_from: String,
    /// Header lines placed before the shared message.
    pub headers: Vec<u8>,
}

pub fn personalise(delivery: &ClaimedDelivery, config: &Config, signer: &Signer) -> Personalised {
    let domain = &config.server.domain;
    let list = &delivery.list_name;
    let envelope_from = verp_address(list, delivery.id, domain, signer);
    let mut headers = Vec::new();
    if let Some(member_id) = delivery.member_id {
        let token = signer.sign(Purpose::Unsubscribe, list, &[member_id as u64]);
        let url = unsubscribe_url(&config.server.base_url, list, &token);
        // RFC 2369 and RFC 8058: a mailto for mail clients, an https URL for one-click.
        headers.extend_from_slice(
            format!(
                "List-Unsubscribe: <mailto:{list}-leave+{token}@{domain}?subject=unsubscribe>,\r\n <{url}>\r\n\
                 List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            )
            .as_bytes(),
        );
    }
    Personalised {
        envelope_from,
        headers,
    }
}

/// The one-click unsubscribe URL of a member's token.
pub fn unsubscribe_url(base_url: &str, list: &str, token: &str) -> String {
    format!(
        "{}/unsubscribe/{list}/{token}",
        base_url.trim_end_matches('/')
    )
}
