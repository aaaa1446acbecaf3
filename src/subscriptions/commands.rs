//! Email commands sent to `LIST-request@`: read from the Subject and the body, one per line,
//! as Mailman does. Reading stops at the first line that is not a command, so the quoted
//! message of a reply, a signature or a greeting is never taken for a command.
//!
//! The reply to a command message goes to its From, which anyone can forge, so nothing of
//! the message is kept but what was recognised: a command word and a valid argument.

use crate::address;
use crate::config::LANGUAGES;
use crate::store::{DeliveryMode, DigestKind};

/// Commands one message may carry; more are ignored.
pub const MAX_COMMANDS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `subscribe` / `join`, optionally for another (valid, normalised) address, which is
    /// then asked to confirm.
    Subscribe {
        address: Option<String>,
    },
    /// `unsubscribe` / `leave` / `remove`, optionally for another address.
    Unsubscribe {
        address: Option<String>,
    },
    /// `language XX`, with one of the languages tidings writes in.
    Language(String),
    /// `language` with anything else.
    LanguageUnknown,
    /// `digest daily`, `digest weekly` or `digest off`: how the sender gets the list's
    /// postings.
    Digest(DeliveryMode),
    Help,
    /// A command word with an argument that is not valid, or a message without commands;
    /// at most one per message.
    Unknown,
}

impl Command {
    /// The command as a reply quotes it: rebuilt from what was recognised, never the line as
    /// written, so that a reply carries no text of the sender's beyond a command word and a
    /// valid argument. Empty for [`Command::Unknown`], which is never quoted.
    pub fn quoted(&self) -> String {
        let with = |verb: &str, argument: Option<&str>| match argument {
            Some(argument) => format!("{verb} {argument}"),
            None => verb.to_string(),
        };
        match self {
            Command::Subscribe { address } => with("subscribe", address.as_deref()),
            Command::Unsubscribe { address } => with("unsubscribe", address.as_deref()),
            Command::Language(code) => with("language", Some(code)),
            Command::LanguageUnknown => "language".to_string(),
            Command::Digest(mode) => with("digest", Some(digest_word(*mode))),
            Command::Help => "help".to_string(),
            Command::Unknown => String::new(),
        }
    }

    /// Whether carrying the command out makes tidings write to someone (a confirmation
    /// request, the help message): such commands count against the sender's rate limits.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Command::Subscribe { .. } | Command::Unsubscribe { .. } | Command::Help
        )
    }
}

/// The commands of a message. What was not recognised shows as one [`Command::Unknown`]
/// (for a command word with an invalid argument, or for the whole message when it has no
/// command at all), so that the sender learns why nothing happened.
pub fn parse(subject: &str, body: &str) -> Vec<Command> {
    let mut commands = Vec::new();
    // A Subject that only starts like a command ("Join request") is free text, not a
    // command gone wrong.
    if let Some(command) =
        recognise(strip_reply_prefixes(subject)).filter(|c| *c != Command::Unknown)
    {
        commands.push(command);
    }
    for line in body.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if line == "--" || line.starts_with('>') || is_end(line) {
            break;
        }
        match recognise(line) {
            // One "not recognised" says all there is to say: the text is never repeated.
            Some(Command::Unknown) if commands.contains(&Command::Unknown) => continue,
            Some(command) => commands.push(command),
            None => break,
        }
        if commands.len() >= MAX_COMMANDS {
            break;
        }
    }
    if commands.is_empty() {
        commands.push(Command::Unknown);
    }
    commands
}

/// A moderator's or owner's answer to a notice asking for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Approve,
    /// With the reason to pass on, possibly empty.
    Reject(String),
    Discard,
}

/// The answer in a reply: `approve`, `reject` with an optional reason, or `discard`, on the
/// first line of the body or in the Subject (after any `Re:`).
pub fn answer(subject: &str, body: &str) -> Option<Answer> {
    let first_line = body
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('>'))
        .unwrap_or("");
    [first_line, strip_reply_prefixes(subject)]
        .into_iter()
        .find_map(|line| {
            let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            match word.to_ascii_lowercase().as_str() {
                "approve" | "approved" | "accept" => Some(Answer::Approve),
                "reject" | "rejected" | "refuse" => {
                    Some(Answer::Reject(rest.trim().chars().take(500).collect()))
                }
                "discard" | "delete" => Some(Answer::Discard),
                _ => None,
            }
        })
}

fn recognise(line: &str) -> Option<Command> {
    let mut words = line.split_whitespace();
    let verb = words.next()?.to_ascii_lowercase();
    let argument = words.next();
    if words.next().is_some() {
        return None;
    }
    match verb.as_str() {
        "subscribe" | "join" => Some(address_argument(argument, |address| Command::Subscribe {
            address,
        })),
        "unsubscribe" | "leave" | "remove" => Some(address_argument(argument, |address| {
            Command::Unsubscribe { address }
        })),
        "help" | "info" if argument.is_none() => Some(Command::Help),
        "language" | "lang" => argument.map(|code| {
            let code = code.to_ascii_lowercase();
            if LANGUAGES.contains(&code.as_str()) {
                Command::Language(code)
            } else {
                Command::LanguageUnknown
            }
        }),
        "digest" => Some(match argument.map(str::to_ascii_lowercase).as_deref() {
            Some("daily") => Command::Digest(DeliveryMode::Digest(DigestKind::Daily)),
            Some("weekly") => Command::Digest(DeliveryMode::Digest(DigestKind::Weekly)),
            Some("off") => Command::Digest(DeliveryMode::Each),
            _ => Command::Unknown,
        }),
        _ => None,
    }
}

