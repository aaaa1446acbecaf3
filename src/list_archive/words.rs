//! The words both full-text engines are given: runs of letters and digits, lowercased, with
//! the accents of Latin letters taken off (`Réunion` → `reunion`), separated by single
//! spaces. SQLite's FTS5 (`unicode61`) and PostgreSQL's `simple` configuration then split
//! them alike, so that one search finds the same messages on either; folding here rather
//! than in either engine keeps `reunion` finding `Réunion` on both.

/// Longest word kept: longer runs are encoded data, not words anyone searches for.
const LONGEST_WORD: usize = 64;

/// The words of `text`, folded, at most `max_bytes` of them joined by spaces.
pub fn indexed(text: &str, max_bytes: usize) -> String {
    let mut out = String::new();
    for word in words(text) {
        if out.len() + word.len() + 1 > max_bytes {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    out
}

/// The words of `text`, folded: what a search asks for.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                match fold(lower) {
                    Some(plain) => word.push_str(plain),
                    None => word.push(lower),
                }
            }
        } else if !word.is_empty() {
            push_word(&mut words, std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        push_word(&mut words, word);
    }
    words
}

fn push_word(words: &mut Vec<String>, word: String) {
    if word.chars().count() <= LONGEST_WORD {
        words.push(word);
    }
}

/// A lowercase Latin letter with a diacritic as the letters without it.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_folded_and_split_on_everything_else() {
        assert_eq!(
            words("Réunion à São Paulo: ana@ngo.example, well-known"),
            ["reunion", "a", "sao", "paulo", "ana", "ngo", "example", "well", "known"]
        );
        assert_eq!(words("اجتماع الفريق"), ["اجتماع", "الفريق"]);
        assert_eq!(words("Straße ŒUVRE"), ["strasse", "oeuvre"]);
        assert!(words(&"x".repeat(65)).is_empty());
    }

    #[test]
    fn indexed_text_stops_at_its_size() {
        assert_eq!(indexed("one two three", 7), "one two");
        assert_eq!(indexed("one two three", 1000), "one two three");
    }
}
