//! `Authentication-Results` headers are believed by whoever reads them (our members' mail
//! programs included), so only those written by a front MTA the operator trusts are passed
//! on; any other could be the sender's own claim to be authenticated (RFC 8601 §5).

use crate::authentication::results;
use crate::message::RawMessage;

pub(super) fn apply(msg: &mut RawMessage, trusted_authserv_ids: &[String]) {
    msg.remove_if(|field| {
        field.is("Authentication-Results")
            && !results::parse(&field.value()).is_some_and(|r| {
                trusted_authserv_ids
                    .iter()
                    .any(|id| id.eq_ignore_ascii_case(&r.authserv_id))
            })
    });
}
