//! The audit trail: who decided what, on which list, publication or object, when, and
//! through which channel. The decisions themselves record their events (moderation,
//! subscription requests, rosters, editions), whichever front end asked for them, so that
//! the web console, email replies and the CLI cannot differ in what is kept.
//!
//! [`Actor`] lives here, at the ground of the crate, so that every layer can pass it on.

use std::fmt;

use super::{now_ms, Result, Store};

/// The way a decision reached tidings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The web console, by a signed-in person.
    Web,
    /// A reply by email, from a sender whose From was proven.
    Email,
    /// A `tidings` command, by an operator on the machine.
    Cli,
    /// The daemon itself, on a publication's schedule.
    Schedule,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Email => "email",
            Channel::Cli => "cli",
            Channel::Schedule => "schedule",
        }
    }
}

/// Who takes a decision, and through which channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The signed-in or proven address (web, email), `cli:USER` for the CLI, `scheduler`.
    pub who: String,
    pub channel: Channel,
}

impl Actor {
    /// A person signed in to the web console.
    pub fn web(address: &str) -> Actor {
        Actor {
            who: address.to_owned(),
            channel: Channel::Web,
        }
    }

    /// The proven sender of a reply by email.
    pub fn email(address: &str) -> Actor {
        Actor {
            who: address.to_owned(),
            channel: Channel::Email,
        }
    }

    /// The operator running a `tidings` command: the OS user, as `$USER` names them (which
    /// anyone at the shell can set: the CLI's users are trusted with the database anyway).
    pub fn cli() -> Actor {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_default();
        let user: String = user.chars().filter(|c| !c.is_control()).take(64).collect();
        Actor {
            who: if user.is_empty() {
                "cli".to_owned()
            } else {
                format!("cli:{user}")
            },
            channel: Channel::Cli,
        }
    }

    /// The daemon acting on a publication's schedule.
    pub fn scheduler() -> Actor {
        Actor {
            who: "scheduler".to_owned(),
            channel: Channel::Schedule,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.who, self.channel.as_str())
    }
}

/// What was decided, and on what.
#[derive(Debug, Clone, Default)]
pub struct Audited<'a> {
    /// A short fixed word: `held.approve`, `request.reject`, `member.add`, `edition.cancel`…
    pub action: &'a str,
    pub list_name: Option<&'a str>,
    pub publication: Option<&'a str>,
    /// What the decision was on: `message 12`, `request 3`, an address, `edition 7`.
    pub object: Option<String>,
    /// Anything else worth keeping: a reason, a count.
    pub detail: Option<String>,
}

/// One recorded event, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEvent {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub channel: String,
    pub action: String,
    pub list_name: Option<String>,
    pub publication: Option<String>,
    pub object: Option<String>,
    pub detail: Option<String>,
}

/// Whose events a page of the trail shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditScope<'a> {
    All,
    /// A list's, or a publication's (both have their name in one namespace).
    Of(&'a str),
}

const COLUMNS: &str = "id, at_ms, actor, channel, action, list_name, publication, object, detail";

impl Store {
    /// Records a decision taken by `actor`. The INFO line says what and where, never who:
    /// the actor is an address for web and email.
    pub async fn record_audit(&self, actor: &Actor, event: &Audited<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_events \
             (at_ms, actor, channel, action, list_name, publication, object, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(now_ms())
        .bind(&actor.who)
        .bind(actor.channel.as_str())
        .bind(event.action)
        .bind(event.list_name)
        .bind(event.publication)
        .bind(event.object.as_deref())
        .bind(event.detail.as_deref())
        .execute(&self.pool)
        .await?;
        tracing::info!(
            action = event.action,
            channel = actor.channel.as_str(),
            list = event.list_name.unwrap_or_default(),
            publication = event.publication.unwrap_or_default(),
            "audit event recorded"
        );
        tracing::debug!(action = event.action, actor = %actor.who, object = ?event.object, "audit actor");
        Ok(())
    }

    /// Up to `limit` events of `scope`, newest first, skipping the `offset` newest.
    pub async fn audit_page(
        &self,
        scope: AuditScope<'_>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AuditEvent>> {
        let rows = match scope {
            AuditScope::All => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM audit_events ORDER BY id DESC LIMIT $1 OFFSET $2"
                )))
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
            AuditScope::Of(name) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM audit_events \
                     WHERE list_name = $1 OR publication = $1 \
                     ORDER BY id DESC LIMIT $2 OFFSET $3"
                )))
                .bind(name)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lists_page_is_its_own_events_newest_first() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&format!("sqlite://{}/audit.db", dir.path().display()), 2)
            .await
            .expect("store");
        let actor = Actor::web("ana@example.org");
        for (action, list) in [("held.approve", "team"), ("held.discard", "other")] {
            let event = Audited {
                action,
                list_name: Some(list),
                object: Some("message 1".into()),
                ..Audited::default()
            };
            store.record_audit(&actor, &event).await.expect("record");
        }
        store
            .record_audit(
                &Actor::cli(),
                &Audited {
                    action: "held.reject",
                    list_name: Some("team"),
                    ..Audited::default()
                },
            )
            .await
            .expect("record");
        let team = store
            .audit_page(AuditScope::Of("team"), 10, 0)
            .await
            .expect("page");
        let actions: Vec<&str> = team.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["held.reject", "held.approve"]);
        assert_eq!(team[0].channel, "cli");
        assert_eq!(team[1].actor, "ana@example.org");
        let all = store.audit_page(AuditScope::All, 2, 1).await.expect("page");
        let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["held.discard", "held.approve"]);
    }
}
