//! Operations endpoints and middleware: liveness, readiness, Prometheus metrics, request ids.
//! Log lines carry the route pattern, never the concrete path (paths can hold hold ids), and
//! never a body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use rand::Rng as _;
use tracing::Instrument as _;

use crate::AppState;

#[derive(Default)]
pub struct HttpMetrics {
    by_class: [AtomicU64; 5],
    micros: AtomicU64,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(|| async { HttpResponse::Ok().body("ok") }))
        .route("/health/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state.store.offices().await {
        Ok(_) if !state.directory.is_empty() => HttpResponse::Ok().body("ready"),
        Ok(_) => HttpResponse::ServiceUnavailable().body("no offices"),
        Err(_) => HttpResponse::ServiceUnavailable().body("database unavailable"),
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let w = state.writer.stats();
    let m = &state.http;
    let mut out = String::new();
    let mut line = |name: &str, help: &str, kind: &str, value: String| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
    };
    line(
        "prepazka_writer_batches_total",
        "Transactions committed by the group-commit writer",
        "counter",
        w.batches.load(Ordering::Relaxed).to_string(),
    );
    line(
        "prepazka_writer_items_total",
        "Writes committed by the group-commit writer",
        "counter",
        w.items.load(Ordering::Relaxed).to_string(),
    );
    line(
        "prepazka_writer_failed_batches_total",
        "Batches whose commit failed (none of their items acknowledged)",
        "counter",
        w.failed_batches.load(Ordering::Relaxed).to_string(),
    );
    line(
        "prepazka_writer_commit_seconds_total",
        "Time spent applying and committing batches",
        "counter",
        format!("{:.6}", w.commit_micros.load(Ordering::Relaxed) as f64 / 1e6),
    );
    line(
        "prepazka_http_request_seconds_total",
        "Time spent serving HTTP requests",
        "counter",
        format!("{:.6}", m.micros.load(Ordering::Relaxed) as f64 / 1e6),
    );
    out.push_str("# HELP prepazka_http_responses_total HTTP responses by status class\n# TYPE prepazka_http_responses_total counter\n");
    for (i, class) in ["1xx", "2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
        out.push_str(&format!("prepazka_http_responses_total{{class=\"{class}\"}} {}\n", m.by_class[i].load(Ordering::Relaxed)));
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(out)
}

/// Gives every request an id (kept from `X-Request-Id` when sane), a span, and a log line.
pub async fn request_id(req: ServiceRequest, next: Next<impl MessageBody>) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", rand::thread_rng().gen::<u64>()));
    let method = req.method().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!("http", request_id = %id, method = %method, route = tracing::field::Empty);
    let started = Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    // Finding the route pattern walks the router again (its regex matching showed in the
    // booking surge's profile): only when the span is recorded.
    if !span.is_disabled() {
        let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".into());
        span.record("route", route.as_str());
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(state) = state {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        state.http.by_class[class].fetch_add(1, Ordering::Relaxed);
        state.http.micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    tracing::debug!(parent: &span, status, micros = elapsed.as_micros() as u64, "request");
    Ok(response)
}
