//! Bounce records: the failures classified for each list, members' scores, members
//! disabled for bouncing until they re-enable themselves or are removed, and recipients'
//! complaints.

use super::members::unsubscribe_in;
use super::messages::{queue_ready_in, ReadyNotice};
use super::{now_ms, Result, Store};

/// A member's bounce score as stored; how a failure changes it is the bounce policy's
/// business ([`Rescore`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ScoreState {
    #[sqlx(rename = "bounce_score")]
    pub score: i64,
    /// Days since the epoch (UTC) of the last scored bounce.
    #[sqlx(rename = "bounce_day")]
    pub day: i64,
    /// Points given on that day.
    #[sqlx(rename = "bounce_day_points")]
    pub day_points: i64,
    pub last_bounce_at: i64,
}

/// The score after one more mailbox failure at a time (ms), and whether it disables the
/// member's deliveries.
pub type Rescore<'a> = &'a (dyn Fn(ScoreState, i64) -> (ScoreState, bool) + Sync);

/// The delivery a VERP bounce names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BouncedDelivery {
    pub list_name: String,
    pub member_id: Option<i64>,
    pub recipient: String,
}

/// One classified failure, as logged.
#[derive(Debug, Clone)]
pub struct BounceEvent<'a> {
    pub list_name: &'a str,
    pub member_id: Option<i64>,
    pub domain: &'a str,
    /// `BounceClass::as_str`.
    pub class: &'a str,
    pub counts: bool,
    pub status: &'a str,
    pub detail: &'a str,
}

/// What a recorded bounce did to the membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreOutcome {
    NotCounted,
    Counted {
        score: i64,
    },
    /// The score reached the threshold: deliveries to the member are now disabled.
    Disabled,
}

/// A member disabled for bouncing, due for a re-enable notice or for removal.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DisabledMember {
    pub list_name: String,
    pub member_id: i64,
    pub address: String,
    pub language: String,
    #[sqlx(rename = "reenable_notices")]
    pub notices_sent: i64,
}

/// `tidings bounces`: who bounces and why.
#[derive(Debug, Clone, Default)]
pub struct BounceReport {
    /// (list, address, score, status, last bounce)
    pub scores: Vec<(String, String, i64, String, i64)>,
    /// (list, destination domain, class, count, last detail)
    pub by_domain: Vec<(String, String, String, i64, String)>,
    /// (list, complaints) over the same days, lists without any left out.
    pub complaints: Vec<(String, i64)>,
}

/// A recipient's complaint, as counted.
#[derive(Debug, Clone)]
pub struct ComplaintEvent<'a> {
    pub list_name: &'a str,
    /// The member the complaint names (id, address), when a token named one.
    pub member: Option<(i64, &'a str)>,
    /// The complainer's domain.
    pub domain: &'a str,
    pub feedback_type: &'a str,
}

