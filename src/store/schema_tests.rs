//! The SQLite and PostgreSQL migrations are written twice, once per dialect: this test
//! applies each to an empty database and compares what the catalogues say was built, so
//! that the two cannot drift apart unnoticed.
//!
//! Each schema is read as a set of facts (a table, a column with its type, nullability and
//! default, a primary key, a unique constraint, an index, a foreign key), in words both
//! databases' catalogues can be brought to.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::time::Duration;

use super::Store;

#[tokio::test]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let Some(postgres) = FreshPostgresSchema::create("migrations_schema").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let sqlite = Store::open(&format!("sqlite://{}/schema.db", dir.path().display()), 1)
        .await
        .expect("SQLite migrations apply");
    let sqlite_schema = sqlite_facts(&sqlite).await;
    sqlite.close().await;
    let postgres_store = Store::open(&postgres.url, 1)
        .await
        .expect("PostgreSQL migrations apply");
    let postgres_schema = postgres_facts(&postgres_store).await;
    postgres_store.close().await;
    postgres.drop().await;

    // A catalogue query that reads nothing would make any two schemas agree.
    for facts in [&sqlite_schema, &postgres_schema] {
        assert!(facts.contains("table members"), "{facts:#?}");
        assert!(
            facts.contains("members.address: text not null"),
            "{facts:#?}"
        );
        assert!(facts.contains("members: unique (address)"), "{facts:#?}");
        assert!(
            facts.contains("deliveries: index deliveries_due (next_attempt_at, id) partial"),
            "{facts:#?}"
        );
    }
    let only_sqlite: Vec<&String> = sqlite_schema.difference(&postgres_schema).collect();
    let only_postgres: Vec<&String> = postgres_schema.difference(&sqlite_schema).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migrations build different schemas\nonly in SQLite: {only_sqlite:#?}\n\
         only in PostgreSQL: {only_postgres:#?}"
    );
}

/// A column in the words both databases are brought to.
struct Column {
    table: String,
    name: String,
    /// `int64`, `text`, `bytes`, or the database's own word for anything else.
    kind: String,
    not_null: bool,
    /// As written in the migration, without PostgreSQL's casts.
    default: Option<String>,
    /// The database numbers new rows (SQLite's INTEGER PRIMARY KEY, PostgreSQL's BIGSERIAL).
    generated: bool,
}

/// An index that a migration created, or that backs a primary key or unique constraint
/// (named by each database in its own way).
struct Index {
    table: String,
    /// Comma-separated, in index order.
    columns: String,
    kind: IndexKind,
}

enum IndexKind {
    PrimaryKey,
    Unique,
    Created {
        name: String,
        unique: bool,
        partial: bool,
    },
}

struct ForeignKey {
    table: String,
    /// Comma-separated, as `references`.
    columns: String,
    referenced_table: String,
    references: String,
    /// SQLite's words: `NO ACTION`, `CASCADE`, `SET NULL`, `SET DEFAULT`, `RESTRICT`.
    on_delete: String,
}

fn facts(columns: &[Column], indexes: &[Index], foreign_keys: &[ForeignKey]) -> BTreeSet<String> {
    let mut facts = BTreeSet::new();
    for column in columns {
        facts.insert(format!("table {}", column.table));
        let mut fact = format!("{}.{}: {}", column.table, column.name, column.kind);
        if column.generated {
            fact.push_str(" generated");
        } else if column.not_null {
            fact.push_str(" not null");
        }
        if let Some(default) = &column.default {
            fact.push_str(&format!(" default {default}"));
        }
        facts.insert(fact);
    }
    for index in indexes {
        let (table, columns) = (&index.table, &index.columns);
        facts.insert(match &index.kind {
            IndexKind::PrimaryKey => format!("{table}: primary key ({columns})"),
            IndexKind::Unique => format!("{table}: unique ({columns})"),
            IndexKind::Created {
                name,
                unique,
                partial,
            } => format!(
                "{table}: {}index {name} ({columns}){}",
                if *unique { "unique " } else { "" },
                if *partial { " partial" } else { "" },
            ),
        });
    }
    for key in foreign_keys {
        facts.insert(format!(
            "{}: ({}) references {} ({}) on delete {}",
            key.table, key.columns, key.referenced_table, key.references, key.on_delete
        ));
    }
    facts
}

