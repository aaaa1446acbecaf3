//! Mail coming in: SMTP and LMTP listeners ([`session`]), which of our addresses a recipient
//! is ([`routing`]), and what the daemon does with a message once it has it ([`accept`]).

pub mod accept;
pub mod data;
pub mod extensions;
pub mod reply;
pub mod routing;
pub mod session;

pub use extensions::Extensions;
pub use reply::Reply;
pub use session::{DataBudget, Envelope, Limits, MailHandler, Protocol, Server};
