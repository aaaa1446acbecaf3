//! Each recipient's own copy: the decorated message is shared, and only a few header lines
//! and the envelope sender differ per recipient, so nothing is re-parsed or re-encoded.

use crate::config::Config;
use crate::message::{encoded_link, UNSUBSCRIBE_PLACEHOLDER};
use crate::store::{ClaimedDelivery, Copies};
use crate::tokens::Signer;

pub struct Personalised {
    /// `LIST-bounces+TOKEN@domain`: a bounce names the delivery it is about.
    pub envelope_from: String,
    /// Header lines placed before the shared message.
    pub headers: Vec<u8>,
    /// For a message whose copies carry personal links (an edition): the recipient's
    /// unsubscribe link, encoded to take the place of the placeholder in the body.
    pub body_link: Option<String>,
}

pub fn personalise(delivery: &ClaimedDelivery, config: &Config, signer: &Signer) -> Personalised {
    let links = config.links(signer);
    let list = &delivery.list_name;
    let envelope_from = links.verp(list, delivery.id);
    let mut headers = Vec::new();
    let mut body_link = None;
    if let Some(member_id) = delivery.member_id {
        let unsubscribe = links.unsubscribe(list, member_id);
        // RFC 2369 and RFC 8058: a mailto for mail clients, an https URL for one-click.
        headers.extend_from_slice(
            format!(
                "List-Unsubscribe: <mailto:{}?subject=unsubscribe>,\r\n <{}>\r\n\
                 List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                unsubscribe.address, unsubscribe.url
            )
            .as_bytes(),
        );
        if delivery.copies == Copies::PersonalLinks {
            body_link = Some(encoded_link(&unsubscribe.url));
        }
    }
    Personalised {
        envelope_from,
        headers,
        body_link,
    }
}

impl Personalised {
    /// The recipient's copy: their headers, then the shared message, with their link in
    /// place of every unsubscribe placeholder of an edition.
    pub fn parts<'a>(&'a self, message: &'a [u8]) -> Vec<&'a [u8]> {
        let mut parts: Vec<&[u8]> = vec![&self.headers];
        let Some(link) = &self.body_link else {
            parts.push(message);
            return parts;
        };
        let placeholder = UNSUBSCRIBE_PLACEHOLDER.as_bytes();
        let mut rest = message;
        while let Some(at) = memchr::memmem::find(rest, placeholder) {
            parts.push(&rest[..at]);
            parts.push(link.as_bytes());
            rest = &rest[at + placeholder.len()..];
        }
        parts.push(rest);
        parts
    }
}