/// Tables of the schema that the migrations define: not SQLite's own, not sqlx's ledger.
/// Ordinary tables: FTS5's virtual tables and the shadow tables that hold their index are
/// each one fact, [`FULL_TEXT`], as PostgreSQL's GIN index over the same columns is.
const SQLITE_TABLES: &str = "SELECT name FROM sqlite_master WHERE type = 'table' \
     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations' \
     AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' AND NOT EXISTS (SELECT 1 FROM sqlite_master v \
     WHERE v.sql LIKE 'CREATE VIRTUAL TABLE%' AND sqlite_master.name LIKE v.name || '\\_%' ESCAPE '\\')";

/// A full-text index, by name: an FTS5 table in SQLite, a GIN index in PostgreSQL.
const FULL_TEXT: &str = "full-text index";

#[derive(sqlx::FromRow)]
struct SqliteColumn {
    table_name: String,
    name: String,
    declared_type: String,
    not_null: i64,
    default_value: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SqliteKey {
    table_name: String,
    columns: String,
    /// The key is the rowid, which SQLite numbers itself: a lone INTEGER PRIMARY KEY.
    rowid: i64,
}

#[derive(sqlx::FromRow)]
struct SqliteIndex {
    table_name: String,
    name: String,
    unique: i64,
    /// `c` (CREATE INDEX) or `u` (UNIQUE constraint).
    origin: String,
    partial: i64,
    columns: String,
}

#[derive(sqlx::FromRow)]
struct SqliteForeignKey {
    table_name: String,
    columns: String,
    referenced_table: String,
    references: String,
    on_delete: String,
}

async fn sqlite_facts(store: &Store) -> BTreeSet<String> {
    let columns: Vec<SqliteColumn> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.name AS table_name, c.name, c.type AS declared_type, c.\"notnull\" AS not_null, \
         c.dflt_value AS default_value FROM ({SQLITE_TABLES}) t, pragma_table_info(t.name) c"
    )))
    .fetch_all(&store.pool)
    .await
    .expect("SQLite columns");
    let keys: Vec<SqliteKey> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.name AS table_name, group_concat(c.name, ', ' ORDER BY c.pk) AS columns, \
         COUNT(*) = 1 AND upper(max(c.type)) = 'INTEGER' AS rowid \
         FROM ({SQLITE_TABLES}) t, pragma_table_info(t.name) c WHERE c.pk > 0 GROUP BY t.name"
    )))
    .fetch_all(&store.pool)
    .await
    .expect("SQLite primary keys");
    // The index SQLite keeps for a primary key (origin `pk`), if any, is the key read above.
    let indexes: Vec<SqliteIndex> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.name AS table_name, l.name, l.\"unique\" AS \"unique\", l.origin, l.partial, \
         (SELECT group_concat(i.name, ', ' ORDER BY i.seqno) FROM pragma_index_info(l.name) i) \
         AS columns FROM ({SQLITE_TABLES}) t, pragma_index_list(t.name) l WHERE l.origin <> 'pk'"
    )))
    .fetch_all(&store.pool)
    .await
    .expect("SQLite indexes");
    let foreign_keys: Vec<SqliteForeignKey> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.name AS table_name, f.\"table\" AS referenced_table, f.on_delete, \
         group_concat(f.\"from\", ', ' ORDER BY f.seq) AS columns, \
         group_concat(f.\"to\", ', ' ORDER BY f.seq) AS \"references\" \
         FROM ({SQLITE_TABLES}) t, pragma_foreign_key_list(t.name) f GROUP BY t.name, f.id"
    )))
    .fetch_all(&store.pool)
    .await
    .expect("SQLite foreign keys");

    let columns: Vec<Column> = columns.into_iter().map(|c| c.common(&keys)).collect();
    let indexes: Vec<Index> = keys
        .into_iter()
        .map(SqliteKey::common)
        .chain(indexes.into_iter().map(SqliteIndex::common))
        .collect();
    let foreign_keys: Vec<ForeignKey> = foreign_keys
        .into_iter()
        .map(SqliteForeignKey::common)
        .collect();
    let mut facts = facts(&columns, &indexes, &foreign_keys);
    let full_text: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'",
    )
    .fetch_all(&store.pool)
    .await
    .expect("SQLite full-text tables");
    facts.extend(
        full_text
            .into_iter()
            .map(|name| format!("{FULL_TEXT} {name}")),
    );
    facts
}

