//! The registry of the coalition's member organisations, which backs the `members`
//! subscription policy: an address of a member organisation's domain, or one of its listed
//! contacts, is admitted without an owner's approval.

use super::{now_ms, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Organisation {
    pub name: String,
    pub country: String,
    pub region: String,
    /// Email domains, lowercase.
    #[sqlx(skip)]
    pub domains: Vec<String>,
    /// Contact addresses, normalised.
    #[sqlx(skip)]
    pub contacts: Vec<String>,
}

impl Store {
    /// Adds or updates organisations by name, in one transaction; an organisation's domains
    /// and contacts become exactly those given. Returns how many were new.
    pub async fn import_organisations(&self, organisations: &[Organisation]) -> Result<usize> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut created = 0;
        for org in organisations {
            let existing: Option<i64> =
                sqlx::query_scalar("SELECT id FROM organisations WHERE name = $1")
                    .bind(&org.name)
                    .fetch_optional(&mut *tx)
                    .await?;
            let id = match existing {
                Some(id) => {
                    sqlx::query("UPDATE organisations SET country = $2, region = $3 WHERE id = $1")
                        .bind(id)
                        .bind(&org.country)
                        .bind(&org.region)
                        .execute(&mut *tx)
                        .await?;
                    id
                }
                None => {
                    created += 1;
                    sqlx::query_scalar(
                        "INSERT INTO organisations (name, country, region, created_at) \
                         VALUES ($1, $2, $3, $4) RETURNING id",
                    )
                    .bind(&org.name)
                    .bind(&org.country)
                    .bind(&org.region)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?
                }
            };
            for table in ["organisation_domains", "organisation_contacts"] {
                let sql = format!("DELETE FROM {table} WHERE organisation_id = $1");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            for (table, column, values) in [
                ("organisation_domains", "domain", &org.domains),
                ("organisation_contacts", "address", &org.contacts),
            ] {
                // A domain or contact moves to the organisation listed last.
                let sql = format!(
                    "INSERT INTO {table} ({column}, organisation_id) VALUES ($1, $2) \
                     ON CONFLICT ({column}) DO UPDATE SET organisation_id = excluded.organisation_id"
                );
                for value in values {
                    sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(value)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(created)
    }

    pub async fn organisations(&self) -> Result<Vec<Organisation>> {
        let mut organisations: Vec<Organisation> =
            sqlx::query_as("SELECT name, country, region FROM organisations ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        for organisation in &mut organisations {
            organisation.domains = sqlx::query_scalar(
                "SELECT d.domain FROM organisation_domains d JOIN organisations o ON o.id = d.organisation_id \
                 WHERE o.name = $1 ORDER BY d.domain",
            )
            .bind(&organisation.name)
            .fetch_all(&self.pool)
            .await?;
            organisation.contacts = sqlx::query_scalar(
                "SELECT c.address FROM organisation_contacts c JOIN organisations o ON o.id = c.organisation_id \
                 WHERE o.name = $1 ORDER BY c.address",
            )
            .bind(&organisation.name)
            .fetch_all(&self.pool)
            .await?;
        }
        Ok(organisations)
    }

    /// The member organisation an address belongs to: a listed contact, or an address at one
    /// of its domains or their subdomains (`x@geneva.ngo.example` belongs to `ngo.example`).
    pub async fn organisation_of(&self, address: &str) -> Result<Option<String>> {
        let contact: Option<String> = sqlx::query_scalar(
            "SELECT o.name FROM organisation_contacts c JOIN organisations o ON o.id = c.organisation_id \
             WHERE c.address = $1",
        )
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        if contact.is_some() {
            return Ok(contact);
        }
        let Some((_, domain)) = address.rsplit_once('@') else {
            return Ok(None);
        };
        let mut candidate = domain;
        loop {
            let name: Option<String> = sqlx::query_scalar(
                "SELECT o.name FROM organisation_domains d JOIN organisations o ON o.id = d.organisation_id \
                 WHERE d.domain = $1",
            )
            .bind(candidate)
            .fetch_optional(&self.pool)
            .await?;
            if name.is_some() {
                return Ok(name);
            }
            match candidate.split_once('.') {
                Some((_, parent)) if parent.contains('.') => candidate = parent,
                _ => return Ok(None),
            }
        }
    }
}
