//! Mail coming in: SMTP and LMTP listeners ([`session`]), which refuse every recipient that
//! is none of our addresses ([`crate::links::Links::route`]), and what the daemon does with a
//! message once it has it ([`accept`]).

pub mod accept;
pub mod data;
pub mod extensions;
pub mod reply;
pub mod session;

pub use extensions::Extensions;
pub use reply::Reply;
pub use session::{DataBudget, Envelope, Limits, MailHandler, Protocol, Server};
