//! Editors' items are Markdown (CommonMark with ~~strikethrough~~), rendered twice: as HTML
//! for the HTML part and the web page, and as plain text for the text part.
//!
//! Both renderers walk pulldown-cmark's events themselves instead of using its HTML writer:
//! the HTML must carry inline styles (many mail clients drop `<style>`), and neither output
//! may contain anything an item's author did not mean as text. So:
//!
//! - raw HTML in an item is shown as text, escaped, never passed through;
//! - a link keeps its target only when it is absolute with a scheme in [`LINK_SCHEMES`]
//!   (an email has no base URL, and `javascript:`, `data:`, `vbscript:`... run or smuggle
//!   content); otherwise its text stays and the link goes;
//! - an image is shown only from `https:` (no mixed content on the web page, nothing sent
//!   in clear), with its alt text; otherwise its alt text stands in for it.

use pulldown_cmark::{Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

use crate::templating::push_escaped_html;

/// Schemes a link in an item may use.
pub const LINK_SCHEMES: [&str; 3] = ["https", "http", "mailto"];

/// Schemes an image in an item may be loaded from.
pub const IMAGE_SCHEMES: [&str; 1] = ["https"];

/// The one colour the item HTML sets itself: link blue, readable on white and, inverted by a
/// dark-mode client, on black; the `tt-link` class lets the edition's dark-mode style adjust it.
const LINK_STYLE: &str = "color:#1d5fa8;text-decoration:underline;";
const P_STYLE: &str = "margin:0 0 16px;font-size:16px;line-height:25px;";
const LIST_STYLE: &str = "margin:0 0 16px;font-size:16px;line-height:25px;";
const LI_STYLE: &str = "margin:0 0 6px;";
const CODE_STYLE: &str = "font-family:Consolas,Menlo,'Courier New',monospace;font-size:14px;background-color:#eef1f4;padding:1px 4px;";
const PRE_STYLE: &str = "margin:0 0 16px;padding:12px 14px;background-color:#eef1f4;font-family:Consolas,Menlo,'Courier New',monospace;font-size:14px;line-height:20px;white-space:pre-wrap;word-wrap:break-word;";
const HR_STYLE: &str = "border:0;border-top:1px solid #d5dde6;margin:20px 0;";
const IMG_STYLE: &str = "display:block;max-width:100%;height:auto;border:0;margin:0 0 16px;";

/// Which way the text runs; decides the side of a quotation's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ltr,
    Rtl,
}

impl Direction {
    /// The way `language` is written.
    pub fn of(language: &str) -> Direction {
        if crate::templating::RTL_LANGUAGES.contains(&language) {
            Direction::Rtl
        } else {
            Direction::Ltr
        }
    }
}

fn parser(markdown: &str) -> Parser<'_> {
    Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH)
}

/// The target of a link if its scheme is one of `allowed`. Only absolute URLs qualify;
/// anything whose scheme cannot be read plainly (`java\tscript:`, `&#106;avascript:` once
/// decoded...) is refused rather than guessed at, as browsers would strip and run it.
pub fn safe_url<'u>(url: &'u str, allowed: &[&str]) -> Option<&'u str> {
    let url = url.trim();
    let (scheme, rest) = url.split_once(':')?;
    let plain = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let allowed = allowed.iter().any(|a| a.eq_ignore_ascii_case(scheme));
    let clean = !url.chars().any(|c| c.is_control() || c.is_whitespace());
    (plain && allowed && clean && !rest.is_empty()).then_some(url)
}

/// An item's body as HTML with inline styles, XHTML-style (`<br />`) so that it stays
/// well-formed XML inside the edition.
pub fn to_html(markdown: &str, direction: Direction) -> String {
    let mut writer = HtmlWriter {
        out: String::with_capacity(markdown.len() * 3 / 2),
        image: None,
        links: Vec::new(),
        quote_style: match direction {
            Direction::Ltr => {
                "margin:0 0 16px;padding:2px 0 2px 16px;border-left:4px solid #c9d3de;color:#4b5563;"
            }
            Direction::Rtl => {
                "margin:0 0 16px;padding:2px 16px 2px 0;border-right:4px solid #c9d3de;color:#4b5563;"
            }
        },
    };
    for event in parser(markdown) {
        writer.event(event);
    }
    writer.out
}

