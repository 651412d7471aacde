//! The supervisor's page of an office: counters and who works them, queues, waits and service
//! times now and over the day (server-side SVG charts, no script), a CSV export of the day,
//! and the office calendar: unplanned closures and capacity released for booking.
//!
//! Only staff whose role supervises (supervisor, administrator) and who belong to the office
//! get here. Every change goes through the office's actor and is audited under the username.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use prepazka_actors::office::{CounterChange, DaySnapshot};
use prepazka_actors::OfficeHandle;
use prepazka_models::calendar::{prague_date, prague_day_bounds, PRAGUE};
use prepazka_models::identity::parse_iso_date;
use prepazka_models::locale::Locale;
use prepazka_models::queue::{Origin, Ticket, TicketState};
use prepazka_models::service::ServiceKind;
use prepazka_models::wait::{expected_wait, summarise, wait_by_hour, waiting_over_time};
use prepazka_models::ErrorCode;
use prepazka_store::{Outcome, StaffSession};

use crate::error::{catalog, ApiError};
use crate::html::esc;
use crate::i18n::Lang;
use crate::pages::{clock_label, form_pairs, html};
use crate::staff::{check_csrf, field, session_of};
use crate::AppState;

/// The longest closure reason kept (it goes into the audit log and the notices).
const REASON_MAX: usize = 200;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/supervisor", web::get().to(page))
        .route("/supervisor/day.csv", web::get().to(day_csv))
        .route("/supervisor/counter", web::post().to(counter))
        .route("/supervisor/close-day", web::post().to(close_day))
        .route("/supervisor/capacity", web::post().to(capacity));
}

fn t(locale: Locale, key: &str) -> String {
    esc(&catalog().t(locale, key))
}

/// The office a supervising member of staff runs.
async fn supervised<'s>(state: &'s AppState, req: &HttpRequest, locale: Locale) -> Result<(StaffSession, &'s OfficeHandle), ApiError> {
    let session = session_of(state, req, locale).await?;
    if !session.member.role.supervises() {
        return Err(ApiError::page(ErrorCode::RoleNotAllowed, locale));
    }
    let office = session.member.office.as_ref().ok_or(ApiError::page(ErrorCode::RoleNotAllowed, locale))?;
    let handle = state.directory.get(office).ok_or(ApiError::page(ErrorCode::OfficeNotFound, locale))?;
    Ok((session, handle))
}

fn minutes(d: Option<Duration>) -> String {
    d.map(|d| format!("{}", (d.num_seconds() + 30) / 60)).unwrap_or_else(|| "–".into())
}

/// A line chart of how many waited over the day, as inline SVG.
fn waiting_chart(points: &[(DateTime<Utc>, usize)], label: &str) -> String {
    let (width, height, pad) = (640.0, 180.0, 28.0);
    let max = points.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let step = if points.len() > 1 { (width - 2.0 * pad) / (points.len() - 1) as f64 } else { 0.0 };
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, n))| format!("{:.1},{:.1}", pad + step * i as f64, height - pad - (*n as f64 / max) * (height - 2.0 * pad)))
        .collect();
    let mut ticks = String::new();
    for (i, (at, _)) in points.iter().enumerate().filter(|(i, _)| i % 4 == 0) {
        let _ = write!(
            ticks,
            r#"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{}</text>"#,
            pad + step * i as f64,
            height - 8.0,
            clock_label(*at)
        );
    }
    format!(
        r##"<svg role="img" aria-label="{label}" viewBox="0 0 {width} {height}" width="100%" data-chart="waiting"><title>{label}</title>
<line x1="{pad}" y1="{base}" x2="{right}" y2="{base}" stroke="#555"/><text x="4" y="{top}" font-size="10">{max}</text>
<polyline fill="none" stroke="#1d4ed8" stroke-width="2" points="{points}"/>{ticks}</svg>"##,
        label = esc(label),
        base = height - pad,
        right = width - pad,
        top = pad,
        max = max as usize,
        points = path.join(" "),
    )
}