impl SqliteColumn {
    fn common(self, keys: &[SqliteKey]) -> Column {
        Column {
            generated: keys
                .iter()
                .any(|k| k.rowid != 0 && k.table_name == self.table_name && k.columns == self.name),
            kind: match self.declared_type.to_ascii_uppercase().as_str() {
                "INTEGER" | "BIGINT" => "int64".to_string(),
                "TEXT" => "text".to_string(),
                "BLOB" => "bytes".to_string(),
                other => other.to_ascii_lowercase(),
            },
            table: self.table_name,
            name: self.name,
            not_null: self.not_null != 0,
            default: self.default_value,
        }
    }
}

impl SqliteKey {
    fn common(self) -> Index {
        Index {
            table: self.table_name,
            columns: self.columns,
            kind: IndexKind::PrimaryKey,
        }
    }
}

impl SqliteIndex {
    fn common(self) -> Index {
        Index {
            kind: if self.origin == "u" {
                IndexKind::Unique
            } else {
                IndexKind::Created {
                    name: self.name,
                    unique: self.unique != 0,
                    partial: self.partial != 0,
                }
            },
            table: self.table_name,
            columns: self.columns,
        }
    }
}

impl SqliteForeignKey {
    fn common(self) -> ForeignKey {
        ForeignKey {
            table: self.table_name,
            columns: self.columns,
            referenced_table: self.referenced_table,
            references: self.references,
            on_delete: self.on_delete,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PostgresColumn {
    table_name: String,
    column_name: String,
    data_type: String,
    not_null: bool,
    column_default: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PostgresIndex {
    table_name: String,
    index_name: String,
    columns: String,
    is_unique: bool,
    is_partial: bool,
    /// `p` or `u` for the index of a primary key or unique constraint, `None` otherwise.
    constraint_type: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PostgresForeignKey {
    table_name: String,
    columns: String,
    referenced_table: String,
    references: String,
    /// `pg_constraint.confdeltype`.
    on_delete: String,
}

/// The columns, comma-separated, that an array of attribute numbers (`$keys`) of a table
/// (`$table`, an oid) names, in array order.
fn column_names(keys: &str, table: &str) -> String {
    format!(
        "(SELECT string_agg(a.attname::text, ', ' ORDER BY k.position) \
         FROM unnest({keys}) WITH ORDINALITY AS k(number, position) \
         JOIN pg_attribute a ON a.attrelid = {table} AND a.attnum = k.number)"
    )
}

async fn postgres_facts(store: &Store) -> BTreeSet<String> {
    let columns: Vec<PostgresColumn> = sqlx::query_as(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
         data_type::text AS data_type, is_nullable = 'NO' AS not_null, \
         column_default::text AS column_default \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&store.pool)
    .await
    .expect("PostgreSQL columns");
    let in_schema = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())";
    let indexes: Vec<PostgresIndex> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.relname::text AS table_name, i.relname::text AS index_name, \
         {} AS columns, x.indisunique AS is_unique, x.indpred IS NOT NULL AS is_partial, \
         c.contype::text AS constraint_type \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.contype IN ('p', 'u') \
         WHERE t.relnamespace = {in_schema} AND t.relname <> '_sqlx_migrations' \
         AND i.relam <> (SELECT oid FROM pg_am WHERE amname = 'gin')",
        column_names("x.indkey", "t.oid"),
    )))
    .fetch_all(&store.pool)
    .await
    .expect("PostgreSQL indexes");
    let foreign_keys: Vec<PostgresForeignKey> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.relname::text AS table_name, {} AS columns, \
         r.relname::text AS referenced_table, {} AS \"references\", \
         c.confdeltype::text AS on_delete \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class r ON r.oid = c.confrelid \
         WHERE c.contype = 'f' AND c.connamespace = {in_schema}",
        column_names("c.conkey", "c.conrelid"),
        column_names("c.confkey", "c.confrelid"),
    )))
    .fetch_all(&store.pool)
    .await
    .expect("PostgreSQL foreign keys");

    let full_text: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT i.relname::text FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid WHERE t.relnamespace = {in_schema} \
         AND i.relam = (SELECT oid FROM pg_am WHERE amname = 'gin')"
    )))
    .fetch_all(&store.pool)
    .await
    .expect("PostgreSQL full-text indexes");

    let columns: Vec<Column> = columns.into_iter().map(PostgresColumn::common).collect();
    let indexes: Vec<Index> = indexes.into_iter().map(PostgresIndex::common).collect();
    let foreign_keys: Vec<ForeignKey> = foreign_keys
        .into_iter()
        .map(PostgresForeignKey::common)
        .collect();
    let mut facts = facts(&columns, &indexes, &foreign_keys);
    facts.extend(
        full_text
            .into_iter()
            .map(|name| format!("{FULL_TEXT} {name}")),
    );
    facts
}