/// The HTML of an item as its events come.
struct HtmlWriter {
    out: String,
    /// Alt text being collected for an open image, and its checked source.
    image: Option<(Option<String>, String)>,
    /// Whether each open link kept its target (so its end tag is written or not).
    links: Vec<bool>,
    quote_style: &'static str,
}

impl HtmlWriter {
    fn event(&mut self, event: Event) {
        if let Some((_, alt)) = self.image.as_mut() {
            match event {
                Event::End(TagEnd::Image) => {
                    let (src, alt) = self.image.take().unwrap_or_default();
                    write_image(src.as_deref(), &alt, &mut self.out);
                }
                Event::Text(text) | Event::Code(text) => alt.push_str(&text),
                Event::SoftBreak | Event::HardBreak => alt.push(' '),
                _ => {}
            }
            return;
        }
        let out = &mut self.out;
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) | Event::Html(text) | Event::InlineHtml(text) => {
                push_escaped_html(&text, out);
            }
            Event::Code(text) => {
                out.push_str(&format!("<code style=\"{CODE_STYLE}\">"));
                push_escaped_html(&text, out);
                out.push_str("</code>");
            }
            Event::SoftBreak => out.push('\n'),
            Event::HardBreak => out.push_str("<br />\n"),
            Event::Rule => out.push_str(&format!("<hr style=\"{HR_STYLE}\" />\n")),
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag) {
        let out = &mut self.out;
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => open(out, "p", P_STYLE),
            Tag::Heading { level, .. } => {
                let (name, style) = heading(level);
                open(out, name, style);
            }
            Tag::BlockQuote(_) => open(out, "blockquote", self.quote_style),
            Tag::CodeBlock(_) => {
                open(out, "pre", PRE_STYLE);
                out.push_str("<code>");
            }
            Tag::List(Some(start)) => {
                out.push_str(&format!("<ol start=\"{start}\" style=\"{LIST_STYLE}\">"));
            }
            Tag::List(None) => open(out, "ul", LIST_STYLE),
            Tag::Item => open(out, "li", LI_STYLE),
            Tag::Emphasis => out.push_str("<em>"),
            Tag::Strong => out.push_str("<strong>"),
            Tag::Strikethrough => out.push_str("<s>"),
            Tag::Link { dest_url, .. } => {
                let kept = safe_url(&dest_url, &LINK_SCHEMES);
                if let Some(url) = kept {
                    out.push_str("<a href=\"");
                    push_escaped_html(url, out);
                    out.push_str(&format!("\" class=\"tt-link\" style=\"{LINK_STYLE}\">"));
                }
                self.links.push(kept.is_some());
            }
            Tag::Image { dest_url, .. } => {
                let src = safe_url(&dest_url, &IMAGE_SCHEMES).map(str::to_owned);
                self.image = Some((src, String::new()));
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        let out = &mut self.out;
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => out.push_str("</p>\n"),
            TagEnd::Heading(level) => {
                out.push_str(&format!("</{}>\n", heading(level).0));
            }
            TagEnd::BlockQuote(_) => out.push_str("</blockquote>\n"),
            TagEnd::CodeBlock => out.push_str("</code></pre>\n"),
            TagEnd::List(true) => out.push_str("</ol>\n"),
            TagEnd::List(false) => out.push_str("</ul>\n"),
            TagEnd::Item => out.push_str("</li>\n"),
            TagEnd::Emphasis => out.push_str("</em>"),
            TagEnd::Strong => out.push_str("</strong>"),
            TagEnd::Strikethrough => out.push_str("</s>"),
            TagEnd::Link if self.links.pop() == Some(true) => out.push_str("</a>"),
            _ => {}
        }
    }
}

