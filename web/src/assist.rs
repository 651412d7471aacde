//! Assisted booking: an officer books, reschedules or cancels for a person who has no internet,
//! at the desk or on the phone (`/counter/assist`, linked from the counter page).
//!
//! Every step is the online flow's own (`booking.rs`): the same registry check of the person's
//! credentials (registration number + PIN, or travel document + date of birth + name read from
//! the document), the same office actor rules, the same writes, so capacity and the per-person
//! cap are identical; only the audit row's actor differs (the officer's username). The hold is
//! confirmed at once (the person is present or on the line); an e-mail address is optional, and
//! without one no message is queued and the page prints a confirmation with code and QR code.
//!
//! An officer works for their own office only: new bookings are made there, every form names
//! the office and is refused for another, and a booking found by code is managed only when it
//! is at the officer's office (a caller with a booking elsewhere is sent to that office). The
//! person's identity token travels in hidden fields of POSTed forms (never in a URL or a cookie
//! of the officer's browser); every form carries the session's CSRF token. Look-ups by code
//! count failures against the officer (`staff:{username}`) and the code, like the public's.
//!
//! Deliberately absent: booking at another office, and any name of the person on these pages
//! or in logs.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, Duration, NaiveDate};
use prepazka_actors::OfficeHandle;
use prepazka_models::booking::{BookingStatus, HouseholdArrangement};
use prepazka_models::calendar::{parse_instant, prague_date};
use prepazka_models::identity::{parse_iso_date, Email};
use prepazka_models::locale::Locale;
use prepazka_models::service::ServiceKind;
use prepazka_models::ErrorCode;
use prepazka_store::{BookingRecord, StaffSession};
use serde::Deserialize;

use crate::api::{IdentityRequest, LookupRequest};
use crate::booking::{BookingView, ConfirmedView, HoldView};
use crate::error::{catalog, ApiError};
use crate::html::esc;
use crate::i18n::Lang;
use crate::pages::{booking_card, form_pairs, fresh_key, html};
use crate::staff::{check_csrf, counter_office, field, session_of};
use crate::{idempotency, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/counter/assist", web::get().to(start))
        .route("/counter/assist/slots", web::get().to(slots))
        .route("/counter/assist/identity", web::get().to(identity))
        .route("/counter/assist/verify", web::post().to(verify))
        .route("/counter/assist/book", web::post().to(book))
        .route("/counter/assist/find", web::post().to(find))
        .route("/counter/assist/cancel", web::post().to(cancel))
        .route("/counter/assist/reschedule", web::post().to(reschedule));
}

type Result<T> = std::result::Result<T, ApiError>;

fn t(locale: Locale, key: &str) -> String {
    esc(&catalog().t(locale, key))
}

fn fail(locale: Locale) -> impl Fn(ErrorCode) -> ApiError {
    move |code| ApiError::page(code, locale)
}

/// Hides the page's chrome when the confirmation is printed for the person.
const PRINT_STYLE: &str = "<style>@media print{header,footer,nav,.noprint{display:none}}</style>";

/// The signed-in member of staff who may assist (one who works counters) and their office.
async fn assisting<'s>(state: &'s AppState, req: &HttpRequest, locale: Locale) -> Result<(StaffSession, &'s OfficeHandle)> {
    let session = session_of(state, req, locale).await?;
    let handle = counter_office(state, &session, locale)?;
    Ok((session, handle))
}

/// A form after its checks: the session's CSRF token and the officer's own office.
async fn assist_form<'s>(
    state: &'s AppState,
    req: &HttpRequest,
    locale: Locale,
    body: &str,
) -> Result<(Vec<(String, String)>, StaffSession, &'s OfficeHandle)> {
    let (session, handle) = assisting(state, req, locale).await?;
    let form = form_pairs(body);
    check_csrf(&session, field(&form, "csrf").unwrap_or_default(), locale)?;
    if field(&form, "office") != Some(handle.office().id.as_str()) {
        return Err(ApiError::page(ErrorCode::RoleNotAllowed, locale));
    }
    Ok((form, session, handle))
}

/// The hidden fields every form carries: the CSRF token and the office.
fn hidden(session: &StaffSession, handle: &OfficeHandle) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}"><input type="hidden" name="office" value="{}">"#,
        esc(&session.csrf),
        esc(handle.office().id.as_str())
    )
}

