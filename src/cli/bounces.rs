//! `tidings bounces [LIST]`: members with a bounce score or disabled for bouncing, the
//! failures of the last days by destination domain, policy rejections apart from address
//! failures, and the complaints of the last days per list.

use clap::Args;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct BouncesArgs {
    /// Only this list.
    pub list: Option<String>,
    /// Failures and complaints of how many past days to count.
    #[arg(long, default_value_t = 30)]
    pub days: i64,
}

pub async fn run(config: &Config, args: BouncesArgs) -> anyhow::Result<()> {
    if let Some(list) = &args.list {
        if config.list(list).is_none() {
            anyhow::bail!(
                "no list named {list:?} in the configuration; `tidings lists` shows them"
            );
        }
    }
    let store = super::open_store(config).await?;
    let report = store.bounce_report(args.list.as_deref(), args.days).await?;
    println!(
        "Members with bounces (threshold {}):",
        config.bounces.score_threshold
    );
    if report.scores.is_empty() {
        println!("  (none)");
    }
    for (list, address, score, status, last) in &report.scores {
        let last = chrono::DateTime::from_timestamp_millis(*last)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        println!("  {list:<24} {address:<40} score {score:>3}  {status:<9} last {last}");
    }
    println!(
        "\nFailures of the last {} days by destination domain:",
        args.days
    );
    if report.by_domain.is_empty() {
        println!("  (none)");
    }
    for (list, domain, class, count, detail) in &report.by_domain {
        let what = match class.as_str() {
            "policy" => "policy rejection (not counted: check the list's reputation)",
            "mailbox" => "address failure (counted)",
            "temporary" => "temporary failure",
            _ => "refused for the message",
        };
        println!("  {list:<24} {domain:<30} {count:>5}  {what}");
        if !detail.is_empty() {
            println!("  {:<24} {:<30}        last: {detail}", "", "");
        }
    }
    println!(
        "\nComplaints of the last {} days (each member unsubscribed at once):",
        args.days
    );
    if report.complaints.is_empty() {
        println!("  (none)");
    }
    for (list, count) in &report.complaints {
        println!("  {list:<24} {count:>5}");
    }
    Ok(())
}
