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

crate::ops::store_impl!(PgStore, crate::Backend::Postgres, migrate::POSTGRES);

impl PgStore {
    async fn apply(&self, writes: Vec<crate::Write>) -> crate::items::BatchResult {
        let mut conn = self.writer.acquire().await?;
        crate::items::apply_batch(&mut Connection(&mut conn), "BEGIN", &writes).await
    }

    async fn close_writer(&self) {
        self.writer.close().await;
    }

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

/// The write connection as the write path drives it: one statement per round trip (the
/// extended protocol takes one at a time).
struct Connection<'c>(&'c mut sqlx::PgConnection);

impl crate::items::WriteConn for Connection<'_> {
    async fn control(&mut self, sql: &str) -> Result<(), crate::StoreError> {
        sqlx::query(sql).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn run(&mut self, stmts: Vec<crate::ops::Stmt>) -> Result<Vec<u64>, crate::ops::ItemError> {
        let mut changes = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            changes.push(bound(stmt).execute(&mut *self.0).await?.rows_affected());
        }
        Ok(changes)
    }

    async fn rows(&mut self, stmt: crate::ops::Stmt) -> Result<Vec<crate::ops::Row>, crate::ops::ItemError> {
        Ok(bound(&stmt).fetch_all(&mut *self.0).await?.iter().map(owned_row).collect())
    }
}

/// Binds a statement's values in order.
fn bound(stmt: &crate::ops::Stmt) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    use crate::ops::Arg;
    stmt.args.iter().fold(sqlx::query(&stmt.sql), |query, arg| match arg {
        Arg::Int(v) => query.bind(*v),
        Arg::OptInt(v) => query.bind(*v),
        Arg::Text(v) => query.bind(v.as_str()),
        Arg::OptText(v) => query.bind(v.as_deref()),
        Arg::Bool(v) => query.bind(*v),
        Arg::Bytes(v) => query.bind(v.as_slice()),
    })
}

impl crate::ops::ReadConn for PgPool {
    async fn rows(&self, stmt: crate::ops::Stmt) -> Result<Vec<crate::ops::Row>, crate::StoreError> {
        Ok(bound(&stmt).fetch_all(self).await?.iter().map(owned_row).collect())
    }
}

/// A row as a backend-neutral [`crate::ops::Row`], each column decoded by its PostgreSQL type.
fn owned_row(row: &sqlx::postgres::PgRow) -> crate::ops::Row {
    use crate::ops::Value;
    use sqlx::{Column as _, TypeInfo as _};
    let columns = row
        .columns()
        .iter()
        .map(|column| {
            let i = column.ordinal();
            let value = match column.type_info().name() {
                "INT8" => row.try_get::<Option<i64>, _>(i).map(|v| v.map(Value::Int)),
                "INT4" => row.try_get::<Option<i32>, _>(i).map(|v| v.map(|v| Value::Int(i64::from(v)))),
                "INT2" => row.try_get::<Option<i16>, _>(i).map(|v| v.map(|v| Value::Int(i64::from(v)))),
                "BOOL" => row.try_get::<Option<bool>, _>(i).map(|v| v.map(|v| Value::Int(i64::from(v)))),
                "BYTEA" => row.try_get::<Option<Vec<u8>>, _>(i).map(|v| v.map(Value::Bytes)),
                "FLOAT8" => row.try_get::<Option<f64>, _>(i).map(|v| v.map(Value::Real)),
                "FLOAT4" => row.try_get::<Option<f32>, _>(i).map(|v| v.map(|v| Value::Real(f64::from(v)))),
                _ => row.try_get::<Option<String>, _>(i).map(|v| v.map(Value::Text)),
            };
            // A type we do not read comes back as NULL; the typed getters then name the column.
            (column.name().to_owned(), value.ok().flatten().unwrap_or(Value::Null))
        })
        .collect();
    crate::ops::Row { columns }
}
