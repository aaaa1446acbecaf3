//! `TIDINGS_<SECTION>_<KEY>` environment overrides, applied to the parsed file before it is
//! turned into a [`Config`](super::Config).
//!
//! The set of variables and the type of each is read off the config structs themselves (their
//! serialized defaults), so a new field gets its variable without a second list to maintain.

use serde::de::DeserializeOwned;
use serde::Serialize;
use toml::{Table, Value};

use super::validate::{ConfigError, EnvProblem};
use super::{
    defaults, AuthenticationConfig, BouncesConfig, ClusterConfig, DatabaseConfig, DeliveryConfig,
    DkimConfig, DmarcConfig, DnsConfig, MetricsConfig, ModerationConfig, RelayConfig,
    RetentionConfig, ServerConfig, SubscriptionsConfig, WebConfig,
};

const PREFIX: &str = "TIDINGS_";

/// Variables in our namespace that configure the launcher and logging, not the file.
const NOT_SETTINGS: [&str; 3] = ["TIDINGS_CONFIG", "TIDINGS_LOG", "TIDINGS_LOG_FORMAT"];

pub(super) fn apply_overrides(
    table: &mut Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let sections = sections();
    let settings = settings(&sections);
    let mut vars: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(name, _)| name.starts_with(PREFIX) && !NOT_SETTINGS.contains(&name.as_str()))
        .collect();
    // The environment comes in no particular order; sorting keeps messages reproducible.
    vars.sort();
    let problems: Vec<EnvProblem> = vars
        .iter()
        .filter_map(|(name, raw)| apply_one(table, &settings, name, raw).err())
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Env { problems })
    }
}

/// One table of the file whose scalar keys can be overridden.
struct Section {
    /// `None` for the keys at the top of the file.
    name: Option<&'static str>,
    /// Every key with a value of the right type.
    template: Table,
    /// Whether a template with one value replaced still deserializes into the real type; this
    /// catches what the TOML type alone cannot (a port above 65535, an unknown TLS mode).
    check: fn(Table) -> Result<(), toml::de::Error>,
}

impl Section {
    fn of<T: Serialize + DeserializeOwned>(name: &'static str, value: &T) -> Section {
        Section {
            name: Some(name),
            template: Table::try_from(value).expect("config defaults serialize to a TOML table"),
            check: check_as::<T>,
        }
    }
}

fn check_as<T: DeserializeOwned>(table: Table) -> Result<(), toml::de::Error> {
    T::deserialize(table).map(drop)
}

fn sections() -> Vec<Section> {
    // `secret` is the only scalar at the top of the file and is a string.
    let root = Section {
        name: None,
        template: Table::from_iter([("secret".to_owned(), Value::String(String::new()))]),
        check: |_| Ok(()),
    };
    vec![
        root,
        Section::of("server", &server_template()),
        Section::of("relay", &RelayConfig::default()),
        Section::of("delivery", &DeliveryConfig::default()),
        Section::of("subscriptions", &SubscriptionsConfig::default()),
        Section::of("moderation", &ModerationConfig::default()),
        Section::of("retention", &RetentionConfig::default()),
        Section::of("cluster", &ClusterConfig::default()),
        Section::of("database", &DatabaseConfig::default()),
        Section::of("dns", &DnsConfig::default()),
        Section::of("authentication", &AuthenticationConfig::default()),
        Section::of("dmarc", &DmarcConfig::default()),
        Section::of("bounces", &BouncesConfig::default()),
        Section::of("dkim", &DkimConfig::default()),
        Section::of("web", &WebConfig::default()),
        Section::of("metrics", &MetricsConfig::default()),
    ]
}

/// ServerConfig has no `Default` because `domain` and `base_url` have no sensible one; the
/// placeholders here only carry types, and the struct literal breaks the build if a field is
/// added without being listed.
fn server_template() -> ServerConfig {
    ServerConfig {
        domain: String::new(),
        hostname: String::new(),
        smtp_listen: defaults::smtp_listen(),
        lmtp_listen: String::new(),
        http_listen: defaults::http_listen(),
        base_url: String::new(),
        max_message_size: defaults::max_message_size(),
        max_line_length: defaults::max_line_length(),
        max_recipients: defaults::max_recipients(),
        max_connections: defaults::max_connections(),
        max_connections_per_ip: defaults::max_connections_per_ip(),
        idle_timeout_seconds: defaults::idle_timeout_seconds(),
        session_timeout_seconds: defaults::session_timeout_seconds(),
        min_data_rate: defaults::min_data_rate(),
        max_data_memory: defaults::max_data_memory(),
        max_http_connections: defaults::max_http_connections(),
        http_header_timeout_seconds: defaults::http_header_timeout_seconds(),
        http_request_timeout_seconds: defaults::http_request_timeout_seconds(),
        templates_dir: defaults::templates_dir(),
        postmaster: String::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Integer,
    Float,
    Boolean,
}

impl Kind {
    /// Arrays, tables and dates are not set from the environment.
    fn of(value: &Value) -> Option<Kind> {
        match value {
            Value::String(_) => Some(Kind::String),
            Value::Integer(_) => Some(Kind::Integer),
            Value::Float(_) => Some(Kind::Float),
            Value::Boolean(_) => Some(Kind::Boolean),
            Value::Datetime(_) | Value::Array(_) | Value::Table(_) => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::String => "a string",
            Kind::Integer => "a whole number",
            Kind::Float => "a number",
            Kind::Boolean => "true or false",
        }
    }

    fn parse(self, raw: &str) -> Option<Value> {
        let trimmed = raw.trim();
        match self {
            Kind::String => Some(Value::String(raw.to_owned())),
            Kind::Integer => trimmed.parse().ok().map(Value::Integer),
            Kind::Float => trimmed.parse().ok().map(Value::Float),
            Kind::Boolean => trimmed.parse().ok().map(Value::Boolean),
        }
    }
}

struct Setting<'a> {
    var: String,
    section: &'a Section,
    key: &'a str,
    kind: Kind,
}

