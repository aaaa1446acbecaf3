//! `Authentication-Results` (RFC 8601) as written by a front MTA that checked the sender:
//! `mx.example.org; dkim=pass header.d=ngo.example; spf=pass smtp.mailfrom=ngo.example`.
//! mail-auth writes these headers but does not read them, hence this small reader. It keeps
//! only what authentication needs: the authserv-id and, per method, the result and the
//! properties that name a domain.

/// One `method=result` with its properties (`header.d`, `smtp.mailfrom`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// Lowercase, version dropped: `dkim`, `spf`, `dmarc`.
    pub method: String,
    /// Lowercase: `pass`, `fail`, `none`, ...
    pub result: String,
    /// Property names lowercased (`header.d`), values as written.
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationResults {
    /// Lowercase.
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// Reads one header value; `None` when it has no authserv-id.
pub fn parse(value: &str) -> Option<AuthenticationResults> {
    let text = without_comments(value);
    let mut statements = split_outside_quotes(&text, ';').into_iter();
    let authserv_id = statements
        .next()?
        .split_whitespace()
        .next()
        .filter(|id| !id.contains('='))?
        .to_ascii_lowercase();
    let results = statements.filter_map(|s| method_result(&s)).collect();
    Some(AuthenticationResults {
        authserv_id,
        results,
    })
}

fn method_result(statement: &str) -> Option<MethodResult> {
    let mut words = split_outside_quotes(statement, ' ')
        .into_iter()
        .filter(|word| !word.is_empty());
    let first = words.next()?;
    let (method, result) = first.split_once('=')?;
    let method = method.split('/').next()?.trim().to_ascii_lowercase();
    let properties = words
        .filter_map(|word| {
            let (key, value) = word.split_once('=')?;
            Some((key.to_ascii_lowercase(), unquote(value).to_string()))
        })
        .collect();
    Some(MethodResult {
        method,
        result: result.trim().to_ascii_lowercase(),
        properties,
    })
}

/// Drops RFC 5322 comments (nested parentheses, backslash escapes), keeping quoted strings.
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next();
                if depth == 0 {
                    out.push(c);
                    out.extend(next);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                out.push(' ');
            }
            _ if depth == 0 => out.push(if c.is_whitespace() { ' ' } else { c }),
            _ => {}
        }
    }
    out
}

/// Splits on `separator` where it is not inside a quoted string; pieces are trimmed, and
/// empty ones kept so that a missing authserv-id stays missing.
fn split_outside_quotes(text: &str, separator: char) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            pieces.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    pieces.push(current);
    pieces.into_iter().map(|p| p.trim().to_string()).collect()
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_id_methods_and_properties() {
        let results = parse(
            "MX.Example.org 1; dkim=pass (2048-bit key; unprotected) header.d=ngo.example \
             header.s=sel; spf=fail smtp.mailfrom=\"bob@other.example\"; dmarc/1=pass \
             reason=\"aligned; ok\" header.from=ngo.example",
        )
        .expect("parses");
        assert_eq!(results.authserv_id, "mx.example.org");
        assert_eq!(results.results.len(), 3);
        let dkim = &results.results[0];
        assert_eq!(
            (dkim.method.as_str(), dkim.result.as_str()),
            ("dkim", "pass")
        );
        assert_eq!(dkim.property("header.d"), Some("ngo.example"));
        assert_eq!(
            results.results[1].property("smtp.mailfrom"),
            Some("bob@other.example")
        );
        let dmarc = &results.results[2];
        assert_eq!(dmarc.method, "dmarc");
        assert_eq!(dmarc.property("reason"), Some("aligned; ok"));
    }

    #[test]
    fn none_and_garbage() {
        let none = parse("mx.example.org; none").expect("parses");
        assert!(none.results.is_empty());
        assert_eq!(parse("  ; dkim=pass"), None);
        assert_eq!(parse(""), None);
        let unbalanced = parse("mx (comment; dkim=pass header.d=x").expect("id survives");
        assert!(unbalanced.results.is_empty());
    }
}
