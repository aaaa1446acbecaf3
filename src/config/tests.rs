use std::path::Path;

use super::*;

const SHIPPED: &str = include_str!("../../config/tidings.toml");
const PATH: &str = "config/tidings.toml";

const MINIMAL: &str = r#"
[server]
domain = "lists.example.org"
base_url = "https://lists.example.org"

[[lists]]
name = "info-en"
display_name = "Coalition Info"
posting = "members"
subscription = "confirm"
visibility = "public"
owners = ["secretariat@example.org"]
"#;

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Config::from_toml(text, Path::new(PATH), vars, &crate::dkim::keys::Files)
}

fn problems(text: &str) -> Vec<Problem> {
    match load(text, &[]) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected validation problems, got {other:?}"),
    }
}

fn env_problems(vars: &[(&str, &str)]) -> Vec<EnvProblem> {
    match load(SHIPPED, vars) {
        Err(ConfigError::Env { problems }) => problems,
        other => panic!("expected environment problems, got {other:?}"),
    }
}

fn keys(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.key.as_str()).collect()
}

/// A valid list table with `extra` keys, which replace the defaults of the same name.
fn list(name: &str, extra: &str) -> String {
    let defaults = [
        ("display_name", r#""A list""#),
        ("posting", r#""members""#),
        ("subscription", r#""confirm""#),
        ("visibility", r#""public""#),
        ("owners", r#"["secretariat@example.org"]"#),
    ];
    let mut table = format!("\n[[lists]]\nname = \"{name}\"\n{extra}\n");
    for (key, value) in defaults {
        if !extra.contains(&format!("{key} =")) {
            table.push_str(&format!("{key} = {value}\n"));
        }
    }
    table
}

#[test]
fn shipped_file_is_valid() -> Result<(), ConfigError> {
    let config = load(SHIPPED, &[])?;
    assert_eq!(config.server.domain, "lists.example.org");
    assert_eq!(config.server.hostname, "lists.example.org");
    assert_eq!(config.server.lmtp_listen, "127.0.0.1:2424");
    assert_eq!(config.relay.tls, TlsMode::None);
    assert_eq!(config.relay.pool_size, 4);
    assert_eq!(config.database.url, "sqlite://data/tidings.db");
    assert!(config.secret.is_empty());
    assert_eq!(config.lists.len(), 28);
    Ok(())
}

#[test]
fn shipped_lists_have_the_expected_policies() -> Result<(), ConfigError> {
    let config = load(SHIPPED, &[])?;
    let count = |prefix: &str| {
        config
            .lists
            .iter()
            .filter(|l| l.name.starts_with(prefix))
            .count()
    };
    assert_eq!(
        (
            count("info-"),
            count("team-"),
            count("caucus-"),
            count("region-")
        ),
        (4, 13, 6, 5)
    );
    for list in &config.lists {
        let confidential = list.name.starts_with("team-") || list.name.starts_with("caucus-");
        let visibility = if confidential {
            Visibility::Confidential
        } else {
            Visibility::Public
        };
        assert_eq!(list.visibility, visibility, "{}", list.name);
        let announce = list.name.starts_with("info-");
        assert_eq!(
            list.posting == PostingPolicy::Announce,
            announce,
            "{}",
            list.name
        );
    }
    let fr = config.list("info-fr").map(|l| l.language.as_str());
    assert_eq!(fr, Some("fr"));
    Ok(())
}

#[test]
fn each_override_sets_its_field_with_its_type() -> Result<(), ConfigError> {
    let config = load(
        SHIPPED,
        &[
            ("TIDINGS_SECRET", "0123456789abcdef0123456789abcdef"),
            ("TIDINGS_SERVER_DOMAIN", "lists.coalition.example.org"),
            ("TIDINGS_SERVER_SMTP_LISTEN", ""),
            ("TIDINGS_SERVER_LMTP_LISTEN", "[::1]:24"),
            ("TIDINGS_SERVER_HTTP_LISTEN", "0.0.0.0:80"),
            (
                "TIDINGS_SERVER_BASE_URL",
                "https://lists.coalition.example.org",
            ),
            ("TIDINGS_SERVER_MAX_LINE_LENGTH", "2000"),
            ("TIDINGS_RELAY_HOST", "smtp.coalition.example.org"),
            ("TIDINGS_RELAY_PORT", "587"),
            ("TIDINGS_RELAY_TLS", "starttls"),
            ("TIDINGS_RELAY_USERNAME", "tidings"),
            ("TIDINGS_RELAY_PASSWORD", "12345"),
            ("TIDINGS_RELAY_MAX_RECIPIENTS_PER_TRANSACTION", "20"),
            ("TIDINGS_DELIVERY_BATCH_SIZE", "10"),
            ("TIDINGS_DATABASE_URL", "postgres://tidings@db/tidings"),
            ("TIDINGS_DATABASE_MAX_CONNECTIONS", "3"),
            ("TIDINGS_CONFIG", "elsewhere.toml"),
            ("TIDINGS_LOG", "debug"),
        ],
    )?;
    assert_eq!(config.secret, "0123456789abcdef0123456789abcdef");
    let server = &config.server;
    assert_eq!(server.domain, "lists.coalition.example.org");
    assert_eq!(server.hostname, "lists.coalition.example.org");
    assert_eq!(server.smtp_listen, "");
    assert_eq!(server.lmtp_listen, "[::1]:24");
    assert_eq!(server.http_listen, "0.0.0.0:80");
    assert_eq!(server.base_url, "https://lists.coalition.example.org");
    assert_eq!(server.max_line_length, 2000);
    let relay = &config.relay;
    assert_eq!(relay.host, "smtp.coalition.example.org");
    assert_eq!(relay.port, 587);
    assert_eq!(relay.tls, TlsMode::Starttls);
    assert_eq!(relay.username, "tidings");
    assert_eq!(relay.password, "12345");
    assert_eq!(relay.max_recipients_per_transaction, 20);
    assert_eq!(config.delivery.batch_size, 10);
    assert_eq!(config.database.url, "postgres://tidings@db/tidings");
    assert_eq!(config.database.max_connections, 3);
    Ok(())
}

#[test]
fn overrides_fill_sections_missing_from_the_file() -> Result<(), ConfigError> {
    let text = format!("[relay]\nhost = \"mx.example.org\"\n{MINIMAL}");
    let config = load(&text, &[("TIDINGS_DATABASE_URL", "sqlite:var/t.db")])?;
    assert_eq!(config.relay.host, "mx.example.org");
    assert_eq!(config.relay.port, 25);
    assert_eq!(config.database.max_connections, 8);
    Ok(())
}

#[test]
fn a_non_numeric_port_names_the_variable_and_the_type() {
    let problems = env_problems(&[("TIDINGS_RELAY_PORT", "abc")]);
    let message = ConfigError::Env { problems }.to_string();
    assert_eq!(
        message,
        "environment variable TIDINGS_RELAY_PORT: \"abc\" is not valid: relay.port expects a \
         whole number"
    );
}

#[test]
fn an_unknown_variable_lists_the_valid_names() {
    let problems = env_problems(&[("TIDINGS_RELAY_HOSTNAME", "mx.example.org")]);
    assert_eq!(problems.len(), 1);
    let message = &problems[0].message;
    assert_eq!(problems[0].var, "TIDINGS_RELAY_HOSTNAME");
    assert!(
        message.contains("did you mean TIDINGS_RELAY_HOST?"),
        "{message}"
    );
    assert!(message.contains("TIDINGS_DATABASE_URL"), "{message}");
    assert!(message.contains("TIDINGS_SECRET"), "{message}");
}

#[test]
fn every_bad_variable_is_reported() {
    let problems = env_problems(&[
        ("TIDINGS_RELAY_PORT", "70000"),
        ("TIDINGS_SERVER_DOMIAN", "x.example.org"),
        ("TIDINGS_RELAY_TLS", "ssl"),
    ]);
    let vars: Vec<&str> = problems.iter().map(|p| p.var.as_str()).collect();
    assert_eq!(
        vars,
        [
            "TIDINGS_RELAY_PORT",
            "TIDINGS_RELAY_TLS",
            "TIDINGS_SERVER_DOMIAN"
        ]
    );
}

#[test]
fn several_mistakes_are_all_reported() {
    let text = format!(
        "{MINIMAL}{}{}{}",
        list(
            "team-gender",
            r#"posting = "announce"
               language = "de"
               subject_prefix = "[Team\nGender]"
               moderators = ["chair.example.org"]"#
        ),
        list("Team-Budget", ""),
        list("caucus-peace", "owners = []"),
    );
    let problems = problems(&text);
    assert_eq!(
        keys(&problems),
        [
            "lists[1] (team-gender).subject_prefix",
            "lists[1] (team-gender).language",
            "lists[1] (team-gender).moderators[0]",
            "lists[1] (team-gender).posters",
            "lists[2] (Team-Budget).name",
            "lists[3] (caucus-peace).owners",
        ],
        "{problems:#?}"
    );
}

#[test]
fn server_relay_and_delivery_mistakes_are_all_reported() {
    let text = r#"
secret = "too-short"
[server]
domain = "localhost"
base_url = "https://lists.example.org/"
[relay]
port = 0
pool_size = 1000
username = "tidings"
[delivery]
retry_initial_seconds = 600
retry_max_seconds = 60
[database]
url = "mysql://root:hunter2@db/tidings"
[[lists]]
name = "info-en"
display_name = "Coalition Info"
posting = "members"
subscription = "confirm"
visibility = "public"
owners = ["secretariat@example.org"]
"#;
    let problems = problems(text);
    assert_eq!(
        keys(&problems),
        [
            "secret",
            "server.domain",
            "server.hostname",
            "server.base_url",
            "relay.port",
            "relay.pool_size",
            "relay.password",
            "delivery.retry_max_seconds",
            "database.url",
        ],
        "{problems:#?}"
    );
    let all = format!("{problems:?}");
    assert!(
        !all.contains("hunter2") && !all.contains("too-short"),
        "{all}"
    );
}

#[test]
fn http_limits_have_defaults_and_bounds() -> Result<(), ConfigError> {
    let config = load(MINIMAL, &[])?;
    assert_eq!(config.server.max_http_connections, 256);
    assert_eq!(config.server.http_header_timeout_seconds, 10);
    assert_eq!(config.server.http_request_timeout_seconds, 30);
    let text = MINIMAL.replace(
        "[server]",
        "[server]\nmax_http_connections = 0\nhttp_header_timeout_seconds = 0\n\
         http_request_timeout_seconds = 86400",
    );
    let problems = problems(&text);
    assert_eq!(
        keys(&problems),
        [
            "server.max_http_connections",
            "server.http_header_timeout_seconds",
            "server.http_request_timeout_seconds",
        ],
        "{problems:#?}"
    );
    assert!(
        problems[2].problem.contains("between 1 and 3600")
            && problems[2].fix.contains("= 30 (the default)"),
        "{problems:#?}"
    );
    let config = load(MINIMAL, &[("TIDINGS_SERVER_MAX_HTTP_CONNECTIONS", "64")])?;
    assert_eq!(config.server.max_http_connections, 64);
    Ok(())
}

#[test]
fn listeners_must_parse_and_accept_mail() {
    let text = MINIMAL.replace(
        "[server]",
        "[server]\nsmtp_listen = \"\"\nhttp_listen = \"localhost:80\"",
    );
    let problems = problems(&text);
    assert_eq!(
        keys(&problems),
        ["server.http_listen", "server.smtp_listen"],
        "{problems:#?}"
    );
}

#[test]
fn duplicate_names_are_reported_case_insensitively() {
    let text = format!("{MINIMAL}{}", list("INFO-EN", ""));
    let problems = problems(&text);
    assert_eq!(
        keys(&problems),
        ["lists[1] (INFO-EN).name", "lists[1] (INFO-EN).name"]
    );
    assert!(problems[1].problem.contains("lists[0]"), "{problems:#?}");
}

#[test]
fn reserved_suffixes_are_refused() {
    let text = format!(
        "{MINIMAL}{}{}",
        list("info-en-owner", ""),
        list("news-bounces", "")
    );
    let problems = problems(&text);
    assert_eq!(
        keys(&problems),
        [
            "lists[1] (info-en-owner).name",
            "lists[2] (news-bounces).name"
        ]
    );
    assert!(problems[0].problem.contains("address of list \"info-en\""));
}

#[test]
fn plus_and_reserved_mailboxes_are_refused() {
    let text = format!("{MINIMAL}{}{}", list("info+fr", ""), list("postmaster", ""));
    let problems = problems(&text);
    assert_eq!(
        keys(&problems),
        ["lists[1] (info+fr).name", "lists[2] (postmaster).name"]
    );
}

#[test]
fn announce_lists_need_posters() {
    let text = MINIMAL.replace("\"members\"", "\"announce\"");
    let error = match load(&text, &[]) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("an announce list without posters was accepted"),
    };
    assert_eq!(
        error,
        "config/tidings.toml: lists[0] (info-en).posters: posting = \"announce\" needs at least \
         one address in posters; add posters = [\"secretariat@example.org\"]"
    );
}

#[test]
fn a_file_without_lists_is_refused() {
    let text = MINIMAL.split("[[lists]]").next().unwrap_or_default();
    assert_eq!(keys(&problems(text)), ["lists"]);
}

#[test]
fn addresses_and_names_are_checked() {
    use crate::address::is_dns_name;
    let is_address = |address: &str| crate::address::check(address).is_ok();
    assert!(is_address("team-gender-chair@coalition.example.org"));
    assert!(is_address("o'brien+lists@example.org"));
    for bad in [
        "",
        "a@",
        "@example.org",
        "a@@example.org",
        "a b@example.org",
        "a@localhost",
    ] {
        assert!(!is_address(bad), "{bad}");
    }
    for bad in [
        "a..b@example.org",
        ".a@example.org",
        "a@example.-org",
        "a@1.2.3.4",
    ] {
        assert!(!is_address(bad), "{bad}");
    }
    assert!(is_dns_name("xn--80ak6aa92e.example"));
    assert!(!is_dns_name("example.org."));
}

#[test]
fn every_bad_filter_entry_is_reported_by_list_and_position() {
    let text = format!(
        "{MINIMAL}{}",
        list(
            "team-gender",
            r#"accept_these = ["chair@ngo.example", "chair"]
               hold_these = ["@", "@watch.example"]
               reject_these = ['^.*@(spam\.example']
               discard_these = ["^bot@"]
               max_message_size = 99999999
               allowed_types = ["application/pdf", "pdf", "*/*"]
               attachment_action = "hold""#
        ),
    );
    let problems = problems(&text);
    assert_eq!(
        keys(&problems),
        [
            "lists[1] (team-gender).accept_these[1]",
            "lists[1] (team-gender).reject_these[0]",
            "lists[1] (team-gender).hold_these[0]",
            "lists[1] (team-gender).max_message_size",
            "lists[1] (team-gender).allowed_types[1]",
            "lists[1] (team-gender).allowed_types[2]",
        ],
        "{problems:#?}"
    );
    assert_eq!(
        problems[1].to_string(),
        "lists[1] (team-gender).reject_these[0]: \"^.*@(spam\\\\.example\" is not a valid \
         regular expression: unclosed group; write an address (\"someone@example.org\"), a \
         whole domain (\"@example.org\") or a regular expression starting with ^ in single \
         quotes, which keep backslashes as written ('^.*@(.+\\.)?example\\.org$')"
    );
    assert!(
        problems[3].fix.contains("at most 10485760"),
        "{problems:#?}"
    );
}

#[test]
fn filters_are_compiled_when_the_file_is_read() -> Result<(), ConfigError> {
    let text = format!(
        "{MINIMAL}{}",
        list(
            "forum",
            r#"hold_these = ['^.*@(.+\.)?Watch\.example$']
               allowed_types = ["image/*"]
               attachment_action = "reject""#
        ),
    );
    let config = load(&text, &[])?;
    let forum = config.list("forum").expect("forum");
    assert_eq!(
        forum.sender_action("a@mail.watch.example"),
        Some(SenderAction::Hold)
    );
    assert_eq!(forum.sender_action("a@watch.example.org"), None);
    assert!(forum.allows_type("image/png") && !forum.allows_type("application/pdf"));
    assert_eq!(forum.attachment_action, AttachmentAction::Reject);
    let info = config.list("info-en").expect("info-en");
    assert_eq!(
        info.attachment_action,
        AttachmentAction::Hold,
        "the default"
    );
    assert!(
        info.allows_type("application/x-anything"),
        "empty allows all"
    );
    Ok(())
}

#[test]
fn shipped_lists_limit_sizes_and_attachments() -> Result<(), ConfigError> {
    let config = load(SHIPPED, &[])?;
    for list in &config.lists {
        let info = list.name.starts_with("info-");
        let team = list.name.starts_with("team-");
        assert_eq!(list.max_message_size > 0, info, "{}", list.name);
        assert_eq!(!list.allowed_types.is_empty(), team, "{}", list.name);
        assert_eq!(list.max_part_size > 0, team, "{}", list.name);
        if team {
            for kind in [
                "application/pdf",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "image/jpeg",
            ] {
                assert!(list.allows_type(kind), "{} {kind}", list.name);
            }
            assert!(!list.allows_type("application/zip"), "{}", list.name);
        }
    }
    Ok(())
}

#[test]
fn shipped_publications_are_reachable_as_lists() -> Result<(), ConfigError> {
    let config = load(SHIPPED, &[])?;
    let names: Vec<&str> = config
        .publications
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "bulletin",
            "monitor",
            "mena-update",
            "europe-update",
            "africa-update",
            "asia-update"
        ]
    );
    for publication in &config.publications {
        let list = config.list(&publication.name).expect("derived list");
        assert_eq!(list.posting, PostingPolicy::Announce);
        assert!(list.posters.is_empty(), "nobody posts to {}", list.name);
        assert_eq!(list.subscription, SubscriptionPolicy::Confirm);
        assert_eq!(list.owners, publication.editors);
        assert!(!publication.editors.is_empty());
    }
    let mena = config.publication("mena-update").expect("mena");
    assert_eq!(
        (mena.languages.as_slice(), mena.fallback_language.as_str()),
        (&["ar".to_string()][..], "ar")
    );
    Ok(())
}

fn publication(name: &str, extra: &str) -> String {
    let defaults = [
        ("title", r#""A newsletter""#),
        ("languages", r#"["en", "fr"]"#),
        ("fallback_language", r#""en""#),
        ("schedule", r#""0 0 9 1 * *""#),
        ("time_zone", r#""Europe/Amsterdam""#),
        ("approval", r#""manual""#),
        ("editors", r#"["editor@example.org"]"#),
    ];
    let mut table = format!("\n[[publications]]\nname = \"{name}\"\n{extra}\n");
    for (key, value) in defaults {
        if !extra.contains(&format!("{key} =")) {
            table.push_str(&format!("{key} = {value}\n"));
        }
    }
    table
}

#[test]
fn bad_publications_are_reported_naming_the_publication() {
    let text = format!(
        "{MINIMAL}{}{}{}{}",
        publication("bulletin", r#"schedule = "0 9 1 * *""#),
        publication("monitor", r#"time_zone = "Europe/Atlantis""#),
        publication("info-en", r#"fallback_language = "es""#),
        publication(
            "digest",
            r#"languages = ["en", "xx"]
editors = []"#
        ),
    );
    let found = problems(&text);
    let keys = keys(&found);
    assert!(
        keys.contains(&"publications[0] (bulletin).schedule"),
        "{found:?}"
    );
    assert!(
        keys.contains(&"publications[1] (monitor).time_zone"),
        "{found:?}"
    );
    assert!(
        keys.contains(&"publications[2] (info-en).name"),
        "{found:?}"
    );
    assert!(
        keys.contains(&"publications[2] (info-en).fallback_language"),
        "{found:?}"
    );
    assert!(
        keys.contains(&"publications[3] (digest).languages[1]"),
        "{found:?}"
    );
    assert!(
        keys.contains(&"publications[3] (digest).editors"),
        "{found:?}"
    );
    let schedule = found
        .iter()
        .find(|p| p.key.ends_with(".schedule"))
        .map(|p| p.fix.clone());
    assert!(schedule.is_some_and(|fix| fix.contains("seconds first")));
}

#[test]
fn dkim_is_off_unless_a_key_is_set_and_the_domain_defaults_to_the_server_domain(
) -> Result<(), ConfigError> {
    let config = load(SHIPPED, &[])?;
    assert!(!config.dkim.enabled());
    assert_eq!(config.dkim.domain, "lists.example.org");
    Ok(())
}

#[test]
fn dkim_key_problems_name_the_file_and_the_keygen_command() {
    let dir = tempfile::tempdir().expect("dir");
    let not_a_key = dir.path().join("garbage.pem");
    std::fs::write(&not_a_key, "garbage\n").expect("write");
    let text = format!(
        "{MINIMAL}\n[dkim]\nselector = \"rsa-1\"\nkey_file = {:?}\ned25519_selector = \"rsa-1\"\n\
         ed25519_key_file = {:?}\n",
        not_a_key.display().to_string(),
        dir.path().join("missing.pem").display().to_string(),
    );
    let found = problems(&text);
    assert_eq!(
        keys(&found),
        [
            "dkim.ed25519_selector",
            "dkim.key_file",
            "dkim.ed25519_key_file"
        ],
        "{found:?}"
    );
    assert!(found[1].problem.contains("garbage.pem"), "{found:?}");
    assert!(
        found[1]
            .fix
            .contains("`tidings dkim keygen --selector rsa-1`"),
        "{found:?}"
    );
    assert!(found[2].problem.contains("missing.pem"), "{found:?}");
    assert!(
        found[2]
            .fix
            .contains("keygen --algorithm ed25519 --selector rsa-1 --out"),
        "{found:?}"
    );
}

#[test]
fn other_domains_keys_are_checked_one_by_one() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("missing.pem").display().to_string();
    let text = format!(
        "{MINIMAL}\n[[dkim.keys]]\ndomain = \"coalition.example.org\"\nselector = \"s1\"\n\
         key_file = {missing:?}\nalgorithm = \"ed25519\"\n\
         [[dkim.keys]]\ndomain = \"not a domain\"\nselector = \"s1\"\nkey_file = {missing:?}\n\
         [[dkim.keys]]\ndomain = \"coalition.example.org\"\nselector = \"s1\"\nkey_file = {missing:?}\n"
    );
    let found = problems(&text);
    assert_eq!(
        keys(&found),
        [
            "dkim.keys[0].key_file",
            "dkim.keys[1].domain",
            "dkim.keys[1].key_file",
            "dkim.keys[2].selector",
            "dkim.keys[2].key_file",
        ],
        "{found:?}"
    );
    assert!(
        found[0]
            .fix
            .contains("keygen --algorithm ed25519 --selector s1 --out")
            && found[0].fix.contains("--domain coalition.example.org"),
        "{found:?}"
    );
    assert!(found[3].problem.contains("configured twice"), "{found:?}");
}

#[test]
fn a_list_may_have_its_own_from_rewriting() -> Result<(), ConfigError> {
    let text = MINIMAL.replace(
        "visibility = \"public\"",
        "visibility = \"public\"\nrewrite_from = \"always\"",
    );
    let config = load(&text, &[])?;
    assert_eq!(config.lists[0].rewrite_from, Some(FromRewrite::Always));
    assert_eq!(load(MINIMAL, &[])?.lists[0].rewrite_from, None);
    Ok(())
}

#[test]
fn a_dkim_selector_needs_its_key_file_and_the_reverse() {
    let text = format!(
        "{MINIMAL}\n[dkim]\ndomain = \"not a domain\"\nselector = \"a b\"\ned25519_key_file = \"k.pem\"\n"
    );
    let found = problems(&text);
    assert_eq!(
        keys(&found),
        [
            "dkim.domain",
            "dkim.key_file",
            "dkim.selector",
            "dkim.ed25519_selector",
            "dkim.ed25519_key_file"
        ],
        "{found:?}"
    );
}

#[test]
fn command_limits_are_positive_and_overridable() -> Result<(), ConfigError> {
    let text = format!("[subscriptions]\nrequests_per_sender_per_hour = 0\n{MINIMAL}");
    let problems = problems(&text);
    assert_eq!(
        keys(&problems),
        ["subscriptions.requests_per_sender_per_hour"]
    );
    assert_eq!(
        problems[0].fix,
        "set subscriptions.requests_per_sender_per_hour = 10 (the default) or another value \
         at least 1"
    );
    let config = load(
        SHIPPED,
        &[("TIDINGS_SUBSCRIPTIONS_REQUESTS_PER_SENDER_PER_HOUR", "25")],
    )?;
    assert_eq!(config.subscriptions.requests_per_sender_per_hour, 25);
    Ok(())
}

#[test]
fn name_servers_with_and_without_ports() {
    let name_server = DnsConfig::name_server;
    assert_eq!(name_server("127.0.0.1"), "127.0.0.1:53".parse().ok());
    assert_eq!(name_server("127.0.0.1:5353"), "127.0.0.1:5353".parse().ok());
    assert_eq!(name_server("[::1]:5353"), "[::1]:5353".parse().ok());
    assert_eq!(name_server("::1"), "[::1]:53".parse().ok());
    assert_eq!(name_server("ns.example.org"), None);
}

#[test]
fn web_admins_are_checked_like_every_address_list() {
    let text = format!("{MINIMAL}\n[web]\nadmins = [\"ops@example.org\", \"not an address\"]\n");
    let found = problems(&text);
    assert_eq!(keys(&found), ["web.admins[1]"], "{found:?}");
    let text = format!("{MINIMAL}\n[web]\nadmins = [\"Ops@example.org\"]\n");
    let config = load(&text, &[]).expect("valid");
    assert!(config.is_admin("ops@example.org"));
    assert!(!config.is_admin("secretariat@example.org"));
    assert!(load(MINIMAL, &[]).expect("valid").web.admins.is_empty());
}

#[test]
fn trusted_proxies_are_ip_addresses() {
    let text = format!("{MINIMAL}\n[web]\ntrusted_proxies = [\"::1\", \"proxy.example.org\"]\n");
    let found = problems(&text);
    assert_eq!(keys(&found), ["web.trusted_proxies[1]"], "{found:?}");
    let text = format!("{MINIMAL}\n[web]\ntrusted_proxies = [\"::1\"]\n");
    let config = load(&text, &[]).expect("valid");
    assert!(config.web.is_trusted_proxy("::1".parse().expect("ip")));
    assert!(!config
        .web
        .is_trusted_proxy("127.0.0.1".parse().expect("ip")));
}

#[test]
fn duties_come_from_lists_and_publications() -> Result<(), ConfigError> {
    let config = load(SHIPPED, &[])?;
    let owner = &config.lists[0].owners[0];
    let duties = config.duties_of(&owner.to_ascii_uppercase());
    assert!(
        duties
            .iter()
            .any(|d| d.name == config.lists[0].name && d.duty == Duty::Owner),
        "{duties:?}"
    );
    assert!(config.duties_of("nobody@example.org").is_empty());
    if let Some(publication) = config.publications.first() {
        let editor = &publication.editors[0];
        assert!(config
            .duties_of(editor)
            .iter()
            .any(|d| d.name == publication.name && d.duty == Duty::Editor));
    }
    Ok(())
}
