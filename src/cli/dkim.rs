//! `tidings dkim keygen`: a new signing key, the DNS record that publishes it, and the
//! settings that turn it on.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;

use crate::address::is_dns_label;
use crate::config::Config;
use crate::dkim::keys::{self, Algorithm, RSA_BITS};
use crate::dkim::DnsRecord;

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Write a new private key; print the DNS TXT record to publish and the settings to add.
    Keygen(KeygenArgs),
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// rsa (2048 bits, checked by every receiver) or ed25519 (RFC 8463, in addition to RSA).
    #[arg(long, value_enum, default_value = "rsa")]
    pub algorithm: Algorithm,
    /// Names the key's DNS record; a new selector for each new key lets the old one be
    /// withdrawn later. Default: rsa-YYYYMM or ed25519-YYYYMM, for this month.
    #[arg(long)]
    pub selector: Option<String>,
    /// Where to write the private key; never overwritten. Default: data/dkim/SELECTOR.pem.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Signing domain for the DNS record. Default: dkim.domain (server.domain) of the
    /// configuration.
    #[arg(long)]
    pub domain: Option<String>,
}

pub fn run(config_path: &Path, command: DkimCommand) -> anyhow::Result<()> {
    match command {
        DkimCommand::Keygen(args) => keygen(config_path, args),
    }
}

fn keygen(config_path: &Path, args: KeygenArgs) -> anyhow::Result<()> {
    let domain = match args.domain {
        Some(domain) => domain,
        None => Config::load(config_path, &crate::dkim::keys::Files)
            .map(|config| config.dkim.domain)
            .with_context(|| {
                format!(
                    "cannot take the signing domain from {}; pass --domain",
                    config_path.display()
                )
            })?,
    };
    let selector = args.selector.unwrap_or_else(|| {
        let prefix = match args.algorithm {
            Algorithm::Rsa => "rsa",
            Algorithm::Ed25519 => "ed25519",
        };
        format!("{prefix}-{}", chrono::Utc::now().format("%Y%m"))
    });
    if !selector.split('.').all(is_dns_label) {
        bail!("--selector {selector:?} is not a DNS name: use letters, digits and inner hyphens");
    }
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("data/dkim/{selector}.pem")));
    let key = keys::generate(args.algorithm)?;
    keys::write_private_key(&out, &key.private_pem)?;
    let record = DnsRecord::new(&selector, &domain, &key);
    print!("{}", instructions(args.algorithm, &selector, &out, &record));
    Ok(())
}

fn instructions(algorithm: Algorithm, selector: &str, out: &Path, record: &DnsRecord) -> String {
    let (description, setting_selector) = match algorithm {
        Algorithm::Rsa => (format!("RSA-{RSA_BITS}"), "selector"),
        Algorithm::Ed25519 => ("Ed25519".to_owned(), "ed25519_selector"),
    };
    let mut text = format!(
        "Wrote a new {description} private key to {} (readable by its owner only).\n\n\
         1. Publish this DNS TXT record:\n\n{}\n\n\
         \x20  In a DNS provider's form: name {}, type TXT, value\n   {}\n\n\
         2. Once `dig +short TXT {}` shows it, add to the configuration and restart tidings:\n\n\
         [dkim]\n{setting_selector} = \"{selector}\"\n{} = \"{}\"\n",
        out.display(),
        record.zone_line(),
        record.name,
        record.value,
        record.name,
        algorithm.key_file_setting().trim_start_matches("dkim."),
        out.display(),
    );
    if algorithm == Algorithm::Ed25519 {
        text.push_str(
            "\nNot every receiver checks Ed25519 signatures yet: keep an RSA key configured too.\n",
        );
    }
    text
}