fn open(out: &mut String, name: &str, style: &str) {
    out.push_str(&format!("<{name} style=\"{style}\">"));
}

/// Headings inside an item sit below the item's own title (an `h2` in the edition).
fn heading(level: HeadingLevel) -> (&'static str, &'static str) {
    match level {
        HeadingLevel::H1 => ("h3", "margin:24px 0 10px;font-size:19px;line-height:25px;"),
        HeadingLevel::H2 => ("h4", "margin:20px 0 8px;font-size:17px;line-height:23px;"),
        _ => ("h5", "margin:18px 0 6px;font-size:16px;line-height:22px;"),
    }
}

fn write_image(src: Option<&str>, alt: &str, out: &mut String) {
    match src {
        Some(src) => {
            out.push_str("<img src=\"");
            push_escaped_html(src, out);
            out.push_str("\" alt=\"");
            push_escaped_html(alt, out);
            out.push_str(&format!("\" width=\"536\" style=\"{IMG_STYLE}\" />"));
        }
        None => push_escaped_html(alt, out),
    }
}

/// The links an edition's text part lists, numbered across the whole edition so that a
/// reader can follow `[3]` anywhere. A URL used twice keeps its first number.
#[derive(Debug, Default)]
pub struct LinkList {
    urls: Vec<String>,
}

impl LinkList {
    fn number(&mut self, url: &str) -> usize {
        match self.urls.iter().position(|u| u == url) {
            Some(index) => index + 1,
            None => {
                self.urls.push(url.to_owned());
                self.urls.len()
            }
        }
    }

    pub fn url(&self, number: usize) -> Option<&str> {
        self.urls.get(number.checked_sub(1)?).map(String::as_str)
    }
}

/// An item's body as plain text: one line per paragraph (the edition wraps them, see
/// [`wrap`]), `- ` and `1. ` for lists, `> ` for quotations, `*strong*` and `_emphasis_`,
/// and `text [n]` for a link, whose number comes from `links`. Returns the text and the
/// numbers of the links it refers to, in order of first use.
pub fn to_text(markdown: &str, links: &mut LinkList) -> (String, Vec<usize>) {
    let mut renderer = TextRenderer {
        text: TextWriter::default(),
        links,
        used: Vec::new(),
        open_links: Vec::new(),
        lists: Vec::new(),
        in_image: false,
        in_code_block: false,
    };
    for event in parser(markdown) {
        renderer.event(event);
    }
    renderer.text.end_block();
    (renderer.text.finish(), renderer.used)
}

/// The text of an item as its events come.
struct TextRenderer<'l> {
    text: TextWriter,
    links: &'l mut LinkList,
    /// The numbers of the links the item refers to, in order of first use.
    used: Vec<usize>,
    /// For each open link: its number, or None when the link shows no reference.
    open_links: Vec<Option<usize>>,
    /// Open lists: the next number of an ordered one, None for bullets.
    lists: Vec<Option<u64>>,
    in_image: bool,
    in_code_block: bool,
}

