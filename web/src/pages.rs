//! The foreigner's pages: office list by region, services, free slots, identity, hold, confirm,
//! and "my booking". Server-rendered HTML forms that work without JavaScript; each step calls
//! the same flow as the API (`booking.rs`).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, Duration};
use fluent_bundle::FluentValue;
use prepazka_models::booking::HouseholdArrangement;
use prepazka_models::calendar::{parse_instant, prague_date};
use prepazka_models::identity::{parse_iso_date, Email};
use prepazka_models::ids::OfficeId;
use prepazka_models::locale::Locale;
use prepazka_models::office::Region;
use prepazka_models::service::ServiceKind;
use prepazka_models::ErrorCode;
use rand::Rng as _;
use serde::Deserialize;

use crate::api::{client_of, IdentityRequest, LookupRequest};
use crate::booking::{BookingView, ConfirmedView, HoldView};
use crate::error::{catalog, ApiError};
use crate::html::{esc, page};
use crate::i18n::{Lang, LANG_COOKIE};
use crate::idempotency;
use crate::AppState;

const IDENTITY_COOKIE: &str = "pz_identity";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/manage", web::get().to(manage_form))
        .route("/manage", web::post().to(manage_find))
        .route("/manage/cancel", web::post().to(manage_cancel))
        .route("/manage/reschedule", web::post().to(manage_reschedule))
        .route("/holds/{hold}", web::get().to(hold_page))
        .route("/holds/{hold}/confirm", web::post().to(confirm))
        .route("/offices/{office}", web::get().to(office_page))
        .route("/offices/{office}/{service}", web::get().to(slots_page))
        .route("/offices/{office}/{service}/book", web::get().to(book_page))
        .route("/offices/{office}/{service}/verify", web::post().to(verify))
        .route("/offices/{office}/{service}/hold", web::post().to(hold));
}

type Result<T> = std::result::Result<T, ApiError>;

fn t(locale: Locale, key: &str) -> String {
    esc(&catalog().t(locale, key))
}

fn fail(locale: Locale) -> impl Fn(ErrorCode) -> ApiError {
    move |code| ApiError::page(code, locale)
}

/// Sends the page, remembering an explicitly chosen language in a cookie.
pub(crate) fn html(req: &HttpRequest, locale: Locale, title: &str, body: &str) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.content_type("text/html; charset=utf-8");
    if req.query_string().contains("lang=") {
        response.cookie(
            Cookie::build(LANG_COOKIE, locale.code())
                .path("/")
                .same_site(SameSite::Lax)
                .max_age(actix_web::cookie::time::Duration::days(365))
                .finish(),
        );
    }
    response.body(page(locale, &req.uri().to_string(), title, body))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

pub(crate) fn fresh_key() -> String {
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}

async fn home(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang) -> HttpResponse {
    let mut body = format!("<p>{}</p><h2>{}</h2>", t(locale, "site-tagline"), t(locale, "home-choose-region"));
    for region in Region::ALL {
        let offices: Vec<_> = state.directory.list().into_iter().filter(|h| h.office().region == region).collect();
        if offices.is_empty() {
            continue;
        }
        body.push_str(&format!(r#"<section class="card"><h3 id="{}">{}</h3><ul>"#, region.slug(), esc(region.name_cs())));
        for handle in offices {
            let o = handle.office();
            let kind = if o.has_biometrics { "office-biometric" } else { "office-branch" };
            body.push_str(&format!(
                r#"<li><a href="/offices/{}">{}</a> — {}, {} <span class="muted">({})</span></li>"#,
                o.id,
                esc(&o.name),
                esc(&o.address),
                esc(&o.city),
                t(locale, kind)
            ));
        }
        body.push_str("</ul></section>");
    }
    html(&req, locale, &catalog().t(locale, "nav-book"), &body)
}

fn office_of<'a>(state: &'a AppState, raw: &str, locale: Locale) -> Result<&'a prepazka_actors::OfficeHandle> {
    let id = OfficeId::parse(raw).map_err(fail(locale))?;
    state.directory.get(&id).ok_or(ApiError::page(ErrorCode::OfficeNotFound, locale))
}

