//! Store failures: the database could not do what was asked, as opposed to a rule refusing it
//! (those are `ErrorCode`s answered per item).

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("configuration: {0}")]
    Config(String),
    #[error("durability check failed: {0}")]
    NotDurable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("not supported on this backend: {0}")]
    Unsupported(&'static str),
    #[error("the writer has stopped")]
    WriterStopped,
}
