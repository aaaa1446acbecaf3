use super::*;

fn html(md: &str) -> String {
    to_html(md, Direction::Ltr)
}

fn text(md: &str) -> String {
    to_text(md, &mut LinkList::default()).0
}

#[test]
fn raw_html_is_shown_as_text() {
    let out = html("Hello <script>alert(1)</script> <b onclick=\"x()\">bold</b>\n\n<div>\n<iframe src=\"https://evil.example\"></iframe>\n</div>");
    assert!(!out.contains("<script"), "{out}");
    assert!(!out.contains("<b "), "{out}");
    assert!(!out.contains("<iframe"), "{out}");
    assert!(!out.contains("<div"), "{out}");
    assert!(
        out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{out}"
    );
    assert!(
        out.contains("&lt;iframe src=&quot;https://evil.example&quot;&gt;"),
        "{out}"
    );
}

#[test]
fn unsafe_link_schemes_are_dropped_and_their_text_kept() {
    for target in [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "&#106;avascript:alert(1)",
        "java&#9;script:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "/relative/path",
        "#anchor",
        "//evil.example/",
    ] {
        let out = html(&format!("[click here]({target})"));
        assert!(!out.contains("<a "), "{target}: {out}");
        assert!(out.contains("click here"), "{target}: {out}");
        let (plain, used) = to_text(&format!("[click here]({target})"), &mut LinkList::default());
        assert_eq!(plain, "click here", "{target}");
        assert!(used.is_empty());
    }
}

#[test]
fn safe_links_are_kept_and_escaped() {
    let out =
        html("[report](https://example.org/a?x=1&y=\"2\") and [write](mailto:info@example.org)");
    assert!(
        out.contains("<a href=\"https://example.org/a?x=1&amp;y=%222%22\"")
            || out.contains("<a href=\"https://example.org/a?x=1&amp;y=&quot;2&quot;\""),
        "{out}"
    );
    assert!(out.contains("<a href=\"mailto:info@example.org\""), "{out}");
    assert!(out.contains("style=\"color:#1d5fa8;"), "{out}");
}

#[test]
fn images_need_https_and_keep_their_alt_text() {
    let out = html("![Delegates at the session](https://example.org/p.jpg)");
    assert!(
        out.contains("<img src=\"https://example.org/p.jpg\" alt=\"Delegates at the session\""),
        "{out}"
    );
    assert!(out.contains("max-width:100%"), "{out}");
    let out = html("![Tracking pixel](http://example.org/p.gif) ![x](javascript:alert(1))");
    assert!(!out.contains("<img"), "{out}");
    assert!(out.contains("Tracking pixel"), "{out}");
    let out = html("![\"><script>x</script>](https://example.org/p.jpg)");
    assert!(!out.contains("<script"), "{out}");
}

#[test]
fn inline_styles_on_blocks() {
    let out = html(
        "# Heading\n\nPara with `code`.\n\n> quoted\n\n1. one\n2. two\n\n---\n\nline  \nbreak",
    );
    assert!(out.contains("<h3 style="), "{out}");
    assert!(out.contains("<p style="), "{out}");
    assert!(out.contains("<code style="), "{out}");
    assert!(
        out.contains("<blockquote style=\"margin:0 0 16px;padding:2px 0 2px 16px;border-left"),
        "{out}"
    );
    assert!(out.contains("<ol start=\"1\" style="), "{out}");
    assert!(out.contains("<hr style="), "{out}");
    assert!(out.contains("<br />"), "{out}");
    let rtl = to_html("> مقتبس", Direction::Rtl);
    assert!(rtl.contains("border-right:4px"), "{rtl}");
}