/// Bars of the mean wait per hour.
fn wait_bars(hours: &[(u32, Duration, usize)], label: &str) -> String {
    let (width, height, pad) = (640.0, 180.0, 28.0);
    let max = hours.iter().map(|(_, d, _)| d.num_seconds()).max().unwrap_or(0).max(60) as f64;
    let slot = (width - 2.0 * pad) / hours.len().max(1) as f64;
    let mut bars = String::new();
    for (i, (hour, mean, count)) in hours.iter().enumerate() {
        let h = mean.num_seconds() as f64 / max * (height - 2.0 * pad);
        let x = pad + slot * i as f64;
        let _ = write!(
            bars,
            r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#0f766e"><title>{hour}:00 · {} min · {count}</title></rect><text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{hour}</text>"##,
            height - pad - h,
            slot * 0.7,
            (mean.num_seconds() + 30) / 60,
            x + slot * 0.35,
            height - 8.0
        );
    }
    format!(
        r##"<svg role="img" aria-label="{label}" viewBox="0 0 {width} {height}" width="100%" data-chart="wait-by-hour"><title>{label}</title>
<line x1="{pad}" y1="{base}" x2="{right}" y2="{base}" stroke="#555"/><text x="4" y="{pad}" font-size="10">{max_min} min</text>{bars}</svg>"##,
        label = esc(label),
        base = height - pad,
        right = width - pad,
        max_min = (max as i64 + 30) / 60,
    )
}

