//! A member's bounce score, as Mailman keeps it: each mailbox failure adds a point, at most
//! `daily_cap` points a day (one dead mailbox bouncing ten postings in an hour is one bad day,
//! not ten), and a score not raised for `decay_days` starts again from zero (an address that
//! failed once a month ago and works since is a good address).

use crate::config::BouncesConfig;
use crate::store::ScoreState;

const DAY_MS: i64 = 24 * 3_600_000;

/// The score after one more mailbox failure at `now`, and whether it disables the member's
/// deliveries: the store's [`crate::store::Rescore`].
pub fn rescore(state: ScoreState, now: i64, config: &BouncesConfig) -> (ScoreState, bool) {
    let after = add_bounce(state, now, config);
    (after, reaches_threshold(after, config))
}

/// The state after one more mailbox failure at `now`.
fn add_bounce(state: ScoreState, now: i64, config: &BouncesConfig) -> ScoreState {
    let decay_ms = config.decay_days as i64 * DAY_MS;
    let fresh = state.last_bounce_at > 0 && now - state.last_bounce_at <= decay_ms;
    let mut next = if fresh { state } else { ScoreState::default() };
    let today = now.div_euclid(DAY_MS);
    if next.day != today {
        next.day = today;
        next.day_points = 0;
    }
    if next.day_points < config.daily_cap as i64 {
        next.score += 1;
        next.day_points += 1;
    }
    next.last_bounce_at = now;
    next
}

fn reaches_threshold(state: ScoreState, config: &BouncesConfig) -> bool {
    state.score >= config.score_threshold as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BouncesConfig {
        BouncesConfig {
            score_threshold: 3,
            daily_cap: 1,
            decay_days: 7,
            ..BouncesConfig::default()
        }
    }

    #[test]
    fn one_point_a_day_until_the_threshold() {
        let config = config();
        let mut state = ScoreState::default();
        let start = 100 * DAY_MS;
        for bounce in 0..5 {
            state = add_bounce(state, start + bounce * 60_000, &config);
        }
        assert_eq!(state.score, 1, "five bounces in one day are one point");
        state = add_bounce(state, start + DAY_MS, &config);
        assert!(!reaches_threshold(state, &config));
        state = add_bounce(state, start + 2 * DAY_MS, &config);
        assert!(reaches_threshold(state, &config));
    }

    #[test]
    fn an_old_score_is_forgotten() {
        let config = config();
        let start = 100 * DAY_MS;
        let mut state = add_bounce(ScoreState::default(), start, &config);
        state = add_bounce(state, start + DAY_MS, &config);
        assert_eq!(state.score, 2);
        state = add_bounce(state, start + 10 * DAY_MS, &config);
        assert_eq!(state.score, 1, "more than decay_days later: a fresh start");
    }
}
