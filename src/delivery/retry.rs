//! What a relay's answer means for a delivery: sent, failed for good, or tried again later on
//! an exponential schedule until the configured lifetime runs out.

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
        return DeliveryOutcome::Failed {
            reply: format!("gave up after {attempts} attempts over {hours} h; last reply: {reply}"),
        };
    }
    DeliveryOutcome::Deferred { retry_at, reply }
}

/// Wait before attempt `attempts + 1`: the initial delay, doubled each time, capped.
pub fn backoff_ms(attempts: i64, policy: &DeliveryConfig) -> i64 {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
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
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = DeliveryConfig {
            retry_initial_seconds: 60,
            retry_max_seconds: 300,
            ..DeliveryConfig::default()
        };
        let waits: Vec<i64> = (1..=5).map(|a| backoff_ms(a, &policy) / 1000).collect();
        assert_eq!(waits, [60, 120, 240, 300, 300]);
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
            DeliveryOutcome::Failed { .. }
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