async fn page(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang) -> Result<HttpResponse, ApiError> {
    let (session, handle) = supervised(&state, &req, locale).await?;
    let office = handle.office();
    let day = handle.day().await.map_err(|c| ApiError::page(c, locale))?;
    let now = state.clock.now();
    let csrf = esc(&session.csrf);
    let offered: Vec<ServiceKind> = office.available_services().map(|s| s.service).collect();
    let service_name = |s: ServiceKind| t(locale, &format!("service-{}", s.slug()));

    let mut counters = String::new();
    for counter in &day.counters {
        let checks: String = offered
            .iter()
            .map(|s| {
                let checked = if counter.services.contains(s) { " checked" } else { "" };
                format!(r#"<label><input type="checkbox" name="service" value="{}"{checked}> {}</label> "#, s.slug(), service_name(*s))
            })
            .collect();
        let serving = day
            .tickets
            .iter()
            .find(
                |t| matches!(t.state, TicketState::Called { counter: c, .. } | TicketState::Serving { counter: c } if c == counter.number),
            )
            .map(|t| t.number.to_string())
            .unwrap_or_default();
        let toggle = if counter.status == prepazka_models::queue::CounterStatus::Closed { "open" } else { "close" };
        let _ = write!(
            counters,
            r#"<tr data-counter="{n}"><td>{n}</td><td data-status>{status}</td><td>{officer}</td><td>{serving}</td>
<td><form method="post" action="/supervisor/counter"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="counter" value="{n}"><input type="hidden" name="action" value="assign">{checks}<button type="submit">{assign}</button></form></td>
<td><form method="post" action="/supervisor/counter"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="counter" value="{n}"><input type="hidden" name="action" value="{toggle}"><button type="submit">{toggle_label}</button></form></td></tr>"#,
            n = counter.number,
            status = t(locale, &format!("counter-status-{}", counter.status.as_str())),
            officer = esc(counter.officer.as_deref().unwrap_or("–")),
            assign = t(locale, "supervisor-assign"),
            toggle_label = t(locale, &format!("supervisor-counter-{toggle}")),
        );
    }

    let mut queues = String::new();
    for summary in summarise(&day.tickets, &offered, now) {
        let planned = office.service(summary.service).map(|s| Duration::minutes(i64::from(s.slot_minutes))).unwrap_or_default();
        let newcomer = hypothetical_wait(&day, summary.service, planned, now);
        let _ = write!(
            queues,
            r#"<tr data-service="{}"><td>{}</td><td data-waiting>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            summary.service.slug(),
            service_name(summary.service),
            summary.waiting,
            minutes(summary.longest_waiting),
            minutes(summary.mean_wait),
            minutes(summary.mean_service),
            minutes(newcomer),
            summary.served,
            summary.no_shows,
        );
    }

    let today = prague_date(now);
    let (from, _) = prague_day_bounds(today).ok_or(ApiError::page(ErrorCode::Internal, locale))?;
    let first = day.tickets.iter().map(|t| t.arrived_at).min().unwrap_or(now);
    let start = from + Duration::minutes(((first - from).num_minutes() / 15) * 15);
    let curve = waiting_over_time(&day.tickets, start, now, Duration::minutes(15));
    let closures: String = day.closures.iter().filter(|d| **d >= today).map(|d| format!("<li>{d}</li>")).collect();
    let service_options: String =
        offered.iter().map(|s| format!(r#"<option value="{}">{}</option>"#, s.slug(), service_name(*s))).collect();

    let body = format!(
        r#"<p class="muted">{office} · {user}</p>
<p><a href="/supervisor/day.csv" download>{csv}</a></p>
<h2>{counters_label}</h2><table class="list" data-counters><thead><tr><th>#</th><th>{status_h}</th><th>{officer_h}</th><th>{serving_h}</th><th>{services_h}</th><th></th></tr></thead><tbody>{counters}</tbody></table>
<h2>{queues_label}</h2><table class="list" data-queues><thead><tr><th></th><th>{waiting_h}</th><th>{longest_h}</th><th>{mean_wait_h}</th><th>{service_time_h}</th><th>{expected_h}</th><th>{served_h}</th><th>{no_show_h}</th></tr></thead><tbody>{queues}</tbody></table>
<h2>{over_day}</h2>{chart}{bars}
<h2>{calendar_label}</h2>
<form method="post" action="/supervisor/close-day" class="card"><input type="hidden" name="csrf" value="{csrf}"><h3>{close_h}</h3><p class="muted">{close_note}</p>
<label for="close-day">{day_label}</label><input id="close-day" name="day" type="date" required><label for="reason">{reason_label}</label><input id="reason" name="reason" maxlength="{REASON_MAX}" required>
<button type="submit">{close_submit}</button></form><ul data-closures>{closures}</ul>
<form method="post" action="/supervisor/capacity" class="card"><input type="hidden" name="csrf" value="{csrf}"><h3>{capacity_h}</h3>
<label for="cap-service">{service_label}</label><select id="cap-service" name="service">{service_options}</select>
<label for="cap-day">{day_label}</label><input id="cap-day" name="day" type="date" required>
<label for="cap-n">{capacity_label}</label><input id="cap-n" name="capacity" type="number" min="0" max="50" required><button type="submit">{capacity_submit}</button></form>
<form method="post" action="/staff/logout"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">{logout}</button></form>"#,
        office = esc(&office.name),
        user = esc(&session.member.username),
        csv = t(locale, "supervisor-csv"),
        counters_label = t(locale, "supervisor-counters"),
        status_h = t(locale, "supervisor-status"),
        officer_h = t(locale, "supervisor-officer"),
        serving_h = t(locale, "supervisor-serving"),
        services_h = t(locale, "counter-services"),
        queues_label = t(locale, "supervisor-queues"),
        waiting_h = t(locale, "supervisor-waiting"),
        longest_h = t(locale, "supervisor-longest"),
        mean_wait_h = t(locale, "supervisor-mean-wait"),
        service_time_h = t(locale, "supervisor-service-time"),
        expected_h = t(locale, "supervisor-expected"),
        served_h = t(locale, "supervisor-served"),
        no_show_h = t(locale, "supervisor-no-shows"),
        over_day = t(locale, "supervisor-over-day"),
        chart = waiting_chart(&curve, &catalog().t(locale, "supervisor-chart-waiting")),
        bars = wait_bars(&wait_by_hour(&day.tickets), &catalog().t(locale, "supervisor-chart-wait-by-hour")),
        calendar_label = t(locale, "supervisor-calendar"),
        close_h = t(locale, "supervisor-close-day"),
        close_note = t(locale, "supervisor-close-note"),
        day_label = t(locale, "supervisor-day"),
        reason_label = t(locale, "supervisor-reason"),
        close_submit = t(locale, "supervisor-close-submit"),
        capacity_h = t(locale, "supervisor-capacity"),
        service_label = t(locale, "service-choose"),
        capacity_label = t(locale, "supervisor-capacity-per-slot"),
        capacity_submit = t(locale, "supervisor-capacity-submit"),
        logout = t(locale, "staff-logout"),
    );
    let mut body = body;
    if let Some(interpreting) = &state.interpreting {
        let suspended = interpreting.is_suspended(office.id.as_str());
        let _ = write!(
            body,
            r#"<section class="card" id="interpreting"><h2>{heading}</h2><form method="post" action="/interpret/suspend"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="state" value="{next}"><button type="submit">{label}</button></form></section>"#,
            heading = t(locale, "supervisor-interpreting"),
            next = if suspended { "active" } else { "suspended" },
            label = t(locale, if suspended { "supervisor-interpreting-resume" } else { "supervisor-interpreting-suspend" }),
        );
    }
    Ok(html(&req, locale, &format!("{} · {}", catalog().t(locale, "supervisor-title"), office.name), &body))
}

/// The wait a walk-in taking a ticket for `service` now would be told.
pub(crate) fn hypothetical_wait(day: &DaySnapshot, service: ServiceKind, planned: Duration, now: DateTime<Utc>) -> Option<Duration> {
    let probe = prepazka_models::queue::TicketNumber::new(service, prepazka_models::queue::MAX_TICKETS_PER_SERVICE);
    let mut tickets = day.tickets.clone();
    tickets.push(Ticket {
        number: probe,
        service,
        origin: Origin::WalkIn,
        priority: false,
        arrived_at: now,
        state: TicketState::Waiting,
        called_at: None,
        started_at: None,
        finished_at: None,
        counter: None,
    });
    expected_wait(&tickets, &day.counters, probe, planned, &day.params, now)
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// The day's tickets as CSV: numbers, services, times and counters; never a name.
async fn day_csv(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang) -> Result<HttpResponse, ApiError> {
    let (_, handle) = supervised(&state, &req, locale).await?;
    let day = handle.day().await.map_err(|c| ApiError::page(c, locale))?;
    let today = prague_date(state.clock.now());
    let time = |at: Option<DateTime<Utc>>| at.map(|a| a.with_timezone(&PRAGUE).format("%H:%M:%S").to_string()).unwrap_or_default();
    let mut out = String::from("ticket,service,origin,priority,arrived,called,started,finished,state,counter,waited_min,service_min\n");
    for ticket in &day.tickets {
        let state_name = match ticket.state {
            TicketState::Waiting => "waiting",
            TicketState::Called { .. } => "called",
            TicketState::Serving { .. } => "serving",
            TicketState::Done => "done",
            TicketState::NoShow => "no_show",
        };
        let origin = match ticket.origin {
            Origin::Appointment { .. } => "appointment",
            Origin::WalkIn => "walk_in",
        };
        let fields = [
            ticket.number.to_string(),
            ticket.service.slug().to_owned(),
            origin.to_owned(),
            ticket.priority.to_string(),
            time(Some(ticket.arrived_at)),
            time(ticket.called_at),
            time(ticket.started_at),
            time(ticket.finished_at),
            state_name.to_owned(),
            ticket.counter.map(|c| c.to_string()).unwrap_or_default(),
            ticket.waited().map(|d| format!("{:.1}", d.num_seconds() as f64 / 60.0)).unwrap_or_default(),
            ticket.service_time().map(|d| format!("{:.1}", d.num_seconds() as f64 / 60.0)).unwrap_or_default(),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}-{today}.csv\"", handle.office().id)))
        .body(out))
}

fn back() -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, "/supervisor")).finish()
}