impl Setting<'_> {
    /// The setting as written in the file, e.g. `relay.port`.
    fn path(&self) -> String {
        match self.section.name {
            Some(section) => format!("{section}.{}", self.key),
            None => self.key.to_owned(),
        }
    }
}

fn settings(sections: &[Section]) -> Vec<Setting<'_>> {
    sections
        .iter()
        .flat_map(|section| {
            section.template.iter().filter_map(move |(key, value)| {
                Some(Setting {
                    var: variable_name(section.name, key),
                    section,
                    key,
                    kind: Kind::of(value)?,
                })
            })
        })
        .collect()
}

fn variable_name(section: Option<&str>, key: &str) -> String {
    match section {
        Some(section) => format!("{PREFIX}{section}_{key}"),
        None => format!("{PREFIX}{key}"),
    }
    .to_ascii_uppercase()
}

fn apply_one(
    table: &mut Table,
    settings: &[Setting],
    var: &str,
    raw: &str,
) -> Result<(), EnvProblem> {
    let problem = |message: String| EnvProblem {
        var: var.to_owned(),
        message,
    };
    let setting = settings
        .iter()
        .find(|s| s.var == var)
        .ok_or_else(|| problem(unknown_message(settings, var)))?;
    let value = parse_value(setting, raw).map_err(problem)?;
    insert(table, setting, value).map_err(problem)
}

fn unknown_message(settings: &[Setting], var: &str) -> String {
    let names: Vec<&str> = settings.iter().map(|s| s.var.as_str()).collect();
    let hint = closest(&names, var)
        .map(|name| format!(" (did you mean {name}?)"))
        .unwrap_or_default();
    format!(
        "is not a tidings setting{hint}; valid names are {}, plus {} which are read elsewhere",
        names.join(", "),
        NOT_SETTINGS.join(" and ")
    )
}

/// The value typed like the setting, or a message naming the expected type.
fn parse_value(setting: &Setting, raw: &str) -> Result<Value, String> {
    let path = setting.path();
    let value = setting.kind.parse(raw).ok_or_else(|| {
        format!(
            "{raw:?} is not valid: {path} expects {}",
            setting.kind.describe()
        )
    })?;
    let mut probe = setting.section.template.clone();
    probe.insert(setting.key.to_owned(), value.clone());
    (setting.section.check)(probe)
        .map_err(|e| format!("{raw:?} is not valid for {path}: {}", e.message()))?;
    Ok(value)
}

fn insert(table: &mut Table, setting: &Setting, value: Value) -> Result<(), String> {
    let target = match setting.section.name {
        None => table,
        Some(name) => match table
            .entry(name)
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(section) => section,
            _ => {
                return Err(format!(
                    "cannot be applied because `{name}` in the file is not a table"
                ))
            }
        },
    };
    target.insert(setting.key.to_owned(), value);
    Ok(())
}

