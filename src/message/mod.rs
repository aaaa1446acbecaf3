//! Editing a raw RFC 5322 message's header block while leaving its body
//! byte-for-byte intact (signatures and exotic encodings survive).

mod build;
mod decode;
mod raw;

pub use build::{address_field, header_field};
pub use decode::ContentType;
pub use raw::{Field, ParseError, RawMessage};

#[cfg(test)]
pub(crate) use build::base64;