async fn office_page(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, path: web::Path<String>) -> Result<HttpResponse> {
    let handle = office_of(&state, &path, locale)?;
    let o = handle.office();
    let mut body = format!("<p>{}, {}</p><h2>{}</h2>", esc(&o.address), esc(&o.city), t(locale, "service-choose"));
    for offered in o.available_services() {
        let slug = offered.service.slug();
        let minutes = catalog().text(locale, "service-minutes", &[("minutes", FluentValue::from(offered.slot_minutes))]);
        body.push_str(&format!(
            r#"<div class="card"><h3><a href="/offices/{}/{slug}">{}</a></h3><p>{}</p><p class="muted">{}</p></div>"#,
            o.id,
            t(locale, &format!("service-{slug}")),
            t(locale, &format!("service-{slug}-about")),
            esc(&minutes)
        ));
    }
    Ok(html(&req, locale, &o.name, &body))
}

#[derive(Deserialize)]
struct DayQuery {
    day: Option<String>,
}

fn service_of(raw: &str, locale: Locale) -> Result<ServiceKind> {
    raw.parse().map_err(fail(locale))
}

/// Links to the next fourteen days and the free slots of the chosen one; `action` builds the
/// link or form for one slot.
async fn day_picker(
    state: &AppState,
    locale: Locale,
    office: &OfficeId,
    service: ServiceKind,
    day_raw: Option<&str>,
    base: &str,
    slot_form: impl Fn(&str, &str) -> String,
) -> Result<String> {
    let today = prague_date(state.clock.now());
    let day = match day_raw {
        Some(raw) => parse_iso_date(raw).map_err(fail(locale))?,
        None => today + Duration::days(1),
    };
    let mut body = format!(r#"<nav class="card" aria-label="{}"><strong>{}:</strong> "#, t(locale, "slots-day"), t(locale, "slots-day"));
    for offset in 0..14 {
        let d = today + Duration::days(offset);
        if d.weekday().number_from_monday() > 5 {
            continue;
        }
        let current = if d == day { r#" aria-current="date""# } else { "" };
        body.push_str(&format!(r#"<a href="{base}?day={d}"{current}>{}</a> "#, d.format("%d.%m.")));
    }
    body.push_str("</nav>");
    let slots = state.free_slots(office, service, day).await.map_err(fail(locale))?;
    body.push_str(&format!(
        "<h2>{} — {}</h2><p class=\"muted\">{}</p>",
        t(locale, "slots-title"),
        day.format("%d.%m.%Y"),
        t(locale, "slots-times-note")
    ));
    if slots.is_empty() {
        body.push_str(&format!(r#"<p class="card">{}</p>"#, t(locale, "slots-none")));
    } else {
        body.push_str(r#"<div class="slots">"#);
        for slot in slots {
            let time = slot.prague_time.split(' ').nth(1).unwrap_or_default().to_owned();
            body.push_str(&slot_form(&slot.starts_at.to_rfc3339(), &time));
        }
        body.push_str("</div>");
    }
    Ok(body)
}

async fn slots_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    path: web::Path<(String, String)>,
    query: web::Query<DayQuery>,
) -> Result<HttpResponse> {
    let handle = office_of(&state, &path.0, locale)?;
    let service = service_of(&path.1, locale)?;
    let office = handle.office().id.clone();
    let base = format!("/offices/{office}/{}", service.slug());
    let form = |start: &str, time: &str| {
        format!(
            r#"<form method="get" action="{base}/book"><input type="hidden" name="start" value="{}"><button type="submit" aria-label="{} {time}">{time}</button></form>"#,
            esc(start),
            t(locale, "slots-pick")
        )
    };
    let body = day_picker(&state, locale, &office, service, query.day.as_deref(), &base, form).await?;
    let title = format!("{} · {}", catalog().t(locale, &format!("service-{}", service.slug())), handle.office().name);
    Ok(html(&req, locale, &title, &body))
}

#[derive(Deserialize)]
struct StartQuery {
    start: String,
}

async fn book_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    path: web::Path<(String, String)>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse> {
    let handle = office_of(&state, &path.0, locale)?;
    let service = service_of(&path.1, locale)?;
    let start = parse_instant(&query.start).ok_or(ApiError::page(ErrorCode::InvalidDateTime, locale))?;
    let base = format!("/offices/{}/{}", handle.office().id, service.slug());
    let when = prepazka_models::calendar::prague_label(start);
    let mut body = format!(
        r#"<div class="card"><p><strong>{}</strong>: {} — {}</p><p><strong>{}</strong>: {}</p></div>"#,
        t(locale, "booked-service"),
        t(locale, &format!("service-{}", service.slug())),
        esc(&handle.office().name),
        t(locale, "booked-when"),
        esc(&when)
    );
    let verified = req.cookie(IDENTITY_COOKIE).and_then(|c| state.verified(c.value()).ok());
    let start_field = format!(r#"<input type="hidden" name="start" value="{}">"#, esc(&query.start));
    match verified {
        None => {
            body.push_str(&format!(
                r#"<p>{intro}</p><form method="post" action="{base}/verify" class="card">{start_field}
<fieldset><legend>{reg}</legend><input type="hidden" name="method" value="registration">
<label for="rn">{rn}</label><input id="rn" name="registration_number" autocomplete="off" required>
<label for="pin">{pin}</label><input id="pin" name="pin" inputmode="numeric" autocomplete="off" required></fieldset>
<button type="submit">{submit}</button></form>
<form method="post" action="{base}/verify" class="card">{start_field}
<fieldset><legend>{doc}</legend><input type="hidden" name="method" value="travel_document">
<label for="dn">{dn}</label><input id="dn" name="document_number" autocomplete="off" required>
<label for="dob">{dob}</label><input id="dob" name="date_of_birth" type="date" required>
<label for="nm">{nm}</label><input id="nm" name="name" autocomplete="name" required></fieldset>
<button type="submit">{submit}</button></form>"#,
                intro = t(locale, "identity-intro"),
                reg = t(locale, "identity-registration"),
                rn = t(locale, "field-registration-number"),
                pin = t(locale, "field-pin"),
                doc = t(locale, "identity-document"),
                dn = t(locale, "field-document-number"),
                dob = t(locale, "field-date-of-birth"),
                nm = t(locale, "field-name"),
                submit = t(locale, "continue"),
            ));
        }
        Some(who) => {
            let person = state.registry.person(&who.person).await.map_err(|e| ApiError::page(e.into(), locale))?;
            let mut members = String::new();
            for (index, (_, relation)) in person.household.iter().enumerate() {
                let relation = serde_json::to_value(relation).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                members.push_str(&format!(
                    r#"<label><input type="checkbox" name="member" value="{index}"> {}</label>"#,
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
            body.push_str(&format!(
                r#"<form method="post" action="{base}/hold" class="card">{start_field}<input type="hidden" name="idem" value="{}">{members}<button type="submit">{}</button></form>"#,
                fresh_key(),
                t(locale, "identity-submit")
            ));
        }
    }
    Ok(html(&req, locale, &catalog().t(locale, "identity-title"), &body))
}

#[derive(Deserialize)]
struct VerifyForm {
    start: String,
    #[serde(flatten)]
    identity: IdentityRequest,
}

async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    path: web::Path<(String, String)>,
    form: web::Form<VerifyForm>,
) -> Result<HttpResponse> {
    let handle = office_of(&state, &path.0, locale)?;
    let service = service_of(&path.1, locale)?;
    if !state.verify_budget.failure(&client_of(&req)) {
        return Err(ApiError::page(ErrorCode::TooManyRequests, locale));
    }
    let credentials = form.identity.parse(prague_date(state.clock.now())).map_err(fail(locale))?;
    let verified = state.verify(&credentials).await.map_err(fail(locale))?;
    let start = parse_instant(&form.start).ok_or(ApiError::page(ErrorCode::InvalidDateTime, locale))?;
    let location = format!("/offices/{}/{}/book?start={}", handle.office().id, service.slug(), start.format("%Y-%m-%dT%H:%M:%SZ"));
    let cookie = Cookie::build(IDENTITY_COOKIE, verified.identity_token)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::minutes(crate::secrets::IDENTITY_TTL_MINUTES))
        .finish();
    Ok(HttpResponse::SeeOther().cookie(cookie).insert_header((header::LOCATION, location)).finish())
}

fn identity_of(state: &AppState, req: &HttpRequest, locale: Locale) -> Result<crate::secrets::Verified> {
    let cookie = req.cookie(IDENTITY_COOKIE).ok_or(ApiError::page(ErrorCode::IdentityExpired, locale))?;
    state.verified(cookie.value()).map_err(fail(locale))
}

async fn hold(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    path: web::Path<(String, String)>,
    body: String,
) -> Result<HttpResponse> {
    let handle = office_of(&state, &path.0, locale)?;
    let office = handle.office().id.clone();
    let service = service_of(&path.1, locale)?;
    let who = identity_of(&state, &req, locale)?;
    // Repeated `member` fields do not fit a struct; read the form by hand.
    let mut start = None;
    let mut members = Vec::new();
    let mut arrangement = HouseholdArrangement::Parallel;
    let mut key = None;
    for (name, value) in form_pairs(&body) {
        match name.as_str() {
            "start" => start = parse_instant(&value),
            "member" => members.push(value.parse::<usize>().map_err(|_| ApiError::page(ErrorCode::NotInHousehold, locale))?),
            "arrangement" if value == "consecutive" => arrangement = HouseholdArrangement::Consecutive,
            "idem" => key = Some(value),
            _ => {}
        }
    }
    let start = start.ok_or(ApiError::page(ErrorCode::InvalidDateTime, locale))?;
    let key = key.ok_or(ApiError::page(ErrorCode::IdempotencyKeyMissing, locale))?;
    let hash = idempotency::body_hash(&(office.as_str(), service, start, &members, format!("{arrangement:?}")));
    let answer = idempotency::once::<HoldView, _, _>(&state, format!("holds:{}", who.key.as_str()), key, hash, |ctx| {
        let state = state.clone();
        let members = members.clone();
        async move { state.hold(&who, &office, service, start, &members, arrangement, Some(&ctx)).await }
    })
    .await
    .map_err(fail(locale))?;
    Ok(see_other(&format!("/holds/{}", answer.value.hold_id)))
}

/// Decodes an `application/x-www-form-urlencoded` body into pairs.
/// A Prague wall-clock time, `09:05`.
pub(crate) fn clock_label(instant: chrono::DateTime<chrono::Utc>) -> String {
    instant.with_timezone(&prepazka_models::calendar::PRAGUE).format("%H:%M").to_string()
}

pub(crate) fn form_pairs(body: &str) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(body).map(|q| q.into_inner()).unwrap_or_default()
}

async fn hold_page(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, path: web::Path<String>) -> Result<HttpResponse> {
    let who = identity_of(&state, &req, locale)?;
    let held = state.store.bookings_by_hold(&path).await.map_err(|_| ApiError::page(ErrorCode::Unavailable, locale))?;
    let first = held.first().filter(|b| b.booked_by == who.key).ok_or(ApiError::page(ErrorCode::HoldNotFound, locale))?;
    let until = prepazka_models::calendar::prague_label(first.hold_expires_at);
    let until = until.split(' ').nth(1).unwrap_or_default().to_owned();
    let options: String = Locale::ALL
        .iter()
        .map(|l| format!(r#"<option value="{}"{}>{}</option>"#, l.code(), if *l == locale { " selected" } else { "" }, esc(l.endonym())))
        .collect();
    let body = format!(
        r#"<div class="card"><p>{}</p><p>{}</p></div><form method="post" action="/holds/{}/confirm" class="card"><input type="hidden" name="idem" value="{}">
<label for="email">{}</label><input id="email" name="email" type="email" autocomplete="email" required>
<label for="locale">{}</label><select id="locale" name="locale">{options}</select><button type="submit">{}</button></form>"#,
        esc(&catalog().text(locale, "hold-expires", &[("time", FluentValue::from(until))])),
        esc(&catalog().text(locale, "hold-people", &[("count", FluentValue::from(held.len()))])),
        esc(&path),
        fresh_key(),
        t(locale, "field-email"),
        t(locale, "field-language"),
        t(locale, "confirm-submit"),
    );
    Ok(html(&req, locale, &catalog().t(locale, "hold-title"), &body))
}

#[derive(Deserialize, serde::Serialize)]
struct ConfirmForm {
    email: String,
    locale: String,
    idem: String,
}

async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    path: web::Path<String>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse> {
    let who = identity_of(&state, &req, locale)?;
    let email = Email::parse(&form.email).map_err(fail(locale))?;
    let preferred: Locale = form.locale.parse().map_err(|_| ApiError::page(ErrorCode::InvalidLocale, locale))?;
    let hold_id = path.into_inner();
    let hash = idempotency::body_hash(&(&form.email, &form.locale, &hold_id));
    let answer =
        idempotency::once::<ConfirmedView, _, _>(&state, format!("confirm:{}", who.key.as_str()), form.idem.clone(), hash, |ctx| {
            let state = state.clone();
            async move { state.confirm(&who, &hold_id, &email, preferred, Some(&ctx)).await }
        })
        .await
        .map_err(fail(locale))?;
    let mut body = format!(r#"<p>{}</p>"#, t(locale, "booked-email-note"));
    for booking in &answer.value.bookings {
        body.push_str(&booking_card(locale, booking));
    }
    Ok(html(&req, locale, &catalog().t(locale, "booked-title"), &body))
}

pub(crate) fn qr_svg(payload: &str) -> String {
    match qrcode::QrCode::new(payload.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build(),
        Err(_) => String::new(),
    }
}

pub(crate) fn booking_card(locale: Locale, b: &BookingView) -> String {
    let documents: String = b.documents.iter().map(|d| format!("<li>{}</li>", t(locale, d))).collect();
    let fee = b
        .fee_czk
        .map(|amount| {
            format!("<p><strong>{}</strong></p>", esc(&catalog().text(locale, "booked-fee", &[("amount", FluentValue::from(amount))])))
        })
        .unwrap_or_default();
    format!(
        r#"<section class="card"><p>{code_label}</p><p class="code" data-booking-code>{code}</p><p class="muted">{code_note}</p>
<p><strong>{when_label}</strong>: {when}</p><p><strong>{where_label}</strong>: {office}, {address}</p><p><strong>{service_label}</strong>: {service}</p>
<p><strong>{status_label}</strong>: {status}</p>{fee}<h3>{bring}</h3><ul>{documents}</ul>
<figure class="qr" role="img" aria-label="{qr_label}">{qr}<figcaption>{qr_label}</figcaption></figure></section>"#,
        code_label = t(locale, "booked-code"),
        code = esc(&b.booking_code),
        code_note = t(locale, "booked-code-note"),
        when_label = t(locale, "booked-when"),
        when = esc(&b.prague_time),
        where_label = t(locale, "booked-where"),
        office = esc(&b.office_name),
        address = esc(&b.office_address),
        service_label = t(locale, "booked-service"),
        service = t(locale, &format!("service-{}", b.service.slug())),
        status_label = t(locale, "manage-status"),
        status = t(locale, &format!("status-{}", b.status.as_str())),
        bring = t(locale, "booked-bring"),
        qr_label = t(locale, "booked-qr"),
        qr = qr_svg(&b.check_in_qr),
    )
}

async fn manage_form(req: HttpRequest, Lang(locale): Lang) -> HttpResponse {
    let body = format!(
        r#"<p>{}</p><form method="post" action="/manage" class="card"><label for="code">{}</label><input id="code" name="booking_code" autocomplete="off" required>
<label for="dob">{}</label><input id="dob" name="date_of_birth" type="date" required><button type="submit">{}</button></form>"#,
        t(locale, "manage-intro"),
        t(locale, "field-booking-code"),
        t(locale, "field-date-of-birth"),
        t(locale, "manage-submit")
    );
    html(&req, locale, &catalog().t(locale, "manage-title"), &body)
}

#[derive(Deserialize)]
struct ManageForm {
    booking_code: String,
    date_of_birth: String,
    day: Option<String>,
}

async fn manage_find(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    form: web::Form<ManageForm>,
) -> Result<HttpResponse> {
    let lookup = LookupRequest { booking_code: form.booking_code.clone(), date_of_birth: form.date_of_birth.clone() };
    let (code, born) = lookup.parse().map_err(fail(locale))?;
    let booking = state.find_booking(&client_of(&req), &code, born).await.map_err(fail(locale))?;
    let view = state.booking_view(&booking);
    let mut body = booking_card(locale, &view);
    if booking.status == prepazka_models::booking::BookingStatus::Confirmed {
        let hidden = format!(
            r#"<input type="hidden" name="booking_code" value="{}"><input type="hidden" name="date_of_birth" value="{}">"#,
            esc(&view.booking_code),
            esc(&form.date_of_birth)
        );
        body.push_str(&format!(
            r#"<form method="post" action="/manage/cancel" class="card">{hidden}<h2>{}</h2><button class="danger" type="submit">{}</button></form>"#,
            t(locale, "manage-cancel"),
            t(locale, "manage-cancel-confirm")
        ));
        // Choosing a new day re-posts this form with `day`; each free time is a reschedule form.
        let slot_form = |start: &str, time: &str| {
            format!(
                r#"<form method="post" action="/manage/reschedule">{hidden}<input type="hidden" name="starts_at" value="{}"><input type="hidden" name="idem" value="{}"><button type="submit" aria-label="{} {time}">{time}</button></form>"#,
                esc(start),
                fresh_key(),
                t(locale, "manage-reschedule-submit")
            )
        };
        let day = form.day.clone().unwrap_or_else(|| prague_date(booking.starts_at).to_string());
        let picker = day_picker(&state, locale, &booking.office, booking.service, Some(&day), "/manage", slot_form).await?;
        body.push_str(&format!(r#"<section class="card"><h2>{}</h2>{picker}</section>"#, t(locale, "manage-reschedule")));
    }
    Ok(html(&req, locale, &catalog().t(locale, "manage-title"), &body))
}

async fn manage_cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    form: web::Form<LookupRequest>,
) -> Result<HttpResponse> {
    let (code, born) = form.parse().map_err(fail(locale))?;
    let booking = state.find_booking(&client_of(&req), &code, born).await.map_err(fail(locale))?;
    state.cancel(&booking).await.map_err(fail(locale))?;
    let body = format!(r#"<p class="card">{}</p><p><a href="/">{}</a></p>"#, t(locale, "cancelled-note"), t(locale, "nav-book"));
    Ok(html(&req, locale, &catalog().t(locale, "cancelled-title"), &body))
}

#[derive(Deserialize)]
struct RescheduleForm {
    booking_code: String,
    date_of_birth: String,
    starts_at: String,
    idem: String,
}

async fn manage_reschedule(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    form: web::Form<RescheduleForm>,
) -> Result<HttpResponse> {
    let lookup = LookupRequest { booking_code: form.booking_code.clone(), date_of_birth: form.date_of_birth.clone() };
    let (code, born) = lookup.parse().map_err(fail(locale))?;
    let to = parse_instant(&form.starts_at).ok_or(ApiError::page(ErrorCode::InvalidDateTime, locale))?;
    let booking = state.find_booking(&client_of(&req), &code, born).await.map_err(fail(locale))?;
    let hash = idempotency::body_hash(&(&form.starts_at, code.as_str()));
    let answer = idempotency::once::<BookingView, _, _>(&state, format!("reschedule:{}", code.as_str()), form.idem.clone(), hash, |ctx| {
        let state = state.clone();
        async move { state.reschedule(&booking, to, Some(&ctx)).await }
    })
    .await
    .map_err(fail(locale))?;
    Ok(html(&req, locale, &catalog().t(locale, "rescheduled-title"), &booking_card(locale, &answer.value)))
}
