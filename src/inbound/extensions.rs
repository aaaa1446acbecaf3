//! The SMTP service extensions that change what a client may send: offered by tidings'
//! listeners (and by the test sink, which can leave any of them out to stand for a relay
//! without it), and read back from the relay's EHLO reply by the relay client.

/// Which of the extensions that matter here a server offers. SIZE and ENHANCEDSTATUSCODES
/// are always offered by the listeners and need nothing of the relay client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extensions {
    /// PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write.
    pub pipelining: bool,
    /// 8BITMIME (RFC 6152): `BODY=8BITMIME`, text with bytes above 127.
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531): UTF-8 in addresses and header fields (RFC 6532).
    pub smtputf8: bool,
}

impl Extensions {
    /// What tidings' own listeners offer.
    pub const ALL: Extensions = Extensions {
        pipelining: true,
        eight_bit_mime: true,
        smtputf8: true,
    };

    /// The lines of an EHLO or LHLO reply (keywords first), as a server writes them.
    pub fn keywords(&self) -> impl Iterator<Item = &'static str> {
        [
            (self.pipelining, "PIPELINING"),
            (self.eight_bit_mime, "8BITMIME"),
            (self.smtputf8, "SMTPUTF8"),
        ]
        .into_iter()
        .filter_map(|(offered, keyword)| offered.then_some(keyword))
    }

    /// What the lines of a server's EHLO reply offer (RFC 5321 4.1.1.1: a keyword, then
    /// its parameters, on each line after the first).
    pub fn from_ehlo<'a>(lines: impl Iterator<Item = &'a str>) -> Extensions {
        let mut offered = Extensions {
            pipelining: false,
            eight_bit_mime: false,
            smtputf8: false,
        };
        for line in lines.skip(1) {
            let keyword = line.split_whitespace().next().unwrap_or_default();
            let flag = match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => &mut offered.pipelining,
                "8BITMIME" => &mut offered.eight_bit_mime,
                "SMTPUTF8" => &mut offered.smtputf8,
                _ => continue,
            };
            *flag = true;
        }
        offered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ehlo_reply_is_read_back_as_it_was_written() {
        for pipelining in [false, true] {
            for eight_bit_mime in [false, true] {
                for smtputf8 in [false, true] {
                    let offered = Extensions {
                        pipelining,
                        eight_bit_mime,
                        smtputf8,
                    };
                    let lines: Vec<&str> = std::iter::once("relay.example greets you")
                        .chain(offered.keywords())
                        .chain(["SIZE 10240000", "ENHANCEDSTATUSCODES"])
                        .collect();
                    assert_eq!(Extensions::from_ehlo(lines.into_iter()), offered);
                }
            }
        }
    }

    #[test]
    fn keywords_are_matched_whole_in_any_case_and_not_in_the_greeting() {
        let lines = [
            "PIPELINING 8BITMIME SMTPUTF8",
            "smtputf8",
            "8BITMIMEX",
            "X-PIPELINING",
        ];
        assert_eq!(
            Extensions::from_ehlo(lines.into_iter()),
            Extensions {
                pipelining: false,
                eight_bit_mime: false,
                smtputf8: true,
            }
        );
    }
}
