use crate::config::Config;

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
        .filter(|(_, state, _)| state != "expanded")
        .collect();
    if !waiting.is_empty() {
        println!("\nMessages not yet expanded into deliveries:");
        for (list, state, n) in waiting {
            println!("{list:<30} {state:<12} {n:>6}");
        }
    }
    Ok(())
}