impl PostgresColumn {
    fn common(self) -> Column {
        let generated = self
            .column_default
            .as_deref()
            .is_some_and(|d| d.starts_with("nextval("));
        Column {
            table: self.table_name,
            name: self.column_name,
            kind: match self.data_type.as_str() {
                "bigint" => "int64".to_string(),
                "bytea" => "bytes".to_string(),
                other => other.to_string(),
            },
            not_null: self.not_null,
            // `'en'::text` is how PostgreSQL keeps the `'en'` a migration wrote.
            default: self.column_default.filter(|_| !generated).map(|d| {
                match d.rsplit_once("::") {
                    Some((value, _)) => value.to_string(),
                    None => d,
                }
            }),
            generated,
        }
    }
}

impl PostgresIndex {
    fn common(self) -> Index {
        Index {
            kind: match self.constraint_type.as_deref() {
                Some("p") => IndexKind::PrimaryKey,
                Some(_) => IndexKind::Unique,
                None => IndexKind::Created {
                    name: self.index_name,
                    unique: self.is_unique,
                    partial: self.is_partial,
                },
            },
            table: self.table_name,
            columns: self.columns,
        }
    }
}

impl PostgresForeignKey {
    fn common(self) -> ForeignKey {
        ForeignKey {
            table: self.table_name,
            columns: self.columns,
            referenced_table: self.referenced_table,
            references: self.references,
            on_delete: match self.on_delete.as_str() {
                "a" => "NO ACTION",
                "r" => "RESTRICT",
                "c" => "CASCADE",
                "n" => "SET NULL",
                "d" => "SET DEFAULT",
                other => other,
            }
            .to_string(),
        }
    }
}

/// A schema of its own in the test PostgreSQL database, dropped by [`Self::drop`]; as the
/// integration tests' databases: `TEST_POSTGRES_URL`, or this machine's local server.
pub(crate) struct FreshPostgresSchema {
    pub(crate) url: String,
    base: String,
    schema: String,
}

impl FreshPostgresSchema {
    /// `None` (said plainly on stderr) when PostgreSQL cannot be reached outside CI; in CI
    /// an unreachable PostgreSQL fails.
    pub(crate) async fn create(test: &str) -> Option<FreshPostgresSchema> {
        let base = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let connected =
            tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&base)).await;
        let pool = match connected {
            Ok(Ok(pool)) => pool,
            failure => {
                let reason = match failure {
                    Ok(Err(error)) => error.to_string(),
                    _ => "no answer within 5 s".to_string(),
                };
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL is required in CI but unreachable at {base}: {reason}");
                }
                // Written past the test harness's capture so that the skip is seen.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test} on PostgreSQL: not reachable at {base} ({reason}); set TEST_POSTGRES_URL"
                );
                return None;
            }
        };
        let schema = format!("t_{test}_{:016x}", rand::random::<u64>());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&pool)
            .await
            .expect("create test schema");
        pool.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        Some(FreshPostgresSchema {
            url: format!("{base}{separator}options[search_path]={schema}"),
            base,
            schema,
        })
    }

    pub(crate) async fn drop(self) {
        if let Ok(pool) = sqlx::PgPool::connect(&self.base).await {
            let drop = format!("DROP SCHEMA {} CASCADE", self.schema);
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&pool).await;
            pool.close().await;
        }
    }
}