#[test]
fn text_lists_quotes_and_links() {
    let md = "Intro with a [report](https://example.org/report) and <https://example.org/raw>.\n\n\
              - first\n- second with [the same report](https://example.org/report)\n  - nested\n\n\
              1. one\n2. two\n\n> Quoted line one.\n>\n> Quoted line two.\n\n## A heading\n\nEnd **bold** _it_.";
    let mut links = LinkList::default();
    let (out, used) = to_text(md, &mut links);
    assert_eq!(
        out,
        "Intro with a report [1] and https://example.org/raw.\n\n\
         - first\n- second with the same report [1]\n  - nested\n\n\
         1. one\n2. two\n\n> Quoted line one.\n>\n> Quoted line two.\n\n\
         A heading\n---------\n\nEnd *bold* _it_."
    );
    assert_eq!(used, vec![1]);
    assert_eq!(links.url(1), Some("https://example.org/report"));
    assert_eq!(links.url(2), None);
}

#[test]
fn link_numbers_continue_across_items() {
    let mut links = LinkList::default();
    let (_, first) = to_text(
        "[a](https://a.example/) [b](https://b.example/)",
        &mut links,
    );
    let (second_text, second) = to_text(
        "[b again](https://b.example/) [c](https://c.example/)",
        &mut links,
    );
    assert_eq!(first, vec![1, 2]);
    assert_eq!(second, vec![2, 3]);
    assert_eq!(second_text, "b again [2] c [3]");
}

#[test]
fn raw_html_in_text_stays_as_typed() {
    assert_eq!(text("a <b>b</b>"), "a <b>b</b>");
}

#[test]
fn code_blocks_keep_their_lines() {
    assert_eq!(
        text("```\nlet a = 1;\n  let b = 2;\n```"),
        "    let a = 1;\n      let b = 2;"
    );
}

#[test]
fn wrap_keeps_hanging_indents_and_long_words() {
    let long = "word ".repeat(30);
    let wrapped = wrap(&format!("- {long}"), 20);
    for (i, line) in wrapped.lines().enumerate() {
        assert!(line.chars().count() <= 20, "{wrapped}");
        assert!(
            if i == 0 {
                line.starts_with("- word")
            } else {
                line.starts_with("  word")
            },
            "{wrapped}"
        );
    }
    let wrapped = wrap(&format!("> > {long}"), 20);
    assert!(
        wrapped.lines().all(|l| l.starts_with("> > word")),
        "{wrapped}"
    );
    let wrapped = wrap(&format!("12. {long}"), 20);
    assert!(
        wrapped.lines().skip(1).all(|l| l.starts_with("    word")),
        "{wrapped}"
    );
    let url = format!("https://example.org/{}", "x".repeat(80));
    let wrapped = wrap(&format!("[3] {url}"), 72);
    assert_eq!(wrapped, format!("[3] {url}"));
    let wrapped = wrap(&format!("see {url} now"), 72);
    assert_eq!(wrapped, format!("see\n{url}\nnow"));
    assert_eq!(wrap("short", 72), "short");
    let arabic = "كلمة ".repeat(30);
    assert!(wrap(&arabic, 72).lines().all(|l| l.chars().count() <= 72));
}

#[test]
fn safe_url_reads_schemes_strictly() {
    assert_eq!(
        safe_url(" https://example.org/ ", &LINK_SCHEMES),
        Some("https://example.org/")
    );
    assert_eq!(
        safe_url("HTTPS://example.org/", &LINK_SCHEMES),
        Some("HTTPS://example.org/")
    );
    assert_eq!(safe_url("https:", &LINK_SCHEMES), None);
    assert_eq!(safe_url("java\tscript:alert(1)", &LINK_SCHEMES), None);
    assert_eq!(safe_url("https://exa mple.org", &LINK_SCHEMES), None);
    assert_eq!(safe_url("http://example.org/", &IMAGE_SCHEMES), None);
}

#[test]
fn wrap_understands_arabic_indic_numbers() {
    let line = format!("  ١٢. {}", "كلمة ".repeat(30));
    let wrapped = wrap(&line, 40);
    assert!(
        wrapped.lines().skip(1).all(|l| l.starts_with("      كلمة")),
        "{wrapped}"
    );
}
