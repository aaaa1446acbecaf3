//! SMTP/LMTP replies with RFC 3463 enhanced status codes.

use std::fmt;

use crate::links::Unroutable;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Enhanced status code (`5.1.1`), or empty where none applies (greeting, 354).
    pub status: &'static str,
    pub text: String,
}

impl Reply {
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Reply {
        Reply {
            code,
            status,
            text: text.into(),
        }
    }

    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// The reply as sent on the wire (the client reads it as text).
    pub fn as_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

/// A recipient that is none of our addresses: permanent, but for the postmaster address of a
/// daemon that has no list yet, which a reload may give one.
impl From<Unroutable> for Reply {
    fn from(unroutable: Unroutable) -> Reply {
        let status = match unroutable {
            Unroutable::NotAnAddress => "5.1.3",
            Unroutable::OtherDomain { .. } | Unroutable::Newsletter { .. } => "5.7.1",
            Unroutable::NoSuchList { .. } | Unroutable::Forged { .. } => "5.1.1",
            Unroutable::NoPostmaster => return Reply::new(451, "4.3.0", unroutable.to_string()),
        };
        Reply::new(550, status, unroutable.to_string())
    }
}

impl fmt::Display for Reply {
    /// One line, CRLF-terminated. Line breaks in the text (which may quote a header or an
    /// address) are flattened so that a reply can never be split into two.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: String = self
            .text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if self.status.is_empty() {
            write!(f, "{} {}\r\n", self.code, text)
        } else {
            write!(f, "{} {} {}\r\n", self.code, self.status, text)
        }
    }
}