impl TextRenderer<'_> {
    fn event(&mut self, event: Event) {
        let text = &mut self.text;
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) if self.in_code_block => {
                for piece in t.split_inclusive('\n') {
                    match piece.strip_suffix('\n') {
                        Some(line) => {
                            text.push(line);
                            text.end_block_keep_prefix();
                        }
                        None => text.push(piece),
                    }
                }
            }
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                text.push(&t.replace('\n', " "));
            }
            Event::SoftBreak => text.push(" "),
            Event::HardBreak if !self.in_image => text.end_block_keep_prefix(),
            Event::HardBreak => text.push(" "),
            Event::Rule => {
                text.block();
                text.line("* * *".to_owned());
            }
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag) {
        let text = &mut self.text;
        match tag {
            Tag::Paragraph | Tag::HtmlBlock | Tag::Heading { .. } => text.block(),
            Tag::BlockQuote(_) => {
                text.block();
                text.prefixes.push(Prefix::quote());
            }
            Tag::CodeBlock(_) => {
                text.block();
                self.in_code_block = true;
                text.prefixes.push(Prefix::indent(4));
            }
            Tag::List(start) => {
                // A nested list follows its item's text without a blank line.
                if self.lists.is_empty() {
                    text.block();
                } else {
                    text.end_block();
                }
                self.lists.push(start);
            }
            Tag::Item => self.item(),
            Tag::Emphasis => text.push("_"),
            Tag::Strong => text.push("*"),
            Tag::Strikethrough => text.push("~"),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => self.link(link_type, &dest_url),
            Tag::Image { .. } => {
                self.in_image = true;
                text.push("[");
            }
            _ => {}
        }
    }

    /// Items of a tight list follow each other; a loose list's paragraphs bring their own
    /// blank lines.
    fn item(&mut self) {
        self.text.end_block();
        let marker = match self.lists.last_mut() {
            Some(Some(n)) => {
                *n += 1;
                format!("{}. ", *n - 1)
            }
            _ => "- ".to_owned(),
        };
        self.text.prefixes.push(Prefix::marker(marker));
    }

    /// A link shows its number unless its text is its target already, or the target is
    /// not one readers may follow.
    fn link(&mut self, link_type: LinkType, dest_url: &str) {
        let shown_as_is = matches!(link_type, LinkType::Autolink | LinkType::Email);
        let number = safe_url(dest_url, &LINK_SCHEMES)
            .filter(|_| !shown_as_is)
            .map(|url| self.links.number(url));
        if let Some(n) = number {
            if !self.used.contains(&n) {
                self.used.push(n);
            }
        }
        self.open_links.push(number);
    }

    fn end(&mut self, tag: TagEnd) {
        let text = &mut self.text;
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => text.end_block(),
            TagEnd::Heading(_) => {
                let width = text.current.chars().count();
                text.end_block();
                text.line("-".repeat(width.min(WIDTH)));
            }
            TagEnd::BlockQuote(_) | TagEnd::Item => {
                text.end_block();
                text.prefixes.pop();
            }
            TagEnd::CodeBlock => {
                text.end_block();
                text.prefixes.pop();
                self.in_code_block = false;
            }
            TagEnd::List(_) => {
                text.end_block();
                self.lists.pop();
            }
            TagEnd::Emphasis => text.push("_"),
            TagEnd::Strong => text.push("*"),
            TagEnd::Strikethrough => text.push("~"),
            TagEnd::Link => {
                if let Some(Some(n)) = self.open_links.pop() {
                    text.push(&format!(" [{n}]"));
                }
            }
            TagEnd::Image => {
                self.in_image = false;
                text.push("]");
            }
            _ => {}
        }
    }
}

/// What starts the lines of a block: a quotation's `> ` on every line, a list marker on
/// the first line and its width in spaces on the following ones.
#[derive(Debug, Clone)]
struct Prefix {
    first: String,
    rest: String,
    used: bool,
}

impl Prefix {
    fn quote() -> Prefix {
        Prefix {
            first: "> ".into(),
            rest: "> ".into(),
            used: false,
        }
    }
    fn indent(width: usize) -> Prefix {
        Prefix {
            first: " ".repeat(width),
            rest: " ".repeat(width),
            used: false,
        }
    }
    fn marker(marker: String) -> Prefix {
        let rest = " ".repeat(marker.chars().count());
        Prefix {
            first: marker,
            rest,
            used: false,
        }
    }
}

#[derive(Debug, Default)]
struct TextWriter {
    lines: Vec<String>,
    current: String,
    prefixes: Vec<Prefix>,
    /// A blank line is due before the next block.
    gap: bool,
}

impl TextWriter {
    /// Starts a block: ends the open one, and asks for a blank line before the next.
    fn block(&mut self) {
        self.end_block();
        if !self.lines.is_empty() {
            self.gap = true;
        }
    }

    fn push(&mut self, s: &str) {
        self.current.push_str(s);
    }

