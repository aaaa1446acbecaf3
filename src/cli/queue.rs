use crate::config::Config;
use crate::store::WAITING_STATES;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let counts = store.queue_counts().await?;
    println!(
        "{:<30} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "LIST", "PENDING", "DEFERRED", "SENDING", "SENT", "FAILED"
    );
    for c in &counts {
        println!(
            "{:<30} {:>9} {:>9} {:>9} {:>9} {:>9}",
            c.list_name, c.pending, c.deferred, c.sending, c.sent, c.failed
        );
    }
    if counts.is_empty() {
        println!("(no deliveries yet)");
    }
    let waiting: Vec<_> = store
        .message_counts()
        .await?
        .into_iter()
        .filter(|(_, state, _)| WAITING_STATES.contains(&state.as_str()))
        .collect();
    if !waiting.is_empty() {
        println!("\nMessages waiting or set aside:");
        for (list, state, n) in waiting {
            println!("{list:<30} {state:<12} {n:>6}");
        }
    }
    let today = crate::store::now_ms().div_euclid(DAY_MS);
    let dropped = store.dropped_counts(today - DROPPED_DAYS + 1).await?;
    if !dropped.is_empty() {
        println!("\nPostings dropped without an answer, last {DROPPED_DAYS} days (rule):");
        for (list, rule, n) in dropped {
            println!("{list:<30} {rule:<12} {n:>6}");
        }
    }
    Ok(())
}

const DAY_MS: i64 = 24 * 3_600_000;

/// Days of dropped postings shown: enough to see a campaign of forged mail, short enough to
/// read.
const DROPPED_DAYS: i64 = 7;
