//! Email commands sent to `LIST-request@`: read from the Subject and the body, one per line,
//! as Mailman does. Reading stops at the first line that is not a command, so the quoted
//! message of a reply, a signature or a greeting is never taken for a command.

/// Commands one message may carry; more are ignored.
pub const MAX_COMMANDS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `subscribe` / `join`, optionally for another address (confirmed by that address).
    Subscribe {
        address: Option<String>,
    },
    /// `unsubscribe` / `leave` / `remove`, optionally for another address.
    Unsubscribe {
        address: Option<String>,
    },
    /// `language XX`.
    Language(String),
    Help,
    Unknown,
}

/// A command with the line it was read from, for the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub line: String,
    pub command: Command,
}

/// The commands of a message. An unrecognised Subject or first body line is reported as
/// unknown when the message has no command at all, so the sender learns why nothing happened.
pub fn parse(subject: &str, body: &str) -> Vec<CommandLine> {
    let mut commands = Vec::new();
    let subject = strip_reply_prefixes(subject);
    if let Some(command) = recognise(subject) {
        commands.push(CommandLine {
            line: subject.to_string(),
            command,
        });
    }
    let mut first_unknown = None;
    for line in body.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if line == "--" || line == "-- " || line.starts_with('>') || is_end(line) {
            break;
        }
        match recognise(line) {
            Some(command) => commands.push(CommandLine {
                line: line.to_string(),
                command,
            }),
            None => {
                first_unknown = Some(line);
                break;
            }
        }
        if commands.len() >= MAX_COMMANDS {
            break;
        }
    }
    if commands.is_empty() {
        let line = if subject.is_empty() {
            first_unknown.unwrap_or("")
        } else {
            subject
        };
        commands.push(CommandLine {
            line: line.chars().take(200).collect(),
            command: Command::Unknown,
        });
    }
    commands.truncate(MAX_COMMANDS);
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
    let argument = words.next().map(str::to_string);
    if words.next().is_some() {
        return None;
    }
    match verb.as_str() {
        "subscribe" | "join" => Some(Command::Subscribe { address: argument }),
        "unsubscribe" | "leave" | "remove" => Some(Command::Unsubscribe { address: argument }),
        "help" | "info" if argument.is_none() => Some(Command::Help),
        "language" | "lang" => argument.map(|code| Command::Language(code.to_ascii_lowercase())),
        _ => None,
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

    fn commands(subject: &str, body: &str) -> Vec<Command> {
        parse(subject, body)
            .into_iter()
            .map(|c| c.command)
            .collect()
    }

    #[test]
    fn subject_and_body_commands_until_the_first_other_line() {
        let body = "language fr\n\nhelp\nHello, I would like to join.\nunsubscribe\n";
        assert_eq!(
            commands("Re: subscribe", body),
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
            commands("", "leave\n-- \nhelp\n"),
            [Command::Unsubscribe { address: None }]
        );
        assert_eq!(
            commands("", "join\n> help\nhelp"),
            [Command::Subscribe { address: None }]
        );
    }

    #[test]
    fn a_message_without_commands_is_one_unknown_command() {
        let parsed = parse("Question about the list", "Could you add me?");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].command, Command::Unknown);
        assert_eq!(parsed[0].line, "Question about the list");
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
    fn arguments_and_limits() {
        assert_eq!(
            commands("", "subscribe other@ngo.example"),
            [Command::Subscribe {
                address: Some("other@ngo.example".into())
            }]
        );
        assert_eq!(commands("", "help me please"), [Command::Unknown]);
        assert_eq!(parse("", &"help\n".repeat(50)).len(), MAX_COMMANDS);
    }
}
