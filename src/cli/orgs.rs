//! `tidings orgs ...`: the registry of member organisations behind the `members` policy.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use crate::address;
use crate::config::Config;
use crate::store::Organisation;

use crate::subscriptions::csv_lines::SkippedLines;

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// Add or update organisations from a CSV file with the columns name, country, region,
    /// email domains, contact addresses (several domains or contacts separated by `;` or
    /// spaces). Running it again updates, never duplicates.
    Import { file: PathBuf },
    /// The registered organisations.
    List,
}

pub async fn run(config: &Config, command: OrgsCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    match command {
        OrgsCommand::Import { file } => {
            let (organisations, invalid) = read(&file)?;
            let created = store.import_organisations(&organisations).await?;
            for (number, problem) in &invalid {
                println!("{}:{number}: skipped: {problem}", file.display());
            }
            println!(
                "{created} added, {} updated, {} invalid",
                organisations.len() - created,
                invalid.len()
            );
        }
        OrgsCommand::List => {
            for org in store.organisations().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    org.name,
                    org.country,
                    org.region,
                    org.domains.join(";"),
                    org.contacts.join(";")
                );
            }
        }
    }
    Ok(())
}

fn read(file: &Path) -> anyhow::Result<(Vec<Organisation>, SkippedLines)> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(parse(&text))
}

/// Organisations of a CSV text, and the problems of the lines skipped, by line number.
pub fn parse(text: &str) -> (Vec<Organisation>, SkippedLines) {
    let mut invalid = Vec::new();
    let mut organisations = Vec::new();
    for (number, fields) in crate::subscriptions::csv_lines::data_lines(text, "name", &mut invalid)
    {
        let field = |i: usize| fields.get(i).map(String::as_str).unwrap_or("");
        match organisation(field(0), field(1), field(2), field(3), field(4)) {
            Ok(org) => organisations.push(org),
            Err(problem) => invalid.push((number, problem)),
        }
    }
    invalid.sort();
    (organisations, invalid)
}

fn organisation(
    name: &str,
    country: &str,
    region: &str,
    domains: &str,
    contacts: &str,
) -> Result<Organisation, String> {
    let split = |text: &str| -> Vec<String> {
        text.split([';', ' ', ','])
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let domains = split(domains);
    if let Some(bad) = domains
        .iter()
        .find(|d| address::normalize(&format!("x@{d}")).is_err())
    {
        return Err(format!("{bad:?} is not a domain name"));
    }
    let contacts = split(contacts)
        .iter()
        .map(|c| address::normalize(c).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if domains.is_empty() && contacts.is_empty() {
        return Err(format!(
            "{name}: give at least one email domain or contact address"
        ));
    }
    Ok(Organisation {
        name: name.to_string(),
        country: country.to_string(),
        region: region.to_string(),
        domains,
        contacts,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn rows_with_several_domains_and_contacts() {
        let text = "name,country,region,domains,contacts\n\
                    Human Rights Watch,US,Americas,hrw.org;hrw.example,\"a@hrw.org; b@hrw.org\"\n\
                    No Domains,FR,Europe,,\n\
                    Bad,KE,Africa,not a domain!,\n";
        let (orgs, invalid) = parse(text);
        assert_eq!(orgs.len(), 1);
        assert_eq!(orgs[0].domains, ["hrw.org", "hrw.example"]);
        assert_eq!(orgs[0].contacts, ["a@hrw.org", "b@hrw.org"]);
        let lines: Vec<usize> = invalid.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [3, 4]);
    }

    #[test]
    fn blank_lines_and_comments_do_not_shift_line_numbers() {
        let text = "name,country,region,domains,contacts\n\n# members in Africa\nBad,KE,Africa,not a domain!,\n";
        let (orgs, invalid) = parse(text);
        assert!(orgs.is_empty());
        let lines: Vec<usize> = invalid.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [4], "line numbers as in the file");
    }
}