impl Store {
    pub async fn bounced_delivery(&self, delivery_id: i64) -> Result<Option<BouncedDelivery>> {
        Ok(
            sqlx::query_as("SELECT list_name, member_id, recipient FROM deliveries WHERE id = $1")
                .bind(delivery_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Logs the failure and, for a mailbox failure of a member, raises their score as
    /// `rescore` says, disabling their deliveries when it says so. One transaction, so that
    /// two bounces processed at once by two daemons cannot both read the old score.
    pub async fn record_bounce(
        &self,
        event: &BounceEvent<'_>,
        rescore: Rescore<'_>,
    ) -> Result<ScoreOutcome> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO bounce_events (list_name, member_id, domain, class, status, detail, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(event.list_name)
        .bind(event.member_id)
        .bind(event.domain)
        .bind(event.class)
        .bind(event.status)
        .bind(event.detail)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let outcome = match (event.counts, event.member_id) {
            (true, Some(member_id)) => {
                score_in(&mut tx, event.list_name, member_id, now, rescore).await?
            }
            _ => ScoreOutcome::NotCounted,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Counts a complaint and removes its member from the list at once, in one transaction:
    /// a complainer must not get the next posting. True when the member was subscribed.
    pub async fn record_complaint(&self, event: &ComplaintEvent<'_>) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO complaints (list_name, member_id, domain, feedback_type, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.list_name)
        .bind(event.member.map(|(id, _)| id))
        .bind(event.domain)
        .bind(event.feedback_type)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let removed = match event.member {
            Some((_, address)) => unsubscribe_in(&mut tx, event.list_name, address).await?,
            None => false,
        };
        tx.commit().await?;
        Ok(removed)
    }

    /// Disabled members whose next re-enable notice (`notices_sent < max`) or removal
    /// (`notices_sent >= max`) is due: their last notice is older than `interval_ms`.
    pub async fn disabled_members_due(&self, interval_ms: i64) -> Result<Vec<DisabledMember>> {
        Ok(sqlx::query_as(
            "SELECT s.list_name, s.member_id, m.address, m.language, s.reenable_notices \
             FROM subscriptions s JOIN members m ON m.id = s.member_id \
             WHERE s.status = 'disabled' AND s.last_notice_at <= $1 ORDER BY s.id",
        )
        .bind(now_ms() - interval_ms)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Counts the next re-enable notice of a disabled member and queues it, in one
    /// transaction, provided the member has had `sent` notices so far: of several daemons
    /// due to send the same notice, one does. False, and nothing queued, when another daemon
    /// sent it first or the member is no longer disabled.
    pub async fn send_reenable_notice(
        &self,
        (list, member_id): (&str, i64),
        sent: i64,
        notice: &ReadyNotice,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let counted = sqlx::query(
            "UPDATE subscriptions SET reenable_notices = reenable_notices + 1, last_notice_at = $1 \
             WHERE list_name = $2 AND member_id = $3 AND status = 'disabled' \
             AND reenable_notices = $4",
        )
        .bind(now)
        .bind(list)
        .bind(member_id)
        .bind(sent)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if counted != 1 {
            return Ok(false);
        }
        queue_ready_in(&mut tx, notice, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes a disabled member who has had `sent` re-enable notices and answered none;
    /// false when they are no longer in that state (re-enabled, or removed by another daemon).
    pub async fn remove_unanswered(&self, list: &str, member_id: i64, sent: i64) -> Result<bool> {
        let removed = sqlx::query(
            "DELETE FROM subscriptions WHERE list_name = $1 AND member_id = $2 \
             AND status = 'disabled' AND reenable_notices = $3",
        )
        .bind(list)
        .bind(member_id)
        .bind(sent)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(removed == 1)
    }

    /// Turns a disabled membership back on with a clean score; false when it was not disabled.
    pub async fn reenable(&self, list: &str, member_id: i64) -> Result<bool> {
        let changed = sqlx::query(
            "UPDATE subscriptions SET status = 'active', bounce_score = 0, bounce_day = 0, \
             bounce_day_points = 0, disabled_at = 0, reenable_notices = 0, last_notice_at = 0 \
             WHERE list_name = $1 AND member_id = $2 AND status = 'disabled'",
        )
        .bind(list)
        .bind(member_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Scores above zero and disabled members, and failures by destination domain over the
    /// last `days`, for one list or all.
    pub async fn bounce_report(&self, list: Option<&str>, days: i64) -> Result<BounceReport> {
        let list = list.unwrap_or("");
        let scores = sqlx::query_as(
            "SELECT s.list_name, m.address, s.bounce_score, s.status, s.last_bounce_at \
             FROM subscriptions s JOIN members m ON m.id = s.member_id \
             WHERE (s.bounce_score > 0 OR s.status = 'disabled') AND ($1 = '' OR s.list_name = $1) \
             ORDER BY s.list_name, s.bounce_score DESC, m.address",
        )
        .bind(list)
        .fetch_all(&self.pool)
        .await?;
        let since = now_ms() - days * 24 * 3_600_000;
        let by_domain = sqlx::query_as(
            "SELECT list_name, domain, class, COUNT(*) AS n, MAX(detail) \
             FROM bounce_events WHERE created_at >= $1 AND ($2 = '' OR list_name = $2) \
             GROUP BY list_name, domain, class ORDER BY list_name, n DESC, domain",
        )
        .bind(since)
        .bind(list)
        .fetch_all(&self.pool)
        .await?;
        let complaints = sqlx::query_as(
            "SELECT list_name, COUNT(*) FROM complaints \
             WHERE created_at >= $1 AND ($2 = '' OR list_name = $2) \
             GROUP BY list_name ORDER BY list_name",
        )
        .bind(since)
        .bind(list)
        .fetch_all(&self.pool)
        .await?;
        Ok(BounceReport {
            scores,
            by_domain,
            complaints,
        })
    }
}

async fn score_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    list: &str,
    member_id: i64,
    now: i64,
    rescore: Rescore<'_>,
) -> Result<ScoreOutcome> {
    let before: Option<ScoreState> = sqlx::query_as(
        "SELECT bounce_score, bounce_day, bounce_day_points, last_bounce_at \
         FROM subscriptions WHERE list_name = $1 AND member_id = $2 AND status = 'active'",
    )
    .bind(list)
    .bind(member_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(before) = before else {
        return Ok(ScoreOutcome::NotCounted);
    };
    let (after, disable) = rescore(before, now);
    sqlx::query(
        "UPDATE subscriptions SET bounce_score = $1, bounce_day = $2, bounce_day_points = $3, \
         last_bounce_at = $4, status = $5, disabled_at = $6, reenable_notices = 0, last_notice_at = 0 \
         WHERE list_name = $7 AND member_id = $8",
    )
    .bind(after.score)
    .bind(after.day)
    .bind(after.day_points)
    .bind(after.last_bounce_at)
    .bind(if disable { "disabled" } else { "active" })
    .bind(if disable { now } else { 0 })
    .bind(list)
    .bind(member_id)
    .execute(&mut **tx)
    .await?;
    Ok(if disable {
        ScoreOutcome::Disabled
    } else {
        ScoreOutcome::Counted { score: after.score }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{on_both, TestStore};
    use crate::store::ImportLine;

    fn notice() -> ReadyNotice {
        ReadyNotice {
            list: "news".into(),
            recipients: vec!["gone@ngo.example".into()],
            message: b"Subject: re-enable\r\n\r\nx\r\n".to_vec(),
        }
    }

    async fn a_re_enable_notice_is_sent_once_by_racing_daemons(db: &TestStore) {
        let store = &db.store;
        let line = ImportLine {
            address: "gone@ngo.example".into(),
            display_name: String::new(),
            language: "en".into(),
        };
        store.import_members("news", &[line]).await.expect("import");
        sqlx::query("UPDATE subscriptions SET status = 'disabled'")
            .execute(&store.pool)
            .await
            .expect("disable");
        let member = store
            .member_by_address("gone@ngo.example")
            .await
            .expect("read")
            .expect("member");
        let other = Store::open(&db.url, 4)
            .await
            .expect("a second daemon's store");
        let ready = notice();
        let whom = ("news", member.id);
        let (a, b) = tokio::join!(
            store.send_reenable_notice(whom, 0, &ready),
            other.send_reenable_notice(whom, 0, &ready)
        );
        let sent = [a.expect("first"), b.expect("second")];
        assert_eq!(sent.iter().filter(|s| **s).count(), 1, "{sent:?}");
        assert_eq!(store.unfinished_deliveries().await.expect("queue"), 1);
        // The next notice is the second: the first count no longer matches.
        assert!(!store
            .send_reenable_notice(whom, 0, &ready)
            .await
            .expect("again"));
        let (a, b) = tokio::join!(
            store.remove_unanswered("news", member.id, 1),
            other.remove_unanswered("news", member.id, 1)
        );
        let removed = [a.expect("first"), b.expect("second")];
        assert_eq!(removed.iter().filter(|r| **r).count(), 1, "{removed:?}");
        assert!(!store
            .is_subscribed("news", "gone@ngo.example")
            .await
            .expect("read"));
        other.close().await;
    }

    on_both!(a_re_enable_notice_is_sent_once_by_racing_daemons);
}
