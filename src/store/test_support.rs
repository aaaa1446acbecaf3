//! A fresh database of each kind for the store's own tests, so that every claim and every
//! transaction that must hold across daemons is tried on SQLite and on PostgreSQL.

use super::schema_tests::FreshPostgresSchema;
use super::Store;

/// An empty, migrated database for one test; `url` opens more stores on it, as more
/// daemons would.
pub(crate) struct TestStore {
    pub(crate) store: Store,
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<FreshPostgresSchema>,
}

impl TestStore {
    pub(crate) async fn sqlite() -> TestStore {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/tidings.db", dir.path().display());
        let store = Store::open(&url, 4).await.expect("SQLite store");
        TestStore {
            store,
            url,
            _dir: Some(dir),
            schema: None,
        }
    }

    /// `None` when PostgreSQL cannot be reached outside CI (said on stderr).
    pub(crate) async fn postgres(test: &str) -> Option<TestStore> {
        // PostgreSQL cuts identifiers at 63 bytes: keep the test name short.
        let short: String = test.chars().take(30).collect();
        let schema = FreshPostgresSchema::create(&short).await?;
        let store = Store::open(&schema.url, 4).await.expect("PostgreSQL store");
        Some(TestStore {
            store,
            url: schema.url.clone(),
            _dir: None,
            schema: Some(schema),
        })
    }

    pub(crate) async fn drop(self) {
        self.store.close().await;
        if let Some(schema) = self.schema {
            schema.drop().await;
        }
    }
}

/// Runs each named async test body (taking `&TestStore`) once on SQLite and once on
/// PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::store::test_support::TestStore;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = TestStore::sqlite().await;
                super::$name(&db).await;
                db.drop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = TestStore::postgres(stringify!($name)).await {
                    super::$name(&db).await;
                    db.drop().await;
                }
            }
        }
    )*};
}
pub(crate) use on_both;