    /// Ends the open line, if any, with the prefixes in force.
    fn end_block(&mut self) {
        if !self.current.trim().is_empty() {
            let line = std::mem::take(&mut self.current);
            self.line(line.trim().to_owned());
        }
        self.current.clear();
    }

    /// A hard break: the next line continues the same block.
    fn end_block_keep_prefix(&mut self) {
        let line = std::mem::take(&mut self.current);
        self.line(line.trim_end().to_owned());
    }

    fn line(&mut self, content: String) {
        if self.gap {
            self.lines.push(self.blank_line());
            self.gap = false;
        }
        let mut line = String::new();
        for prefix in &mut self.prefixes {
            line.push_str(if prefix.used {
                &prefix.rest
            } else {
                &prefix.first
            });
            prefix.used = true;
        }
        line.push_str(&content);
        self.lines.push(line);
    }

    /// The blank line between two blocks inside a quotation still carries its `>`; the one
    /// before a quotation does not.
    fn blank_line(&self) -> String {
        self.prefixes
            .iter()
            .filter(|p| p.used && p.rest.starts_with('>'))
            .map(|_| ">")
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn finish(self) -> String {
        self.lines.join("\n")
    }
}

/// The width of the text part: 72 columns, so that a quoted reply still fits in 80.
pub const WIDTH: usize = 72;

/// Wraps every line longer than `width` characters at spaces, keeping its hanging indent:
/// a continuation line repeats the line's quotation marks and indentation and lines up
/// under the text after a list marker (`- `, `12. `, `[3] `). A word longer than the line
/// (a URL) is never broken, so that it stays clickable. Characters are counted, not
/// display columns: right for the alphabets the shipped publications use.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for line in text.split('\n') {
        if !out.is_empty() {
            out.push('\n');
        }
        if line.chars().count() <= width {
            out.push_str(line);
            continue;
        }
        let (first, rest) = hanging_prefix(line);
        let body = &line[first.len()..];
        let mut current = first.to_owned();
        let mut current_len = first.chars().count();
        let mut has_word = false;
        for word in body.split(' ').filter(|w| !w.is_empty()) {
            let word_len = word.chars().count();
            if has_word && current_len + 1 + word_len > width {
                out.push_str(current.trim_end());
                out.push('\n');
                current = rest.clone();
                current_len = rest.chars().count();
                has_word = false;
            }
            if has_word {
                current.push(' ');
                current_len += 1;
            }
            current.push_str(word);
            current_len += word_len;
            has_word = true;
        }
        out.push_str(current.trim_end());
    }
    out
}

/// The part of `line` before its text, and what continuation lines start with instead.
fn hanging_prefix(line: &str) -> (&str, String) {
    // Indentation and quotation marks, repeated as they are.
    let text_start = line
        .find(|c: char| c != ' ' && c != '>')
        .unwrap_or(line.len());
    let repeated = &line[..text_start];
    // A list marker or a link reference, replaced by spaces of its width.
    let marker =
        marker_len(&line[text_start..]).map_or("", |len| &line[text_start..text_start + len]);
    let first = &line[..text_start + marker.len()];
    let rest = format!("{repeated}{}", " ".repeat(marker.chars().count()));
    (first, rest)
}

/// The length in bytes of the list marker (`- `, `3. `, `٣. `) or link reference (`[3] `)
/// that `s` starts with.
fn marker_len(s: &str) -> Option<usize> {
    for bullet in ["- ", "* ", "• "] {
        if s.starts_with(bullet) {
            return Some(bullet.len());
        }
    }
    let (open, inner, close) = match s.strip_prefix('[') {
        Some(inner) => ("[", inner, "] "),
        None => ("", s, ". "),
    };
    let digits = inner.find(|c: char| !c.is_numeric())?;
    let count = inner[..digits].chars().count();
    ((1..=3).contains(&count) && inner[digits..].starts_with(close))
        .then_some(open.len() + digits + close.len())
}

#[cfg(test)]
mod tests;