/// The accepted name nearest to a mistyped one, if it is near enough to be a likely typo.
fn closest<'a>(names: &[&'a str], typo: &str) -> Option<&'a str> {
    let limit = typo.len() / 4 + 1;
    names
        .iter()
        .map(|name| (edit_distance(name, typo), *name))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(vars: &[(&str, &str)]) -> Result<Table, ConfigError> {
        let mut table = Table::new();
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        apply_overrides(&mut table, vars).map(|()| table)
    }

    fn get<'a>(table: &'a Table, section: &str, key: &str) -> Option<&'a Value> {
        table.get(section)?.as_table()?.get(key)
    }

    #[test]
    fn values_take_the_type_of_their_field() -> Result<(), ConfigError> {
        let table = apply(&[
            ("TIDINGS_RELAY_PORT", "2525"),
            ("TIDINGS_RELAY_PASSWORD", "12345"),
            ("TIDINGS_DATABASE_MAX_CONNECTIONS", " 16 "),
            ("TIDINGS_SERVER_MAX_MESSAGE_SIZE", "4096"),
            ("TIDINGS_SECRET", "s"),
        ])?;
        assert_eq!(get(&table, "relay", "port"), Some(&Value::Integer(2525)));
        let password = Value::String("12345".into());
        assert_eq!(get(&table, "relay", "password"), Some(&password));
        let connections = Value::Integer(16);
        assert_eq!(
            get(&table, "database", "max_connections"),
            Some(&connections)
        );
        let size = Value::Integer(4096);
        assert_eq!(get(&table, "server", "max_message_size"), Some(&size));
        assert_eq!(table.get("secret"), Some(&Value::String("s".into())));
        Ok(())
    }

    #[test]
    fn every_scalar_field_has_a_variable() {
        let sections = sections();
        let names: Vec<String> = settings(&sections).into_iter().map(|s| s.var).collect();
        for name in [
            "TIDINGS_SECRET",
            "TIDINGS_SERVER_DOMAIN",
            "TIDINGS_SERVER_HOSTNAME",
            "TIDINGS_SERVER_SMTP_LISTEN",
            "TIDINGS_SERVER_LMTP_LISTEN",
            "TIDINGS_SERVER_HTTP_LISTEN",
            "TIDINGS_SERVER_BASE_URL",
            "TIDINGS_SERVER_IDLE_TIMEOUT_SECONDS",
            "TIDINGS_SERVER_MAX_HTTP_CONNECTIONS",
            "TIDINGS_SERVER_HTTP_HEADER_TIMEOUT_SECONDS",
            "TIDINGS_SERVER_HTTP_REQUEST_TIMEOUT_SECONDS",
            "TIDINGS_RELAY_HOST",
            "TIDINGS_RELAY_TLS",
            "TIDINGS_RELAY_MAX_RECIPIENTS_PER_TRANSACTION",
            "TIDINGS_DELIVERY_LEASE_SECONDS",
            "TIDINGS_DATABASE_URL",
            "TIDINGS_DKIM_KEY_FILE",
            "TIDINGS_DKIM_ED25519_SELECTOR",
            "TIDINGS_METRICS_LISTEN",
            "TIDINGS_RETENTION_DAYS",
            "TIDINGS_RETENTION_SHUNTED_DAYS",
            "TIDINGS_RETENTION_BATCH_SIZE",
            "TIDINGS_RETENTION_PAUSE_MS",
            "TIDINGS_RETENTION_INTERVAL_SECONDS",
            "TIDINGS_CLUSTER_TAKEOVER_SECONDS",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing");
        }
        // secret + 20 server + 12 relay + 10 delivery + 6 subscriptions + 1 moderation
        // + 2 database + 10 in dns, authentication, dmarc and bounces + 5 dkim + 1 metrics
        // + 5 retention + 1 cluster
        assert_eq!(names.len(), 74, "{names:?}");
    }

    #[test]
    fn out_of_range_and_unknown_variants_are_rejected() {
        let Err(ConfigError::Env { problems }) = apply(&[
            ("TIDINGS_RELAY_PORT", "70000"),
            ("TIDINGS_RELAY_TLS", "ssl"),
        ]) else {
            panic!("expected an environment error");
        };
        assert_eq!(problems.len(), 2);
        assert!(problems[0].message.contains("relay.port"), "{problems:?}");
        assert!(problems[1].message.contains("starttls"), "{problems:?}");
    }

    #[test]
    fn launcher_variables_and_other_namespaces_are_ignored() -> Result<(), ConfigError> {
        let table = apply(&[
            ("TIDINGS_CONFIG", "/etc/tidings.toml"),
            ("TIDINGS_LOG", "debug"),
            ("TIDINGS_LOG_FORMAT", "json"),
            ("PATH", "/usr/bin"),
            ("tidings_relay_port", "1"),
        ])?;
        assert!(table.is_empty());
        Ok(())
    }

    #[test]
    fn a_section_that_is_not_a_table_is_reported() {
        let mut table = Table::new();
        table.insert("relay".into(), Value::Integer(1));
        let vars = [("TIDINGS_RELAY_HOST".to_string(), "mx".to_string())];
        let result = apply_overrides(&mut table, vars);
        assert!(matches!(result, Err(ConfigError::Env { .. })));
    }

    #[test]
    fn typos_get_a_suggestion() {
        let names = ["TIDINGS_RELAY_HOST", "TIDINGS_SERVER_HOSTNAME"];
        assert_eq!(
            closest(&names, "TIDINGS_RELAY_HOSTNAME"),
            Some("TIDINGS_RELAY_HOST")
        );
        assert_eq!(closest(&names, "TIDINGS_WHATEVER"), None);
    }
}
