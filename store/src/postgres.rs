//! The PostgreSQL backend, for production: one write connection for the batching writer and a
//! read pool. Durability settings are checked at start.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};

use crate::migrate;

mod shared {
    crate::ops::shared_ops!(sqlx::Postgres);
}

pub struct PgStore {
    writer: PgPool,
    readers: PgPool,
}

impl PgStore {
    /// Connects to `url` and applies migrations.
    pub async fn open(url: &str) -> Result<Self, crate::StoreError> {
        let options = PgConnectOptions::from_str(url)?.statement_cache_capacity(256);
        let writer = PgPoolOptions::new().max_connections(1).acquire_timeout(Duration::from_secs(30)).connect_with(options.clone()).await?;
        let readers = PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(30)).connect_with(options).await?;
        let store = Self { writer, readers };
        shared::migrate(&store.writer, migrate::POSTGRES).await?;
        Ok(store)
    }
}

crate::ops::store_impl!(PgStore, crate::Backend::Postgres, "BEGIN", migrate::POSTGRES);

impl PgStore {
    async fn durability(&self) -> Result<(), crate::StoreError> {
        let fsync: String = sqlx::query("SHOW fsync").fetch_one(&self.writer).await?.try_get(0)?;
        let commit: String = sqlx::query("SHOW synchronous_commit").fetch_one(&self.writer).await?.try_get(0)?;
        if fsync != "on" {
            return Err(crate::StoreError::NotDurable(format!("fsync = {fsync}")));
        }
        if commit == "off" {
            return Err(crate::StoreError::NotDurable("synchronous_commit = off".into()));
        }
        Ok(())
    }

    async fn backup(&self, _path: &Path) -> Result<(), crate::StoreError> {
        Err(crate::StoreError::Unsupported("back up PostgreSQL with pg_dump or pg_basebackup (see docs/OPERATIONS.md)"))
    }
}
