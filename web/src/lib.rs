//! The web face of prepazka: the JSON API under `/api/v1`, the server-rendered pages, health
//! and metrics, and the one place where errors become HTTP (`error.rs`).
//!
//! Handlers parse their input into domain types at the edge, call the booking flow
//! (`booking.rs`), which talks to office actors through their handles, and render the answer.
//! Concurrency: actix-web workers share one [`AppState`]; all mutable state lives in the actors,
//! the store, or the small guards of `limits.rs`.
//!
//! Deliberately absent: SQL and `Addr<_>` of any actor.

pub mod admin;
pub mod api;
pub mod assist;
pub mod booking;
pub mod error;
pub mod html;
pub mod i18n;
pub mod idempotency;
pub mod interpret;
pub mod limits;
pub mod office_day;
pub mod ops;
pub mod pages;
pub mod secrets;
pub mod staff;
pub mod supervisor;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::error::{JsonPayloadError, UrlencodedError};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use prepazka_actors::Directory;
use prepazka_models::clock::Clock;
use prepazka_models::registry::ForeignersRegistry;
use prepazka_models::ErrorCode;
use prepazka_store::writer::Writer;
use prepazka_store::SharedStore;

use crate::error::ApiError;
use crate::i18n::Lang;

/// Largest request body accepted anywhere; booking forms are a few hundred bytes.
pub const BODY_LIMIT: usize = 16 * 1024;

/// Everything a request handler can reach.
pub struct AppState {
    pub directory: Directory,
    pub store: SharedStore,
    pub writer: Writer,
    pub registry: Arc<dyn ForeignersRegistry>,
    pub clock: Arc<dyn Clock>,
    pub secrets: secrets::Secrets,
    pub in_flight: limits::InFlight,
    /// Failed booking look-ups per client and per code.
    pub limiter: limits::Limiter,
    /// Identity checks per client.
    pub verify_budget: limits::Limiter,
    /// Tickets taken from the phone (entrance QR code) per client.
    pub join_budget: limits::Limiter,
    pub http: ops::HttpMetrics,
    /// When each enrolled device was last seen (in memory, for the administrator's page).
    pub devices_seen: admin::DevicesSeen,
    /// Token hashes of devices as they are revoked: a display's open event stream ends at once.
    pub revocations: tokio::sync::broadcast::Sender<Arc<str>>,
    pub hold_minutes: i64,
    pub secure_cookies: bool,
    /// AI interpreting; `None` when its log could not be opened (booking and queues go on).
    pub interpreting: Option<prepazka_actors::interpreter::Interpreting>,
}

/// Tunables of the web layer.
#[derive(Debug, Clone, Copy)]
pub struct WebSettings {
    pub hold_minutes: i64,
    pub verify_per_minute: u32,
    pub secure_cookies: bool,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        directory: Directory,
        store: SharedStore,
        writer: Writer,
        registry: Arc<dyn ForeignersRegistry>,
        clock: Arc<dyn Clock>,
        secrets: secrets::Secrets,
        settings: WebSettings,
    ) -> Self {
        Self {
            directory,
            store,
            writer,
            registry,
            clock,
            secrets,
            in_flight: limits::InFlight::default(),
            limiter: limits::Limiter::new(10, Duration::from_secs(15 * 60)),
            verify_budget: limits::Limiter::new(settings.verify_per_minute, Duration::from_secs(60)),
            join_budget: limits::Limiter::new(office_day::JOIN_PER_CLIENT, Duration::from_secs(15 * 60)),
            http: ops::HttpMetrics::default(),
            devices_seen: admin::DevicesSeen::default(),
            revocations: tokio::sync::broadcast::channel(64).0,
            hold_minutes: settings.hold_minutes,
            secure_cookies: settings.secure_cookies,
            interpreting: None,
        }
    }
}

fn is_api(req: &HttpRequest) -> bool {
    req.path().starts_with("/api/")
}

fn surface(req: &HttpRequest) -> error::Surface {
    if is_api(req) {
        error::Surface::Api
    } else {
        error::Surface::Page
    }
}

/// Registers routes, body limits and localised extractor errors on an app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default().limit(BODY_LIMIT).error_handler(|err, req| {
        let code = match err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => ErrorCode::PayloadTooLarge,
            JsonPayloadError::ContentType => ErrorCode::UnsupportedMediaType,
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, Lang::of(req)).on(surface(req)).into()
    });
    let form = web::FormConfig::default().limit(BODY_LIMIT).error_handler(|err, req| {
        let code = match err {
            UrlencodedError::Overflow { .. } => ErrorCode::PayloadTooLarge,
            UrlencodedError::ContentType => ErrorCode::UnsupportedMediaType,
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, Lang::of(req)).on(surface(req)).into()
    });
    let query =
        web::QueryConfig::default().error_handler(|_, req| ApiError::new(ErrorCode::InvalidInput, Lang::of(req)).on(surface(req)).into());
    let path = web::PathConfig::default().error_handler(|_, req| ApiError::new(ErrorCode::NotFound, Lang::of(req)).on(surface(req)).into());
    cfg.app_data(json)
        .app_data(form)
        .app_data(query)
        .app_data(path)
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .configure(ops::routes)
        .configure(api::routes)
        .configure(office_day::routes)
        .configure(staff::routes)
        .configure(assist::routes)
        .configure(admin::routes)
        .configure(supervisor::routes)
        .configure(interpret::routes)
        .configure(pages::routes);
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound, Lang::of(&req)).on(surface(&req)))
}

/// Builds the HTTP server on an already bound listener (port 0 in tests); with `tls`, it
/// speaks HTTPS only.
pub fn server(
    state: web::Data<AppState>,
    listener: TcpListener,
    workers: usize,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        App::new().app_data(state.clone()).wrap(from_fn(ops::request_id)).configure(configure).default_service(web::to(not_found))
    })
    .workers(workers.max(1))
    .backlog(4096)
    .max_connection_rate(4096)
    .shutdown_timeout(30);
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}
