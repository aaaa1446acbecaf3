//! A message's HTML part as the archive shows it: cleaned by ammonia to an allow-list of
//! tags and attributes (no scripts, styles, forms, frames or event handlers), links that
//! open nothing of this site's and say `nofollow`, and no remote content: an image keeps
//! only a `data:` source, so that reading a message tells no one that it was read.

use std::borrow::Cow;
use std::collections::HashSet;

use super::parsed;

/// The message's HTML part, cleaned; `None` when it has none.
pub fn cleaned(raw: &[u8]) -> Option<String> {
    let html = parsed(raw, |message| {
        let part = message.html_part(0).filter(|part| part.is_text_html())?;
        part.text_contents().map(str::to_owned)
    })
    .flatten()?;
    Some(clean(&html))
}

/// `html` with everything but the allowed markup taken out.
pub fn clean(html: &str) -> String {
    ammonia::Builder::default()
        .url_schemes(HashSet::from(["http", "https", "mailto", "data"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(|element, attribute, value| {
            let data = value.trim_start().to_ascii_lowercase().starts_with("data:");
            match (element, attribute) {
                // Only images carried in the message itself; never a link to a data: URL.
                ("img", "src")
                    if !value
                        .trim_start()
                        .to_ascii_lowercase()
                        .starts_with("data:image/") =>
                {
                    None
                }
                (_, "href") if data => None,
                _ => Some(Cow::Borrowed(value)),
            }
        })
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_styles_and_remote_content_are_taken_out() {
        let cleaned = clean(
            "<p style=\"color:red\" onclick=\"x()\">Hello <b>all</b></p>\
             <script>alert(1)</script><style>p{}</style>\
             <img src=\"https://tracker.example/p.gif\" alt=\"pixel\">\
             <img src=\"data:image/png;base64,iVBO\" alt=\"inline\">\
             <a href=\"https://ngo.example/report\">report</a>\
             <a href=\"data:text/html,<script>x</script>\">bad</a>\
             <a href=\"javascript:alert(1)\">worse</a><iframe src=\"https://x.example\"></iframe>",
        );
        assert!(cleaned.contains("<p>Hello <b>all</b></p>"), "{cleaned}");
        for gone in [
            "script",
            "style",
            "onclick",
            "tracker.example",
            "javascript",
            "iframe",
            "data:text",
        ] {
            assert!(!cleaned.contains(gone), "{gone} in {cleaned}");
        }
        assert!(
            cleaned.contains("src=\"data:image/png;base64,iVBO\""),
            "{cleaned}"
        );
        assert!(
            cleaned.contains("rel=\"noopener noreferrer nofollow\""),
            "{cleaned}"
        );
    }
}
