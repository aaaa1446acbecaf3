//! Email addresses as tidings stores and compares them.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("{0:?} is not an email address: expected local@domain")]
    Malformed(String),
    #[error("{0:?} is too long for an email address (254 characters at most)")]
    TooLong(String),
}

/// Validates a bare address (`local@domain`, no display name) and returns its stored form:
/// trimmed and lowercased. Local parts are case-sensitive in theory, but no mailbox provider
/// treats them so, and one member must not be two subscribers because of a capital letter.
pub fn normalize(address: &str) -> Result<String, AddressError> {
    let trimmed = address.trim().trim_start_matches('<').trim_end_matches('>');
    if trimmed.len() > 254 {
        return Err(AddressError::TooLong(trimmed.chars().take(40).collect()));
    }
    let malformed = || AddressError::Malformed(trimmed.to_string());
    let (local, domain) = trimmed.rsplit_once('@').ok_or_else(malformed)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !"<>()[]\\,;:@\"".contains(c));
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(trimmed.to_lowercase())
    } else {
        Err(malformed())
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn accepts_and_lowercases() {
        assert_eq!(
            normalize(" Ana.Silva@Example.ORG ").as_deref(),
            Ok("ana.silva@example.org")
        );
        assert_eq!(normalize("<a+b@x.example>").as_deref(), Ok("a+b@x.example"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "no-at",
            "@x.org",
            "a@",
            "a@b",
            "a b@x.org",
            "a@x..org",
            "a@-x.org",
            "a\r\n@x.org",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
    }
}