fn service_of(raw: &str, handle: &OfficeHandle, locale: Locale) -> Result<ServiceKind> {
    let service: ServiceKind = raw.parse().map_err(fail(locale))?;
    handle.office().offers(service).map_err(fail(locale))?;
    Ok(service)
}

fn back_link(locale: Locale) -> String {
    format!(
        r#"<p class="noprint"><a href="/counter/assist">{}</a> · <a href="/counter">{}</a></p>"#,
        t(locale, "assist-back"),
        t(locale, "counter-title")
    )
}

async fn start(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang) -> Result<HttpResponse> {
    let (session, handle) = assisting(&state, &req, locale).await?;
    let office = handle.office();
    let services: String = office
        .available_services()
        .map(|s| {
            format!(
                r#"<form method="get" action="/counter/assist/slots" style="display:inline"><input type="hidden" name="service" value="{}"><button type="submit">{}</button></form> "#,
                s.service.slug(),
                t(locale, &format!("service-{}", s.service.slug()))
            )
        })
        .collect();
    let body = format!(
        r#"<p class="muted">{office_name} · {user}</p><p>{intro}</p>
<section class="card"><h2>{new}</h2><p>{choose}</p>{services}</section>
<form method="post" action="/counter/assist/find" class="card"><h2>{existing}</h2>{hidden}
<label for="code">{code}</label><input id="code" name="booking_code" autocomplete="off" required>
<label for="dob">{dob}</label><input id="dob" name="date_of_birth" type="date" required><button type="submit">{find}</button></form>
<p><a href="/counter">{counter}</a></p>"#,
        office_name = esc(&office.name),
        user = esc(&session.member.username),
        intro = t(locale, "assist-intro"),
        new = t(locale, "assist-new"),
        choose = t(locale, "service-choose"),
        existing = t(locale, "assist-existing"),
        hidden = hidden(&session, handle),
        code = t(locale, "field-booking-code"),
        dob = t(locale, "field-date-of-birth"),
        find = t(locale, "manage-submit"),
        counter = t(locale, "counter-title"),
    );
    Ok(html(&req, locale, &catalog().t(locale, "assist-title"), &body))
}

