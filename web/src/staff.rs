//! Staff sign-in and the counter page.
//!
//! Passwords are argon2id hashes; a sign-in opens a server-side session found by the SHA-256 of
//! an `HttpOnly`, `SameSite=Strict` cookie, and every state-changing form carries the session's
//! CSRF token. An officer belongs to one office and sees only it. The counter page calls the
//! next ticket and serves it (start, done, call again, did not come, send to another service);
//! each action is a queue command of the office's actor, persisted before it is shown.

use std::collections::BTreeSet;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::Duration;
use fluent_bundle::FluentValue;
use prepazka_actors::office::CounterChange;
use prepazka_models::checks::{traffic_lights, BookingFacts, VisitFacts};
use prepazka_models::locale::Locale;
use prepazka_models::queue::{CounterStatus, Origin, QueueCommand, Ticket, TicketNumber, TicketState};
use prepazka_models::service::ServiceKind;
use prepazka_models::ErrorCode;
use prepazka_store::{StaffSession, Write};
use serde::Deserialize;

use crate::error::{catalog, ApiError};
use crate::html::esc;
use crate::i18n::Lang;
use crate::office_day::{new_token, token_hash};
use crate::pages::html;
use crate::AppState;

const STAFF_COOKIE: &str = "pz_staff";
const SESSION_HOURS: i64 = 12;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/staff/login", web::get().to(login_form))
        .route("/staff/login", web::post().to(login))
        .route("/staff/logout", web::post().to(logout))
        .route("/counter", web::get().to(counter))
        .route("/counter/call", web::post().to(call_next))
        .route("/counter/state", web::post().to(counter_state))
        .route("/counter/ticket", web::post().to(ticket_action));
}

/// An argon2id hash of a password, for storing.
pub fn hash_password(password: &str) -> Result<String, ErrorCode> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| ErrorCode::Internal)
}

fn t(locale: Locale, key: &str) -> String {
    esc(&catalog().t(locale, key))
}

/// The signed-in member of staff, or why not.
pub(crate) async fn session_of(state: &AppState, req: &HttpRequest, locale: Locale) -> Result<StaffSession, ApiError> {
    let token = req.cookie(STAFF_COOKIE).map(|c| c.value().to_owned()).ok_or(ApiError::page(ErrorCode::NotSignedIn, locale))?;
    state
        .store
        .session(&token_hash(&token), state.clock.now())
        .await
        .map_err(|_| ApiError::page(ErrorCode::Unavailable, locale))?
        .ok_or(ApiError::page(ErrorCode::NotSignedIn, locale))
}

pub(crate) fn check_csrf(session: &StaffSession, given: &str, locale: Locale) -> Result<(), ApiError> {
    if crate::secrets::constant_time_eq(session.csrf.as_bytes(), given.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::page(ErrorCode::FormExpired, locale))
    }
}

async fn login_form(req: HttpRequest, Lang(locale): Lang) -> HttpResponse {
    let body = format!(
        r#"<form method="post" action="/staff/login" class="card"><label for="u">{}</label><input id="u" name="username" autocomplete="username" required>
<label for="p">{}</label><input id="p" name="password" type="password" autocomplete="current-password" required><button type="submit">{}</button></form>"#,
        t(locale, "field-username"),
        t(locale, "field-password"),
        t(locale, "staff-login-submit")
    );
    html(&req, locale, &catalog().t(locale, "staff-login-title"), &body)
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

async fn login(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, form: web::Form<Login>) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let throttle = format!("login:{}:{}", crate::api::client_of(&req), form.username.len().min(64));
    if state.limiter.is_locked(&throttle) {
        return Err(fail(ErrorCode::TooManyRequests));
    }
    let found = if form.username.len() <= 64 && form.password.len() <= 256 {
        state.store.staff(&form.username).await.map_err(|_| fail(ErrorCode::Unavailable))?
    } else {
        None
    };
    let verified = found.filter(|(_, hash)| {
        PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(form.password.as_bytes(), &parsed).is_ok())
    });
    let Some((member, _)) = verified else {
        state.limiter.failure(&throttle);
        return Err(fail(ErrorCode::SignInFailed));
    };
    let token = new_token();
    let now = state.clock.now();
    let open = Write::OpenSession {
        token_hash: token_hash(&token),
        username: member.username.clone(),
        csrf: new_token(),
        now,
        expires_at: now + Duration::hours(SESSION_HOURS),
    };
    state.writer.submit(open).await.map_err(fail)?;
    let cookie = Cookie::build(STAFF_COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::hours(SESSION_HOURS))
        .finish();
    let home = match member.role {
        prepazka_models::office::StaffRole::Administrator => "/admin/devices",
        role if role.supervises() => "/supervisor",
        _ => "/counter",
    };
    Ok(HttpResponse::SeeOther().cookie(cookie).insert_header((header::LOCATION, home)).finish())
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, ApiError> {
    let session = session_of(&state, &req, locale).await?;
    check_csrf(&session, &form.csrf, locale)?;
    if let Some(cookie) = req.cookie(STAFF_COOKIE) {
        state.writer.submit(Write::CloseSession { token_hash: token_hash(cookie.value()) }).await.map_err(|c| ApiError::page(c, locale))?;
    }
    let mut gone = Cookie::build(STAFF_COOKIE, "").path("/").finish();
    gone.make_removal();
    Ok(HttpResponse::SeeOther().cookie(gone).insert_header((header::LOCATION, "/staff/login")).finish())
}

