//! Idempotency keys on every creating POST: scoped to the caller and the route, stored with a
//! hash of the body in the same transaction as the write, kept 24 hours.
//! A replay gets the stored answer; the same key with another body is refused (422); a key
//! whose first request is still being committed is held in flight until that commit, and a
//! concurrent duplicate meanwhile gets 409.

use std::future::Future;

use actix_web::HttpRequest;
use prepazka_models::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::booking::IdempotencyContext;
use crate::AppState;

pub const HEADER: &str = "Idempotency-Key";

/// The answer to an idempotent request: fresh, or replayed from the store.
pub struct Answer<T> {
    pub value: T,
    pub replayed: bool,
}

/// Reads and checks the key from the `Idempotency-Key` header.
pub fn key_from(req: &HttpRequest) -> Result<String, ErrorCode> {
    let raw = req.headers().get(HEADER).ok_or(ErrorCode::IdempotencyKeyMissing)?;
    let key = raw.to_str().map_err(|_| ErrorCode::InvalidInput)?.trim();
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ErrorCode::InvalidInput);
    }
    Ok(key.to_owned())
}

pub fn body_hash(body: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// Runs `run` at most once per (scope, key) and answers replays from the store.
pub async fn once<T, F, Fut>(state: &AppState, scope: String, key: String, body_hash: String, run: F) -> Result<Answer<T>, ErrorCode>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce(IdempotencyContext) -> Fut,
    Fut: Future<Output = Result<T, ErrorCode>>,
{
    let _in_flight = state.in_flight.enter(&scope, &key).ok_or(ErrorCode::IdempotencyKeyInFlight)?;
    if let Some(stored) = state.store.idempotent_response(&scope, &key).await.map_err(|_| ErrorCode::Unavailable)? {
        if stored.body_hash != body_hash {
            return Err(ErrorCode::IdempotencyKeyReused);
        }
        let value = serde_json::from_str(&stored.response).map_err(|_| ErrorCode::Internal)?;
        return Ok(Answer { value, replayed: true });
    }
    let value = run(IdempotencyContext { scope, key, body_hash }).await?;
    Ok(Answer { value, replayed: false })
}