/// The next fourteen days (weekdays), each rendered by `day_link`, the chosen one marked.
fn day_nav(today: NaiveDate, day: NaiveDate, locale: Locale, day_link: impl Fn(NaiveDate, &str) -> String) -> String {
    let mut nav = format!(r#"<nav class="card" aria-label="{}"><strong>{}:</strong> "#, t(locale, "slots-day"), t(locale, "slots-day"));
    for offset in 0..14 {
        let d = today + Duration::days(offset);
        if d.weekday().number_from_monday() > 5 {
            continue;
        }
        let current = if d == day { r#" aria-current="date""# } else { "" };
        nav.push_str(&day_link(d, current));
        nav.push(' ');
    }
    nav.push_str("</nav>");
    nav
}

/// The free times of a day, each rendered by `slot_form(start, time)`.
async fn free_times(
    state: &AppState,
    handle: &OfficeHandle,
    service: ServiceKind,
    day: NaiveDate,
    locale: Locale,
    slot_form: impl Fn(&str, &str) -> String,
) -> Result<String> {
    let slots = state.free_slots(&handle.office().id, service, day).await.map_err(fail(locale))?;
    let mut body = format!(
        "<h2>{} — {}</h2><p class=\"muted\">{}</p>",
        t(locale, "slots-title"),
        day.format("%d.%m.%Y"),
        t(locale, "slots-times-note")
    );
    if slots.is_empty() {
        body.push_str(&format!(r#"<p class="card">{}</p>"#, t(locale, "slots-none")));
        return Ok(body);
    }
    body.push_str(r#"<div class="slots">"#);
    for slot in slots {
        let time = slot.prague_time.split(' ').nth(1).unwrap_or_default().to_owned();
        body.push_str(&slot_form(&slot.starts_at.to_rfc3339(), &time));
    }
    body.push_str("</div>");
    Ok(body)
}

fn day_of(raw: Option<&str>, default: NaiveDate, locale: Locale) -> Result<NaiveDate> {
    match raw.filter(|d| !d.is_empty()) {
        Some(raw) => parse_iso_date(raw).map_err(fail(locale)),
        None => Ok(default),
    }
}

#[derive(Deserialize)]
struct SlotsQuery {
    service: String,
    day: Option<String>,
}

async fn slots(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, query: web::Query<SlotsQuery>) -> Result<HttpResponse> {
    let (_, handle) = assisting(&state, &req, locale).await?;
    let service = service_of(&query.service, handle, locale)?;
    let today = prague_date(state.clock.now());
    let day = day_of(query.day.as_deref(), today + Duration::days(1), locale)?;
    let slug = service.slug();
    let mut body = day_nav(today, day, locale, |d, current| {
        format!(r#"<a href="/counter/assist/slots?service={slug}&amp;day={d}"{current}>{}</a>"#, d.format("%d.%m."))
    });
    let slot_form = |start: &str, time: &str| {
        format!(
            r#"<form method="get" action="/counter/assist/identity"><input type="hidden" name="service" value="{slug}"><input type="hidden" name="start" value="{}"><button type="submit" aria-label="{} {time}">{time}</button></form>"#,
            esc(start),
            t(locale, "slots-pick")
        )
    };
    body.push_str(&free_times(&state, handle, service, day, locale, slot_form).await?);
    body.push_str(&back_link(locale));
    let title = format!("{} · {}", catalog().t(locale, "assist-title"), catalog().t(locale, &format!("service-{slug}")));
    Ok(html(&req, locale, &title, &body))
}

/// What is being booked: service, office and time.
fn summary(locale: Locale, handle: &OfficeHandle, service: ServiceKind, start: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        r#"<div class="card"><p><strong>{}</strong>: {} — {}</p><p><strong>{}</strong>: {}</p></div>"#,
        t(locale, "booked-service"),
        t(locale, &format!("service-{}", service.slug())),
        esc(&handle.office().name),
        t(locale, "booked-when"),
        esc(&prepazka_models::calendar::prague_label(start))
    )
}

#[derive(Deserialize)]
struct IdentityQuery {
    service: String,
    start: String,
}

async fn identity(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    query: web::Query<IdentityQuery>,
) -> Result<HttpResponse> {
    let (session, handle) = assisting(&state, &req, locale).await?;
    let service = service_of(&query.service, handle, locale)?;
    let start = parse_instant(&query.start).ok_or(ApiError::page(ErrorCode::InvalidDateTime, locale))?;
    let fields = format!(
        r#"{}<input type="hidden" name="service" value="{}"><input type="hidden" name="start" value="{}">"#,
        hidden(&session, handle),
        service.slug(),
        esc(&start.to_rfc3339())
    );
    let body = format!(
        r#"{summary}<p>{note}</p><form method="post" action="/counter/assist/verify" class="card">{fields}
<fieldset><legend>{reg}</legend><input type="hidden" name="method" value="registration">
<label for="rn">{rn}</label><input id="rn" name="registration_number" autocomplete="off" required>
<label for="pin">{pin}</label><input id="pin" name="pin" inputmode="numeric" autocomplete="off" required></fieldset>
<button type="submit">{submit}</button></form>
<form method="post" action="/counter/assist/verify" class="card">{fields}
<fieldset><legend>{doc}</legend><input type="hidden" name="method" value="travel_document">
<label for="dn">{dn}</label><input id="dn" name="document_number" autocomplete="off" required>
<label for="dob">{dob}</label><input id="dob" name="date_of_birth" type="date" autocomplete="off" required>
<label for="nm">{nm}</label><input id="nm" name="name" autocomplete="off" required></fieldset>
<button type="submit">{submit}</button></form>{back}"#,
        summary = summary(locale, handle, service, start),
        note = t(locale, "assist-identity-note"),
        reg = t(locale, "identity-registration"),
        rn = t(locale, "field-registration-number"),
        pin = t(locale, "field-pin"),
        doc = t(locale, "identity-document"),
        dn = t(locale, "field-document-number"),
        dob = t(locale, "field-date-of-birth"),
        nm = t(locale, "field-name"),
        submit = t(locale, "continue"),
        back = back_link(locale),
    );
    Ok(html(&req, locale, &catalog().t(locale, "assist-identity-title"), &body))
}

/// The credentials typed in by the officer, as the online identity form sends them.
fn identity_request(form: &[(String, String)]) -> Option<IdentityRequest> {
    let get = |name| field(form, name).unwrap_or_default().to_owned();
    match field(form, "method")? {
        "registration" => Some(IdentityRequest::Registration { registration_number: get("registration_number"), pin: get("pin") }),
        "travel_document" => Some(IdentityRequest::TravelDocument {
            document_number: get("document_number"),
            date_of_birth: get("date_of_birth"),
            name: get("name"),
        }),
        _ => None,
    }
}

async fn verify(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse> {
    let (form, session, handle) = assist_form(&state, &req, locale, &body).await?;
    let service = service_of(field(&form, "service").unwrap_or_default(), handle, locale)?;
    let start = parse_instant(field(&form, "start").unwrap_or_default()).ok_or(ApiError::page(ErrorCode::InvalidDateTime, locale))?;
    if !state.verify_budget.failure(&format!("staff:{}", session.member.username)) {
        return Err(ApiError::page(ErrorCode::TooManyRequests, locale));
    }
    let request = identity_request(&form).ok_or(ApiError::page(ErrorCode::InvalidInput, locale))?;
    let credentials = request.parse(prague_date(state.clock.now())).map_err(fail(locale))?;
    let verified = state.verify(&credentials).await.map_err(fail(locale))?;
    let mut members = String::new();
    for member in &verified.household {
        let relation = serde_json::to_value(member.relation).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let disabled = if member.eligible { "" } else { " disabled" };
        members.push_str(&format!(
            r#"<label><input type="checkbox" name="member" value="{}"{disabled}> {}</label>"#,
            member.index,
            t(locale, &format!("relation-{relation}"))
        ));
    }
    if !members.is_empty() {
        members = format!(
            r#"<fieldset><legend>{}</legend>{members}</fieldset><fieldset><legend>{}</legend><label><input type="radio" name="arrangement" value="parallel" checked> {}</label><label><input type="radio" name="arrangement" value="consecutive"> {}</label></fieldset>"#,
            t(locale, "field-household"),
            t(locale, "field-arrangement"),
            t(locale, "arrangement-parallel"),
            t(locale, "arrangement-consecutive")
        );
    }
    let options: String = Locale::ALL
        .iter()
        .map(|l| format!(r#"<option value="{}"{}>{}</option>"#, l.code(), if *l == locale { " selected" } else { "" }, esc(l.endonym())))
        .collect();
    let body = format!(
        r#"{summary}<p class="card" role="status">{verified_note}</p>
<form method="post" action="/counter/assist/book" class="card">{hidden}<input type="hidden" name="service" value="{service}"><input type="hidden" name="start" value="{start}">
<input type="hidden" name="identity" value="{token}"><input type="hidden" name="idem" value="{idem}">{members}
<label for="email">{email}</label><input id="email" name="email" type="email" autocomplete="off" aria-describedby="email-note">
<p id="email-note" class="muted">{email_note}</p>
<label for="locale">{language}</label><select id="locale" name="locale">{options}</select>
<button type="submit">{submit}</button></form>{back}"#,
        summary = summary(locale, handle, service, start),
        verified_note = t(locale, "assist-verified"),
        hidden = hidden(&session, handle),
        service = service.slug(),
        start = esc(&start.to_rfc3339()),
        token = esc(&verified.identity_token),
        idem = fresh_key(),
        email = t(locale, "assist-email"),
        email_note = t(locale, "assist-email-note"),
        language = t(locale, "field-language"),
        submit = t(locale, "assist-book-submit"),
        back = back_link(locale),
    );
    Ok(html(&req, locale, &catalog().t(locale, "assist-identity-title"), &body))
}

async fn book(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse> {
    let (form, session, handle) = assist_form(&state, &req, locale, &body).await?;
    let office = handle.office().id.clone();
    let service = service_of(field(&form, "service").unwrap_or_default(), handle, locale)?;
    let start = parse_instant(field(&form, "start").unwrap_or_default()).ok_or(ApiError::page(ErrorCode::InvalidDateTime, locale))?;
    let who = state.verified(field(&form, "identity").unwrap_or_default()).map_err(fail(locale))?;
    let key =
        field(&form, "idem").filter(|k| !k.is_empty() && k.len() <= 128).ok_or(ApiError::page(ErrorCode::IdempotencyKeyMissing, locale))?;
    let members = form
        .iter()
        .filter(|(k, _)| k == "member")
        .map(|(_, v)| v.parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| ApiError::page(ErrorCode::NotInHousehold, locale))?;
    let arrangement = match field(&form, "arrangement") {
        Some("consecutive") => HouseholdArrangement::Consecutive,
        _ => HouseholdArrangement::Parallel,
    };
    let email_raw = field(&form, "email").unwrap_or_default().trim().to_owned();
    let email = if email_raw.is_empty() { None } else { Some(Email::parse(&email_raw).map_err(fail(locale))?) };
    let preferred: Locale =
        field(&form, "locale").unwrap_or_default().parse().map_err(|_| ApiError::page(ErrorCode::InvalidLocale, locale))?;
    let user = session.member.username.clone();
    let hash = idempotency::body_hash(&(
        office.as_str(),
        service,
        start,
        &members,
        format!("{arrangement:?}"),
        &email_raw,
        preferred.code(),
        who.key.as_str(),
    ));
    let held = idempotency::once::<HoldView, _, _>(&state, format!("assist-hold:{user}"), key.to_owned(), hash.clone(), |ctx| {
        let (state, who, office, members, user) = (state.clone(), who.clone(), office.clone(), members.clone(), user.clone());
        async move { state.hold_for(&who, &office, service, start, &members, arrangement, Some(&ctx), Some(&user)).await }
    })
    .await
    .map_err(fail(locale))?;
    let confirmed = idempotency::once::<ConfirmedView, _, _>(&state, format!("assist-confirm:{user}"), key.to_owned(), hash, |ctx| {
        let (state, user) = (state.clone(), user.clone());
        async move { state.confirm_for(&who, &held.value.hold_id, email.as_ref(), preferred, Some(&ctx), Some(&user)).await }
    })
    .await
    .map_err(fail(locale))?;
    tracing::info!(office.id = %office, bookings = confirmed.value.bookings.len(), "assisted booking");
    let note = if email_raw.is_empty() { "assist-print-note" } else { "assist-email-sent" };
    let mut body = format!(r#"{PRINT_STYLE}<p class="card noprint" role="status">{}</p>"#, t(locale, note));
    for booking in &confirmed.value.bookings {
        body.push_str(&format!(r#"<div lang="{}">{}</div>"#, preferred.code(), booking_card(preferred, booking)));
    }
    body.push_str(&format!(
        r#"<p class="noprint"><button type="button" onclick="window.print()">{}</button></p>"#,
        t(locale, "assist-print")
    ));
    body.push_str(&back_link(locale));
    Ok(html(&req, locale, &catalog().t(locale, "assist-booked-title"), &body))
}

/// The booking named by the form's code and date of birth, if it is at the officer's office.
async fn found(
    state: &AppState,
    form: &[(String, String)],
    session: &StaffSession,
    handle: &OfficeHandle,
    locale: Locale,
) -> Result<BookingRecord> {
    let lookup = LookupRequest {
        booking_code: field(form, "booking_code").unwrap_or_default().to_owned(),
        date_of_birth: field(form, "date_of_birth").unwrap_or_default().to_owned(),
    };
    let (code, born) = lookup.parse().map_err(fail(locale))?;
    let booking = state.find_booking(&format!("staff:{}", session.member.username), &code, born).await.map_err(fail(locale))?;
    if booking.office != handle.office().id {
        return Err(ApiError::page(ErrorCode::WrongOffice, locale));
    }
    Ok(booking)
}

async fn find(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse> {
    let (form, session, handle) = assist_form(&state, &req, locale, &body).await?;
    let booking = found(&state, &form, &session, handle, locale).await?;
    let view = state.booking_view(&booking);
    let mut body = booking_card(locale, &view);
    if booking.status == BookingStatus::Confirmed {
        let keep = format!(
            r#"{}<input type="hidden" name="booking_code" value="{}"><input type="hidden" name="date_of_birth" value="{}">"#,
            hidden(&session, handle),
            esc(&view.booking_code),
            esc(field(&form, "date_of_birth").unwrap_or_default())
        );
        body.push_str(&format!(
            r#"<form method="post" action="/counter/assist/cancel" class="card">{keep}<h2>{}</h2><button class="danger" type="submit">{}</button></form>"#,
            t(locale, "manage-cancel"),
            t(locale, "manage-cancel-confirm")
        ));
        let today = prague_date(state.clock.now());
        let day = day_of(field(&form, "day"), prague_date(booking.starts_at), locale)?;
        // Another day re-posts this form with `day`; each free time is a reschedule form.
        let nav = day_nav(today, day, locale, |d, current| {
            format!(
                r#"<form method="post" action="/counter/assist/find" style="display:inline">{keep}<input type="hidden" name="day" value="{d}"><button type="submit"{current}>{}</button></form>"#,
                d.format("%d.%m.")
            )
        });
        let slot_form = |start: &str, time: &str| {
            format!(
                r#"<form method="post" action="/counter/assist/reschedule">{keep}<input type="hidden" name="starts_at" value="{}"><input type="hidden" name="idem" value="{}"><button type="submit" aria-label="{} {time}">{time}</button></form>"#,
                esc(start),
                fresh_key(),
                t(locale, "manage-reschedule-submit")
            )
        };
        let times = free_times(&state, handle, booking.service, day, locale, slot_form).await?;
        body.push_str(&format!(r#"<section class="card"><h2>{}</h2>{nav}{times}</section>"#, t(locale, "manage-reschedule")));
    }
    body.push_str(&back_link(locale));
    Ok(html(&req, locale, &catalog().t(locale, "assist-existing"), &body))
}

async fn cancel(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse> {
    let (form, session, handle) = assist_form(&state, &req, locale, &body).await?;
    let booking = found(&state, &form, &session, handle, locale).await?;
    state.cancel_for(&booking, Some(&session.member.username)).await.map_err(fail(locale))?;
    tracing::info!(office.id = %booking.office, booking = booking.id, "assisted cancel");
    let body = format!(r#"<p class="card" role="status">{}</p>{}"#, t(locale, "cancelled-note"), back_link(locale));
    Ok(html(&req, locale, &catalog().t(locale, "cancelled-title"), &body))
}

async fn reschedule(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse> {
    let (form, session, handle) = assist_form(&state, &req, locale, &body).await?;
    let booking = found(&state, &form, &session, handle, locale).await?;
    let raw_to = field(&form, "starts_at").unwrap_or_default();
    let to = parse_instant(raw_to).ok_or(ApiError::page(ErrorCode::InvalidDateTime, locale))?;
    let key =
        field(&form, "idem").filter(|k| !k.is_empty() && k.len() <= 128).ok_or(ApiError::page(ErrorCode::IdempotencyKeyMissing, locale))?;
    let user = session.member.username.clone();
    let hash = idempotency::body_hash(&(raw_to, booking.code.as_str()));
    let answer = idempotency::once::<BookingView, _, _>(&state, format!("assist-reschedule:{user}"), key.to_owned(), hash, |ctx| {
        let (state, booking) = (state.clone(), booking.clone());
        async move { state.reschedule_for(&booking, to, Some(&ctx), Some(&user)).await }
    })
    .await
    .map_err(fail(locale))?;
    tracing::info!(office.id = %booking.office, booking = booking.id, "assisted reschedule");
    // The new time, printable for the person in their language.
    let theirs = booking.locale.unwrap_or(locale);
    let body = format!(
        r#"{PRINT_STYLE}<div lang="{}">{}</div><p class="noprint"><button type="button" onclick="window.print()">{}</button></p>{}"#,
        theirs.code(),
        booking_card(theirs, &answer.value),
        t(locale, "assist-print"),
        back_link(locale)
    );
    Ok(html(&req, locale, &catalog().t(locale, "rescheduled-title"), &body))
}

/// Where the counter page links to.
pub(crate) fn link(locale: Locale) -> String {
    format!(r#"<p><a href="/counter/assist" data-assist-link>{}</a></p>"#, t(locale, "assist-link"))
}
