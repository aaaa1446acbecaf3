//! The `message/delivery-status` body of an RFC 3464 report: one block of per-message fields,
//! then one block per recipient, blocks separated by empty lines, fields written like mail
//! headers (with continuation lines). mail-parser hands this part over uninterpreted, so it
//! is read here; the reader never panics and never allocates more than its input's size,
//! whatever the input (see the fuzz test below).

use super::status::Status;

/// What a report says about one recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientReport {
    /// `Final-Recipient`, type prefix (`rfc822;`) removed.
    pub final_recipient: Option<String>,
    /// `Original-Recipient`, type prefix removed.
    pub original_recipient: Option<String>,
    /// Lowercase: `failed`, `delayed`, `delivered`, `relayed`, `expanded`.
    pub action: Option<String>,
    pub status: Option<Status>,
    /// `Diagnostic-Code`, type prefix (`smtp;`) removed: the remote server's own words.
    pub diagnostic: Option<String>,
}

impl RecipientReport {
    /// The address the sender used, which is the one a list knows.
    pub fn address(&self) -> Option<&str> {
        self.original_recipient
            .as_deref()
            .or(self.final_recipient.as_deref())
    }
}

/// Reads the per-recipient blocks; blocks without a recipient are skipped.
pub fn parse(body: &[u8]) -> Vec<RecipientReport> {
    let text = String::from_utf8_lossy(body);
    blocks(&text)
        .into_iter()
        .filter_map(|block| recipient(&block))
        .collect()
}

/// Field blocks, each a list of (lowercase name, unfolded value).
fn blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn recipient(block: &[(String, String)]) -> Option<RecipientReport> {
    let field = |name: &str| {
        block
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let report = RecipientReport {
        final_recipient: field("final-recipient").and_then(typed_address),
        original_recipient: field("original-recipient").and_then(typed_address),
        action: field("action").map(|a| {
            a.split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        }),
        status: field("status").and_then(Status::find),
        diagnostic: field("diagnostic-code").map(|d| without_type(d).to_string()),
    };
    (report.final_recipient.is_some() || report.original_recipient.is_some()).then_some(report)
}

/// `rfc822; user@example.org` → `user@example.org`; other address types are not mail
/// addresses a list could know.
fn typed_address(value: &str) -> Option<String> {
    let (kind, address) = value.split_once(';').unwrap_or(("rfc822", value));
    let kind = kind.trim().to_ascii_lowercase();
    if kind != "rfc822" && kind != "utf-8" {
        return None;
    }
    let address = address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    address.contains('@').then(|| address.to_string())
}

fn without_type(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest)) if !kind.contains(' ') => rest.trim(),
        _ => value.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Reporting-MTA: dns; mx.example.net\r\n\
Arrival-Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
\r\n\
Original-Recipient: rfc822;Ana@Example.org\r\n\
Final-Recipient: rfc822; ana@mail.example.org\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <ana@mail.example.org>: Recipient\r\n\
\x20address rejected: User unknown\r\n\
\r\n\
Final-Recipient: rfc822; bo@example.org\r\n\
Action: delayed\r\n\
Status: 4.4.7 (delivery time expired)\r\n";

    #[test]
    fn reads_each_recipient() {
        let reports = parse(REPORT.as_bytes());
        assert_eq!(reports.len(), 2);
        let ana = &reports[0];
        assert_eq!(ana.address(), Some("Ana@Example.org"));
        assert_eq!(ana.final_recipient.as_deref(), Some("ana@mail.example.org"));
        assert_eq!(ana.action.as_deref(), Some("failed"));
        assert_eq!(ana.status.map(|s| s.to_string()), Some("5.1.1".into()));
        assert_eq!(
            ana.diagnostic.as_deref(),
            Some("550 5.1.1 <ana@mail.example.org>: Recipient address rejected: User unknown")
        );
        let bo = &reports[1];
        assert_eq!(bo.action.as_deref(), Some("delayed"));
        assert_eq!(bo.status.map(|s| s.to_string()), Some("4.4.7".into()));
    }

    #[test]
    fn bare_line_feeds_and_odd_types() {
        let reports = parse(b"Final-Recipient: x400; c=US\nStatus: 5.0.0\n\nFinal-Recipient: <z@example.org>\nStatus: 5.2.2\n");
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].address(), Some("z@example.org"));
    }

    /// Deterministic mutation fuzzing: random slices, byte flips and splices of real reports
    /// must never panic. Bounded in count; runs in well under a second.
    #[test]
    fn fuzzed_input_never_panics() {
        let seeds: [&[u8]; 2] = [
            REPORT.as_bytes(),
            b"Final-Recipient: rfc822;a@b\n Status: 5.\xff.1\n\n\t:\n",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let seed = seeds[round % seeds.len()];
            let mut input = seed.to_vec();
            for _ in 0..(next() % 8) {
                let at = (next() as usize) % input.len().max(1);
                match next() % 4 {
                    0 if !input.is_empty() => input[at] = next() as u8,
                    1 => input.insert(at.min(input.len()), b"\n:; \t.5"[(next() % 7) as usize]),
                    2 if at < input.len() => {
                        input.truncate(at);
                    }
                    _ => input.extend_from_slice(&seed[..(next() as usize) % seed.len()]),
                }
            }
            let reports = parse(&input);
            assert!(reports.len() <= input.len());
        }
    }
}
