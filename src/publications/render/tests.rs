use super::*;

fn strings(lang: &str) -> Strings {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("templates/publications/_strings")
        .join(format!("{lang}.toml"));
    toml::from_str(&std::fs::read_to_string(path).expect("shipped strings")).expect("valid strings")
}

/// 1 March 2027, 09:00 in Amsterdam.
const MARCH_FIRST: i64 = 1_803_888_000_000;

#[test]
fn dates_in_each_language() {
    let cases = [
        ("en", "1 March 2027"),
        ("fr", "1er mars 2027"),
        ("es", "1 de marzo de 2027"),
        ("pt", "1 de março de 2027"),
        ("ar", "١ مارس ٢٠٢٧"),
    ];
    for (lang, expected) in cases {
        let date = format_date(MARCH_FIRST, "Europe/Amsterdam", &strings(lang).date).unwrap();
        assert_eq!(date, expected, "{lang}");
    }
    let fifteenth = MARCH_FIRST + 14 * 86_400_000;
    assert_eq!(
        format_date(fifteenth, "Europe/Amsterdam", &strings("fr").date).unwrap(),
        "15 mars 2027"
    );
    assert_eq!(
        format_date(fifteenth, "UTC", &strings("ar").date).unwrap(),
        "١٥ مارس ٢٠٢٧"
    );
}

#[test]
fn the_date_is_the_one_in_the_publication_time_zone() {
    // 1 July 2027 00:30 in Tokyo is still 30 June in UTC.
    let ms = 1_814_369_400_000;
    let en = strings("en").date;
    assert_eq!(format_date(ms, "Asia/Tokyo", &en).unwrap(), "1 July 2027");
    assert_eq!(format_date(ms, "UTC", &en).unwrap(), "30 June 2027");
    assert!(matches!(
        format_date(ms, "Mars/Olympus_Mons", &en),
        Err(TemplateError::TimeZone { .. })
    ));
}

#[test]
fn arabic_indic_digits() {
    assert_eq!(localise_digits("2027-12", Some("٠١٢٣٤٥٦٧٨٩")), "٢٠٢٧-١٢");
    assert_eq!(localise_digits("2027", None), "2027");
}

#[test]
fn text_is_tidied_and_wrapped() {
    let long = "word ".repeat(20);
    let tidied = tidy_text(&format!("\n\nTitle   \r\n\n\n\n{long}\n\n\n"));
    assert_eq!(tidied.lines().next(), Some("Title"));
    assert!(!tidied.contains("\n\n\n"), "{tidied:?}");
    assert!(tidied
        .lines()
        .all(|l| l.chars().count() <= 72 && l == l.trim_end()));
    assert!(tidied.ends_with("word\n"), "{tidied:?}");
}