/// A supervisor's form after its checks: signed in, supervising, the session's CSRF token.
async fn supervisor_form<'s>(
    state: &'s AppState,
    req: &HttpRequest,
    locale: Locale,
    body: &str,
) -> Result<(Vec<(String, String)>, StaffSession, &'s OfficeHandle), ApiError> {
    let (session, handle) = supervised(state, req, locale).await?;
    let form = form_pairs(body);
    check_csrf(&session, field(&form, "csrf").unwrap_or_default(), locale)?;
    Ok((form, session, handle))
}

async fn counter(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let (form, session, handle) = supervisor_form(&state, &req, locale, &body).await?;
    let number: u16 = field(&form, "counter").and_then(|c| c.parse().ok()).ok_or(fail(ErrorCode::InvalidInput))?;
    let change = match field(&form, "action").unwrap_or_default() {
        "assign" => {
            let services: BTreeSet<ServiceKind> =
                form.iter().filter(|(k, _)| k == "service").map(|(_, v)| v.parse()).collect::<Result<_, _>>().map_err(fail)?;
            CounterChange::Assign(services)
        }
        "open" => CounterChange::Open { officer: session.member.username.clone() },
        "close" => CounterChange::Close,
        _ => return Err(fail(ErrorCode::InvalidInput)),
    };
    handle.change_counter(number, change, &session.member.username).await.map_err(fail)?;
    Ok(back())
}

async fn close_day(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let (form, session, handle) = supervisor_form(&state, &req, locale, &body).await?;
    let day = parse_iso_date(field(&form, "day").unwrap_or_default()).map_err(fail)?;
    let reason = field(&form, "reason").unwrap_or_default().trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX {
        return Err(fail(ErrorCode::InvalidInput));
    }
    let rebook = format!("/offices/{}", handle.office().id);
    let outcome = handle.close_day(day, reason, &rebook, &session.member.username).await.map_err(fail)?;
    if let Outcome::Closed { cancelled } = outcome {
        tracing::info!(office.id = %handle.office().id, %day, cancelled, "office closed for a day");
    }
    Ok(back())
}

async fn capacity(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let (form, session, handle) = supervisor_form(&state, &req, locale, &body).await?;
    let service: ServiceKind = field(&form, "service").unwrap_or_default().parse().map_err(fail)?;
    let day = parse_iso_date(field(&form, "day").unwrap_or_default()).map_err(fail)?;
    let capacity: u32 = field(&form, "capacity").and_then(|c| c.parse().ok()).filter(|c| *c <= 50).ok_or(fail(ErrorCode::InvalidInput))?;
    handle.set_capacity(service, day, capacity, &session.member.username).await.map_err(fail)?;
    Ok(back())
}
