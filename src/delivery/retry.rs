//! What a relay's answer means for a delivery: sent, failed for good, or tried again later
//! until the configured lifetime runs out.
//!
//! The schedule follows RFC 5321 §4.5.4.1 in spirit while getting most temporary failures
//! (greylisting, a full mailbox being emptied) through within the hour: the first
//! `retry_doublings` retries wait `retry_initial_seconds`, then twice as long each time
//! (defaults: 5, 10, 20 and 40 minutes), and every later retry waits `retry_max_seconds`
//! (default: 3 hours), until `lifetime_seconds` (default: 5 days) have passed.

use crate::config::DeliveryConfig;
use crate::store::{ClaimedDelivery, DeliveryOutcome};

use super::relay::SendResult;

pub fn outcome(
    result: SendResult,
    delivery: &ClaimedDelivery,
    policy: &DeliveryConfig,
    now_ms: i64,
) -> DeliveryOutcome {
    let reply = match result {
        SendResult::Accepted => return DeliveryOutcome::Sent,
        SendResult::Permanent(reply) => return DeliveryOutcome::Failed { reply },
        SendResult::Temporary(reply) | SendResult::ConnectionLost(reply) => reply,
    };
    let attempts = delivery.attempts + 1;
    let age_ms = now_ms.saturating_sub(delivery.created_at);
    let retry_at = now_ms + backoff_ms(attempts, policy);
    if retry_at.saturating_sub(delivery.created_at) > seconds_to_ms(policy.lifetime_seconds) {
        let hours = age_ms / 3_600_000;
        return DeliveryOutcome::Expired {
            reply: format!("gave up after {attempts} attempts over {hours} h; last reply: {reply}"),
        };
    }
    DeliveryOutcome::Deferred { retry_at, reply }
}

/// Wait before attempt `attempts + 1`: the initial delay, doubled on each of the first
/// retries, then the steady interval (which also caps the doubled waits).
pub fn backoff_ms(attempts: i64, policy: &DeliveryConfig) -> i64 {
    let retry = u64::try_from(attempts).unwrap_or(0).max(1);
    if retry > policy.retry_doublings {
        return seconds_to_ms(policy.retry_max_seconds);
    }
    let doublings = (retry - 1).min(30) as u32;
    let wait = policy
        .retry_initial_seconds
        .saturating_mul(1u64 << doublings);
    seconds_to_ms(wait.min(policy.retry_max_seconds))
}

fn seconds_to_ms(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempts: i64, created_at: i64) -> ClaimedDelivery {
        ClaimedDelivery {
            id: 1,
            message_id: 1,
            list_name: "l".into(),
            member_id: Some(1),
            recipient: "a@example.org".into(),
            attempts,
            created_at,
            copies: crate::store::Copies::Shared,
            claim_token: 1,
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = DeliveryConfig {
            retry_initial_seconds: 60,
            retry_max_seconds: 300,
            retry_doublings: 10,
            ..DeliveryConfig::default()
        };
        let waits: Vec<i64> = (1..=5).map(|a| backoff_ms(a, &policy) / 1000).collect();
        assert_eq!(waits, [60, 120, 240, 300, 300]);
    }

    #[test]
    fn default_schedule_retries_three_times_within_the_hour_then_every_three_hours() {
        let policy = DeliveryConfig::default();
        let minutes: Vec<i64> = (1..=7).map(|a| backoff_ms(a, &policy) / 60_000).collect();
        assert_eq!(minutes, [5, 10, 20, 40, 180, 180, 180]);
        let retried_within_the_hour = (1..=3).map(|a| backoff_ms(a, &policy)).sum::<i64>();
        assert!(retried_within_the_hour < 3_600_000);
    }

    #[test]
    fn default_lifetime_gives_up_after_five_days() {
        let policy = DeliveryConfig::default();
        let temp = || SendResult::Temporary("451 try later".into());
        let mut now = 0;
        let mut attempts = 0;
        loop {
            match outcome(temp(), &delivery(attempts, 0), &policy, now) {
                DeliveryOutcome::Deferred { retry_at, .. } => now = retry_at,
                DeliveryOutcome::Expired { .. } => break,
                other => panic!("unexpected {other:?}"),
            }
            attempts += 1;
            assert!(attempts < 100, "never gave up");
        }
        assert!(now <= 5 * 24 * 3_600_000 && now > 5 * 24 * 3_600_000 - 3 * 3_600_000);
        assert_eq!(attempts, 43, "4 doublings, then every 3 h");
    }

    #[test]
    fn temporary_until_lifetime_then_failed() {
        let policy = DeliveryConfig {
            retry_initial_seconds: 60,
            retry_max_seconds: 3600,
            lifetime_seconds: 7200,
            ..DeliveryConfig::default()
        };
        let temp = || SendResult::Temporary("451 try later".into());
        assert!(matches!(
            outcome(temp(), &delivery(0, 0), &policy, 1000),
            DeliveryOutcome::Deferred {
                retry_at: 61_000,
                ..
            }
        ));
        assert!(matches!(
            outcome(temp(), &delivery(9, 0), &policy, 7_000_000),
            DeliveryOutcome::Expired { .. }
        ));
        assert!(matches!(
            outcome(
                SendResult::Permanent("550 no".into()),
                &delivery(0, 0),
                &policy,
                0
            ),
            DeliveryOutcome::Failed { .. }
        ));
        assert_eq!(
            outcome(SendResult::Accepted, &delivery(3, 0), &policy, 0),
            DeliveryOutcome::Sent
        );
    }
}