/// The argument of the `digest` command that asks for `mode`.
pub fn digest_word(mode: DeliveryMode) -> &'static str {
    match mode {
        DeliveryMode::Each => "off",
        DeliveryMode::Digest(kind) => kind.as_str(),
    }
}

/// A subscribe or unsubscribe command: without an argument, or with a valid address as its
/// argument (normalised); anything else is not recognised.
fn address_argument(argument: Option<&str>, command: fn(Option<String>) -> Command) -> Command {
    match argument.map(address::normalize) {
        None => command(None),
        Some(Ok(address)) => command(Some(address)),
        Some(Err(_)) => Command::Unknown,
    }
}

fn is_end(line: &str) -> bool {
    matches!(
        line.to_ascii_lowercase().as_str(),
        "end" | "stop" | "thanks" | "thank you"
    )
}

fn strip_reply_prefixes(mut subject: &str) -> &str {
    loop {
        let trimmed = subject.trim();
        let lower = trimmed.to_ascii_lowercase();
        let prefix = ["re:", "aw:", "fw:", "fwd:", "tr:", "rv:"]
            .iter()
            .find(|p| lower.starts_with(*p));
        match prefix {
            Some(p) => subject = &trimmed[p.len()..],
            None => return trimmed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_and_body_commands_until_the_first_other_line() {
        let body = "language fr\n\nhelp\nHello, I would like to join.\nunsubscribe\n";
        assert_eq!(
            parse("Re: subscribe", body),
            [
                Command::Subscribe { address: None },
                Command::Language("fr".into()),
                Command::Help
            ]
        );
    }

    #[test]
    fn quoted_text_and_signatures_end_the_commands() {
        assert_eq!(
            parse("", "leave\n-- \nhelp\n"),
            [Command::Unsubscribe { address: None }]
        );
        assert_eq!(
            parse("", "join\n> help\nhelp"),
            [Command::Subscribe { address: None }]
        );
    }

    #[test]
    fn a_message_without_commands_is_one_unknown_command() {
        assert_eq!(
            parse("Question about the list", "Could you add me?"),
            [Command::Unknown]
        );
        assert_eq!(parse("Join request", ""), [Command::Unknown]);
    }

    #[test]
    fn only_what_was_recognised_is_quoted() {
        let parsed = parse(
            "Re: JOIN",
            "lang FR\nsubscribe http://spam.example/x\nlanguage spam.example\n\
             unsubscribe Other@NGO.example\nleave <b>buy</b>\nhelp\n",
        );
        let quoted: Vec<String> = parsed.iter().map(Command::quoted).collect();
        assert_eq!(
            quoted,
            [
                "subscribe",
                "language fr",
                "",
                "language",
                "unsubscribe other@ngo.example",
                "help"
            ]
        );
        assert_eq!(parsed[2], Command::Unknown);
    }

    #[test]
    fn owner_answers() {
        assert_eq!(
            answer("Re: approval", "approve\n> quoted"),
            Some(Answer::Approve)
        );
        let reason = "not a member organisation";
        assert_eq!(
            answer("", &format!("Reject {reason}\n")),
            Some(Answer::Reject(reason.into()))
        );
        assert_eq!(
            answer("Re: reject", "Thanks"),
            Some(Answer::Reject(String::new()))
        );
        assert_eq!(answer("", "discard"), Some(Answer::Discard));
        assert_eq!(answer("Re: x", "maybe later"), None);
    }

    #[test]
    fn digest_takes_daily_weekly_or_off() {
        assert_eq!(
            parse(
                "",
                "digest Daily\ndigest weekly\ndigest off\ndigest sometimes\ndigest"
            ),
            [
                Command::Digest(DeliveryMode::Digest(DigestKind::Daily)),
                Command::Digest(DeliveryMode::Digest(DigestKind::Weekly)),
                Command::Digest(DeliveryMode::Each),
                Command::Unknown,
            ]
        );
        let quoted: Vec<String> = parse("digest weekly", "digest off")
            .iter()
            .map(Command::quoted)
            .collect();
        assert_eq!(quoted, ["digest weekly", "digest off"]);
        assert!(!Command::Digest(DeliveryMode::Each).writes());
    }

    #[test]
    fn arguments_and_limits() {
        assert_eq!(
            parse("", "subscribe other@ngo.example"),
            [Command::Subscribe {
                address: Some("other@ngo.example".into())
            }]
        );
        assert_eq!(parse("", "help me please"), [Command::Unknown]);
        assert_eq!(parse("", &"help\n".repeat(50)).len(), MAX_COMMANDS);
    }
}