/// The office of a member of staff who may work counters.
pub(crate) fn counter_office<'s>(
    state: &'s AppState,
    session: &StaffSession,
    locale: Locale,
) -> Result<&'s prepazka_actors::OfficeHandle, ApiError> {
    if !session.member.role.works_counters() {
        return Err(ApiError::page(ErrorCode::RoleNotAllowed, locale));
    }
    let office = session.member.office.as_ref().ok_or(ApiError::page(ErrorCode::RoleNotAllowed, locale))?;
    state.directory.get(office).ok_or(ApiError::page(ErrorCode::OfficeNotFound, locale))
}

#[derive(Deserialize)]
struct CounterQuery {
    counter: Option<u16>,
}

fn counter_number(raw: Option<u16>, locale: Locale) -> Result<u16, ApiError> {
    match raw.unwrap_or(1) {
        n @ 1..=99 => Ok(n),
        _ => Err(ApiError::page(ErrorCode::InvalidInput, locale)),
    }
}

async fn counter(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    query: web::Query<CounterQuery>,
) -> Result<HttpResponse, ApiError> {
    let session = session_of(&state, &req, locale).await?;
    let handle = counter_office(&state, &session, locale)?;
    let number = counter_number(query.counter, locale)?;
    let office = handle.office();
    let day = handle.day().await.map_err(|c| ApiError::page(c, locale))?;
    let csrf = esc(&session.csrf);
    let me = day
        .counters
        .iter()
        .find(|c| c.number == number)
        .cloned()
        .unwrap_or_else(|| prepazka_models::queue::Counter::closed(number, office.available_services().map(|s| s.service)));
    let hidden = format!(r#"<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="counter" value="{number}">"#);
    let state_button = |action: &str, label: &str| {
        format!(
            r#"<form method="post" action="/counter/state" style="display:inline">{hidden}<input type="hidden" name="action" value="{action}"><button type="submit">{}</button></form> "#,
            t(locale, label)
        )
    };
    let status_line = format!(
        r#"<p data-counter-status="{}"><strong>{}</strong>{}</p>"#,
        me.status.as_str(),
        t(locale, &format!("counter-status-{}", me.status.as_str())),
        me.officer.as_deref().map(|o| format!(" · {}", esc(o))).unwrap_or_default()
    );
    let state_buttons = match me.status {
        CounterStatus::Closed => state_button("open", "counter-open"),
        CounterStatus::Open => format!("{}{}", state_button("pause", "counter-pause"), state_button("close", "counter-close")),
        CounterStatus::Paused => format!("{}{}", state_button("open", "counter-resume"), state_button("close", "counter-close")),
    };
    let offered: Vec<ServiceKind> = office.available_services().map(|s| s.service).collect();
    let services: String = me
        .services
        .iter()
        .map(|s| {
            let waiting = day.tickets.iter().filter(|t| t.service == *s && t.state == TicketState::Waiting).count();
            format!(
                r#"<label><input type="checkbox" name="service" value="{}" checked> {} <span class="muted">({})</span></label>"#,
                s.slug(),
                t(locale, &format!("service-{}", s.slug())),
                esc(&catalog().text(locale, "counter-waiting", &[("count", FluentValue::from(waiting))]))
            )
        })
        .collect();
    let transfer_options: String = offered
        .iter()
        .map(|s| format!(r#"<option value="{}">{}</option>"#, s.slug(), t(locale, &format!("service-{}", s.slug()))))
        .collect();
    let mut current = String::new();
    for ticket in day.tickets.iter().filter(
        |ticket| matches!(ticket.state, TicketState::Called { counter, .. } | TicketState::Serving { counter } if counter == number),
    ) {
        let action = |name: &str, label: &str| {
            format!(
                r#"<form method="post" action="/counter/ticket" style="display:inline">{hidden}<input type="hidden" name="ticket" value="{}"><input type="hidden" name="action" value="{name}"><button type="submit">{}</button></form> "#,
                ticket.number,
                t(locale, label)
            )
        };
        let lights = lights_html(&state, office, ticket, locale).await;
        current.push_str(&format!(
            r#"<div class="card"><p class="code" data-current-ticket>{}</p><p>{}</p>{lights}{}{}{}{}<form method="post" action="/counter/ticket">{hidden}<input type="hidden" name="ticket" value="{}"><input type="hidden" name="action" value="transfer"><label for="to">{}</label><select id="to" name="to">{transfer_options}</select><button type="submit">{}</button></form></div>"#,
            ticket.number,
            t(locale, &format!("service-{}", ticket.service.slug())),
            action("start", "counter-start"),
            action("complete", "counter-complete"),
            action("recall", "counter-recall"),
            action("no_show", "counter-no-show"),
            ticket.number,
            t(locale, "counter-transfer"),
            t(locale, "counter-transfer"),
        ));
    }
    let waiting: String = day
        .tickets
        .iter()
        .filter(|t| t.state == TicketState::Waiting && me.services.contains(&t.service))
        .map(|ticket| {
            let flag = if ticket.priority {
                format!(r#"<span class="badge">{}</span>"#, t(locale, "counter-priority"))
            } else {
                format!(
                    r#"<form method="post" action="/counter/ticket" style="display:inline">{hidden}<input type="hidden" name="ticket" value="{}"><input type="hidden" name="action" value="priority"><button type="submit">{}</button></form>"#,
                    ticket.number,
                    t(locale, "counter-flag-priority")
                )
            };
            let kind = match ticket.origin {
                Origin::Appointment { slot, .. } => prepazka_models::calendar::prague_label(slot),
                Origin::WalkIn => catalog().t(locale, "counter-walk-in"),
            };
            format!(
                "<tr><td data-waiting-ticket>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{flag}</td></tr>",
                ticket.number,
                t(locale, &format!("service-{}", ticket.service.slug())),
                esc(&kind),
                esc(&crate::pages::clock_label(ticket.arrived_at)),
            )
        })
        .collect();
    let appointments = todays_appointments(&state, office, &day.tickets, locale).await?;
    let body = format!(
        r#"<p class="muted">{office} · {user}</p>{status_line}<div>{state_buttons}</div><h2>{current_label}</h2>{current}
<form method="post" action="/counter/call" class="card"><input type="hidden" name="csrf" value="{csrf}">
<label for="counter">{counter_label}</label><input id="counter" name="counter" type="number" min="1" max="99" value="{number}">
<fieldset><legend>{services_label}</legend>{services}</fieldset><button type="submit">{call}</button></form>
<h2>{waiting_label}</h2><table class="list"><tbody>{waiting}</tbody></table>
<h2>{appointments_label}</h2>{appointments}{assist}
<form method="post" action="/staff/logout"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">{logout}</button></form>"#,
        office = esc(&office.name),
        user = esc(&session.member.username),
        current_label = t(locale, "counter-current"),
        counter_label = t(locale, "counter-number"),
        services_label = t(locale, "counter-services"),
        call = t(locale, "counter-call-next"),
        waiting_label = t(locale, "counter-queue"),
        appointments_label = t(locale, "counter-appointments"),
        logout = t(locale, "staff-logout"),
        assist = crate::assist::link(locale),
    );
    Ok(html(&req, locale, &format!("{} {number}", catalog().t(locale, "counter-title")), &body))
}

/// The traffic-light summary of the client at the counter (see `models::checks`).
async fn lights_html(state: &AppState, office: &prepazka_models::office::Office, ticket: &Ticket, locale: Locale) -> String {
    let booking = match ticket.origin {
        Origin::Appointment { booking, .. } => state.store.booking_by_id(booking).await.ok().flatten(),
        Origin::WalkIn => None,
    };
    let facts = VisitFacts {
        service: ticket.service,
        here: &office.id,
        booking: booking.as_ref().map(|b| BookingFacts {
            office: &b.office,
            service: b.service,
            status: b.status,
            starts_at: b.starts_at,
            checked_in_at: ticket.arrived_at,
            fee_czk: b.fee_czk,
        }),
    };
    let items: String = traffic_lights(&facts)
        .iter()
        .map(|light| {
            let args: Vec<(&str, FluentValue)> = light.args.iter().map(|(k, v)| (*k, FluentValue::from(v.clone()))).collect();
            format!(
                r#"<li class="light {colour}" data-light="{check}" data-colour="{colour}"><strong>{name}</strong> {why}</li>"#,
                colour = light.colour.as_str(),
                check = light.check.key(),
                name = t(locale, &format!("light-{}", light.check.key())),
                why = esc(&catalog().text(locale, light.reason, &args)),
            )
        })
        .collect();
    format!(r#"<ul class="lights" aria-label="{}">{items}</ul>"#, t(locale, "counter-checks"))
}

/// Today's confirmed appointments at the office, with whether each has checked in.
async fn todays_appointments(
    state: &AppState,
    office: &prepazka_models::office::Office,
    tickets: &[Ticket],
    locale: Locale,
) -> Result<String, ApiError> {
    let today = prepazka_models::calendar::prague_date(state.clock.now());
    let (from, to) = prepazka_models::calendar::prague_day_bounds(today).ok_or(ApiError::page(ErrorCode::Internal, locale))?;
    let bookings = state.store.bookings_between(&office.id, from, to).await.map_err(|_| ApiError::page(ErrorCode::Unavailable, locale))?;
    let rows: String = bookings
        .iter()
        .map(|b| {
            let ticket = tickets.iter().find(|t| matches!(t.origin, Origin::Appointment { booking, .. } if booking == b.id));
            let status = match ticket {
                Some(t) => format!("{} {}", catalog().t(locale, "counter-checked-in"), t.number),
                None => catalog().t(locale, "counter-not-arrived"),
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&crate::pages::clock_label(b.starts_at)),
                t(locale, &format!("service-{}", b.service.slug())),
                esc(&status)
            )
        })
        .collect();
    Ok(format!(r#"<table class="list" data-appointments><tbody>{rows}</tbody></table>"#))
}

pub(crate) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A counter form after its checks: signed in, the session's CSRF token, a role that works
/// counters, a counter number; with the form's fields and the officer's office.
async fn counter_form<'s>(
    state: &'s AppState,
    req: &HttpRequest,
    locale: Locale,
    body: &str,
) -> Result<(Vec<(String, String)>, &'s prepazka_actors::OfficeHandle, u16), ApiError> {
    let session = session_of(state, req, locale).await?;
    let form = crate::pages::form_pairs(body);
    check_csrf(&session, field(&form, "csrf").unwrap_or_default(), locale)?;
    let handle = counter_office(state, &session, locale)?;
    let counter = counter_number(field(&form, "counter").and_then(|c| c.parse().ok()).or(Some(0)), locale)?;
    Ok((form, handle, counter))
}

async fn call_next(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let (form, handle, counter) = counter_form(&state, &req, locale, &body).await?;
    let services: BTreeSet<ServiceKind> =
        form.iter().filter(|(k, _)| k == "service").map(|(_, v)| v.parse::<ServiceKind>()).collect::<Result<_, _>>().map_err(fail)?;
    handle.queue(QueueCommand::CallNext { counter, services }).await.map_err(fail)?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, format!("/counter?counter={counter}"))).finish())
}

async fn ticket_action(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let (form, handle, counter) = counter_form(&state, &req, locale, &body).await?;
    let number = TicketNumber::parse(field(&form, "ticket").unwrap_or_default()).map_err(|_| fail(ErrorCode::TicketNotFound))?;
    let command = match field(&form, "action").unwrap_or_default() {
        "start" => QueueCommand::Start { number, counter },
        "complete" => QueueCommand::Complete { number, counter },
        "recall" => QueueCommand::Recall { number, counter },
        "no_show" => QueueCommand::NoShow { number, counter },
        "priority" => QueueCommand::Prioritise { number },
        "transfer" => QueueCommand::Transfer { number, counter, to: field(&form, "to").unwrap_or_default().parse().map_err(fail)? },
        _ => return Err(fail(ErrorCode::InvalidInput)),
    };
    handle.queue(command).await.map_err(fail)?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, format!("/counter?counter={counter}"))).finish())
}

/// An officer opens (signs in to), pauses, resumes or closes their counter.
async fn counter_state(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let session = session_of(&state, &req, locale).await?;
    let (form, handle, counter) = counter_form(&state, &req, locale, &body).await?;
    let change = match field(&form, "action").unwrap_or_default() {
        "open" => CounterChange::Open { officer: session.member.username.clone() },
        "pause" => CounterChange::Pause,
        "close" => CounterChange::Close,
        _ => return Err(fail(ErrorCode::InvalidInput)),
    };
    handle.change_counter(counter, change, &session.member.username).await.map_err(fail)?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, format!("/counter?counter={counter}"))).finish())
}
