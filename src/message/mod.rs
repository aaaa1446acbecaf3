//! Messages as bytes: building the ones tidings writes itself (header fields that cannot
//! be injected into, text parts, MIME structure), and editing a raw message's header block
//! while leaving its body byte-for-byte intact (signatures and exotic encodings survive).

mod build;
mod compose;
mod decode;
mod encode;
mod raw;

pub use build::{address_field, header_field};
pub use compose::{message_id, MessageBuilder, Part, TransferEncoding};
pub use decode::ContentType;
pub use encode::{encoded_link, UNSUBSCRIBE_PLACEHOLDER};
pub use raw::{Field, ParseError, RawMessage};

#[cfg(test)]
pub(crate) use build::base64;

/// The fields a list puts on what it sends (RFC 2369, RFC 2919, and RFC 8058's
/// List-Unsubscribe-Post): a list replaces any it receives, and DKIM signs them.
pub const LIST_FIELDS: [&str; 8] = [
    "List-Id",
    "List-Post",
    "List-Help",
    "List-Subscribe",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Owner",
    "List-Archive",
];
