//! The office day in the building: device enrolment, the kiosk (walk-in tickets), the
//! waiting-room display and its live stream.
//!
//! Kiosks and displays are bound to one office by an enrolment link (`/enrol/{token}`) that sets
//! an `HttpOnly` cookie; only the token's SHA-256 is stored. The display stream is Server-Sent
//! Events whose ids are `{day}:{seq}` of the office's persisted queue events: a display that
//! reconnects with `Last-Event-ID` gets what it missed (from the office's recent events or the
//! store), then live events in sequence order (a gap is filled from the store), with a
//! heartbeat and a jittered `retry`, and never a name (the event type has no field for one).

use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use fluent_bundle::FluentValue;
use futures_util::stream::{self, StreamExt as _};
use prepazka_actors::office::Published;
use prepazka_models::booking::BookingStatus;
use prepazka_models::calendar::prague_date;
use prepazka_models::identity::parse_iso_date;
use prepazka_models::ids::BookingCode;
use prepazka_models::ids::OfficeId;
use prepazka_models::locale::Locale;
use prepazka_models::office::DeviceKind;
use prepazka_models::queue::{check_in_rules, CheckInWindow, DisplayEvent, Origin, QueueCommand, TicketNumber, TicketState};
use prepazka_models::service::ServiceKind;
use prepazka_models::ErrorCode;
use rand::Rng as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::error::{catalog, ApiError};
use crate::html::esc;
use crate::i18n::Lang;
use crate::pages::html;
use crate::AppState;

const DEVICE_COOKIE: &str = "pz_device";
/// Events a display gets on first connecting without a `Last-Event-ID`.
const FIRST_REPLAY: usize = 20;
const HEARTBEAT: Duration = Duration::from_secs(15);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/enrol/{token}", web::get().to(enrol))
        .route("/kiosk", web::get().to(kiosk))
        .route("/kiosk/walk-in", web::post().to(walk_in))
        .route("/kiosk/check-in", web::post().to(check_in))
        .route("/display", web::get().to(display))
        .route("/display/events", web::get().to(display_events))
        .route("/display/join.svg", web::get().to(join_qr))
        .route("/join/{office}/{window}/{tag}", web::get().to(join_page))
        .route("/join/{office}/{window}/{tag}", web::post().to(join_take))
        .route("/t/{office}/{day}/{ticket}", web::get().to(ticket_live))
        .route("/t/{office}/{day}/{ticket}/events", web::get().to(ticket_events));
}

/// The SHA-256 under which an enrolment token is stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh enrolment token: 32 random bytes, hex.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::thread_rng().gen();
    hex::encode(bytes)
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The office of the enrolled device making this request, if it is of `kind`.
async fn device_office<'s>(
    state: &'s AppState,
    req: &HttpRequest,
    kind: DeviceKind,
    locale: Locale,
) -> Result<&'s prepazka_actors::OfficeHandle, ApiError> {
    device(state, req, kind, locale).await.map(|(office, _)| office)
}

/// The office and the token hash of the enrolled device making this request, if it is of `kind`.
async fn device<'s>(
    state: &'s AppState,
    req: &HttpRequest,
    kind: DeviceKind,
    locale: Locale,
) -> Result<(&'s prepazka_actors::OfficeHandle, Arc<str>), ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let token =
        req.cookie(DEVICE_COOKIE).map(|c| c.value().to_owned()).filter(|t| well_formed(t)).ok_or(fail(ErrorCode::DeviceNotEnrolled))?;
    let device = enrolled(state, &token, locale).await?;
    if device.kind != kind {
        return Err(fail(ErrorCode::WrongDevice));
    }
    state.devices_seen.saw(&device.token_hash, state.clock.now());
    let office = state.directory.get(&device.office).ok_or(fail(ErrorCode::OfficeNotFound))?;
    Ok((office, device.token_hash.into()))
}

/// The device enrolled under `token`; a revoked one is told so.
async fn enrolled(state: &AppState, token: &str, locale: Locale) -> Result<prepazka_store::DeviceRecord, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let device = state
        .store
        .device_record(&token_hash(token))
        .await
        .map_err(|_| fail(ErrorCode::Unavailable))?
        .ok_or(fail(ErrorCode::DeviceNotEnrolled))?;
    if device.revoked_at.is_some() {
        return Err(fail(ErrorCode::DeviceRevoked));
    }
    Ok(device)
}

async fn enrol(state: web::Data<AppState>, Lang(locale): Lang, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    if !well_formed(&token) {
        return Err(ApiError::page(ErrorCode::DeviceNotEnrolled, locale));
    }
    let kind = enrolled(&state, &token, locale).await?.kind;
    let cookie = Cookie::build(DEVICE_COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish();
    let target = match kind {
        DeviceKind::Kiosk => "/kiosk",
        DeviceKind::Display => "/display",
    };
    Ok(HttpResponse::SeeOther().cookie(cookie).insert_header((header::LOCATION, target)).finish())
}

fn t(locale: Locale, key: &str) -> String {
    esc(&catalog().t(locale, key))
}

const KIOSK_STYLE: &str = "<style>.kiosk button{font-size:1.6rem;width:100%;padding:1.4rem;margin:.5rem 0}\
.ticket{font:800 5rem/1 ui-monospace,monospace;text-align:center;margin:1rem 0}\
@media print{header,footer,nav,.noprint{display:none}.ticket{font-size:4rem}}</style>";

async fn kiosk(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang) -> Result<HttpResponse, ApiError> {
    let handle = device_office(&state, &req, DeviceKind::Kiosk, locale).await?;
    let office = handle.office();
    let buttons = service_buttons(office, "/kiosk/walk-in", locale);
    let check_in = format!(
        r#"<form method="post" action="/kiosk/check-in" class="card"><h2>{}</h2><label for="code">{}</label><input id="code" name="booking_code" autocomplete="off" required>
<label for="dob">{}</label><input id="dob" name="date_of_birth" type="date"><button type="submit">{}</button></form>"#,
        t(locale, "kiosk-check-in"),
        t(locale, "field-booking-code"),
        t(locale, "field-date-of-birth"),
        t(locale, "kiosk-check-in-submit"),
    );
    let now = state.clock.now();
    let hours = match handle.walk_ins_until(now) {
        Some(until) if until > now => {
            esc(&catalog().text(locale, "kiosk-walk-in-until", &[("time", FluentValue::from(crate::pages::clock_label(until)))]))
        }
        _ => t(locale, "error-walk_ins_closed"),
    };
    let body = format!(
        r#"{KIOSK_STYLE}<p class="muted">{}</p>{check_in}<h2>{}</h2><p data-walk-in-hours>{hours}</p><div class="kiosk">{buttons}</div>"#,
        esc(&office.name),
        t(locale, "kiosk-walk-in")
    );
    Ok(html(&req, locale, &catalog().t(locale, "kiosk-title"), &body))
}

#[derive(Deserialize)]
struct WalkIn {
    service: String,
}

/// One button per service the office offers, each posting `service` to `action`.
fn service_buttons(office: &prepazka_models::office::Office, action: &str, locale: Locale) -> String {
    office
        .available_services()
        .map(|s| {
            format!(
                r#"<form method="post" action="{action}"><input type="hidden" name="service" value="{}"><button type="submit">{}</button></form>"#,
                s.service.slug(),
                t(locale, &format!("service-{}", s.service.slug()))
            )
        })
        .collect()
}

/// A walk-in ticket for the service named `raw`, if the office offers it (and issues walk-in
/// tickets now: the office's actor decides that).
async fn issue_walk_in(handle: &prepazka_actors::OfficeHandle, raw: &str) -> Result<(ServiceKind, prepazka_store::QueueRecord), ErrorCode> {
    let service: ServiceKind = raw.parse()?;
    handle.office().offers(service)?;
    let record = handle.queue(QueueCommand::Issue { service, origin: Origin::WalkIn, priority: false }).await?;
    Ok((service, record))
}

async fn walk_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    form: web::Form<WalkIn>,
) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let handle = device_office(&state, &req, DeviceKind::Kiosk, locale).await?;
    let (service, record) = issue_walk_in(handle, &form.service).await.map_err(fail)?;
    ticket_page(&state, &req, locale, handle, service, &record).await
}

/// "Expected wait: about N minutes", or that no counter serves the service right now (not escaped).
fn expected_wait_text(
    handle: &prepazka_actors::OfficeHandle,
    day: &prepazka_actors::office::DaySnapshot,
    number: TicketNumber,
    service: ServiceKind,
    now: chrono::DateTime<chrono::Utc>,
    locale: Locale,
) -> String {
    let planned = handle.office().service(service).map(|s| chrono::Duration::minutes(i64::from(s.slot_minutes))).unwrap_or_default();
    match prepazka_models::wait::expected_wait(&day.tickets, &day.counters, number, planned, &day.params, now) {
        Some(wait) => {
            let minutes = (wait.num_seconds() + 59) / 60;
            catalog().text(locale, "wait-expected", &[("minutes", FluentValue::from(minutes))])
        }
        None => catalog().t(locale, "wait-unknown"),
    }
}

/// The kiosk's answer: the ticket number, its service, how many wait before it; printable.
async fn ticket_page(
    state: &AppState,
    req: &HttpRequest,
    locale: Locale,
    handle: &prepazka_actors::OfficeHandle,
    service: ServiceKind,
    record: &prepazka_store::QueueRecord,
) -> Result<HttpResponse, ApiError> {
    let number = record.event.ticket();
    let day = handle.day().await.map_err(|code| ApiError::page(code, locale))?;
    let before = day.tickets.iter().filter(|t| t.service == service && t.state == TicketState::Waiting && t.number < number).count();
    let wait = esc(&expected_wait_text(handle, &day, number, service, state.clock.now(), locale));
    let office = handle.office().id.to_string();
    let day = prague_date(record.at);
    let path = format!("/t/{office}/{day}/{number}?k={}", state.secrets.ticket_tag(&office, day, &number.to_string()));
    let info = req.connection_info();
    let link = format!("{}://{}{path}", info.scheme(), info.host());
    let body = format!(
        r#"{KIOSK_STYLE}<div class="card"><p>{}</p><p class="ticket" data-ticket>{}</p><p>{}</p><p data-expected-wait>{wait}</p><p>{}</p><p class="muted">{}</p>
<figure class="qr" role="img" aria-label="{scan}">{}</figure><p><a href="{}" data-live-link>{scan}</a></p></div>
<p class="noprint"><button onclick="window.print()">{}</button> <a href="/kiosk">{}</a></p>"#,
        t(locale, &format!("service-{}", service.slug())),
        esc(&number.to_string()),
        esc(&catalog().text(locale, "kiosk-waiting-before", &[("count", FluentValue::from(before))])),
        t(locale, "kiosk-ticket-note"),
        esc(&prepazka_models::calendar::prague_label(record.at)),
        crate::pages::qr_svg(&link),
        esc(&path),
        t(locale, "kiosk-print"),
        t(locale, "kiosk-again"),
        scan = t(locale, "ticket-live-scan"),
    );
    Ok(html(req, locale, &catalog().t(locale, "kiosk-ticket-title"), &body))
}

#[derive(Deserialize)]
struct CheckIn {
    booking_code: String,
    date_of_birth: Option<String>,
}

/// Checks an appointment in: by the scanned QR payload (`PZK1:…`), or by the typed booking
/// code and date of birth (rate-limited like "my booking"). The booking must be confirmed, for
/// this office, and within its check-in window; checking in twice is refused by the queue and,
/// behind it, by the database.
async fn check_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    form: web::Form<CheckIn>,
) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let handle = device_office(&state, &req, DeviceKind::Kiosk, locale).await?;
    let typed = form.booking_code.trim();
    let booking = if let Some(payload) = typed.strip_prefix("PZK1:") {
        let code = BookingCode::parse(payload.split(':').next().unwrap_or_default()).map_err(fail)?;
        if state.secrets.check_in_payload(&code) != typed {
            return Err(fail(ErrorCode::InvalidBookingCode));
        }
        state.store.booking_by_code(&code).await.map_err(|_| fail(ErrorCode::Unavailable))?.ok_or(fail(ErrorCode::BookingNotFound))?
    } else {
        let code = BookingCode::parse(typed).map_err(fail)?;
        let born = parse_iso_date(form.date_of_birth.as_deref().unwrap_or_default()).map_err(fail)?;
        state.find_booking(&crate::api::client_of(&req), &code, born).await.map_err(fail)?
    };
    if booking.status != BookingStatus::Confirmed {
        return Err(fail(ErrorCode::BookingNotActive));
    }
    check_in_rules(&booking.office, &handle.office().id, booking.starts_at, state.clock.now(), CheckInWindow::default()).map_err(fail)?;
    let origin = Origin::Appointment { slot: booking.starts_at, booking: booking.id };
    let record = handle.queue(QueueCommand::Issue { service: booking.service, origin, priority: false }).await.map_err(fail)?;
    ticket_page(&state, &req, locale, handle, booking.service, &record).await
}

async fn display(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang) -> Result<HttpResponse, ApiError> {
    let office = device_office(&state, &req, DeviceKind::Display, locale).await?.office();
    let body = format!(
        r#"<style>.calls{{font:700 2.4rem/1.3 ui-monospace,monospace;border-collapse:collapse;min-width:60%}}.calls th,.calls td{{padding:.3rem 1.2rem;border-bottom:1px solid #ccd;text-align:left}}
.calls tr.latest{{background:#fff3bf}}#offline{{display:none;background:#a4161a;color:#fff;padding:.6rem}}body.offline #offline{{display:block}}
body>header,body>footer,.skip{{display:none}}.join{{float:right;width:14rem;text-align:center}}.join img{{width:100%}}</style>
<aside class="join"><img id="join-qr" src="/display/join.svg" alt=""><p>{join}</p></aside>
<p class="muted">{office}</p><div id="offline" role="status">{offline}</div>
<p><button id="speak" type="button" aria-pressed="false">{speak}</button></p>
<table class="calls"><thead><tr><th>{ticket}</th><th>{counter}</th></tr></thead><tbody id="calls"></tbody></table>
<script>
const sayings = {sayings};
let speaking = false;
const speakButton = document.getElementById('speak');
speakButton.onclick = () => {{ speaking = !speaking; speakButton.setAttribute('aria-pressed', String(speaking)); }};
function say(ev) {{
  if (!speaking || !('speechSynthesis' in window)) return;
  const spelled = ev.ticket.split('').join(' ');
  for (const [lang, text] of sayings) {{
    const u = new SpeechSynthesisUtterance(text.replace('{{ticket}}', spelled).replace('{{counter}}', ev.counter ?? ''));
    u.lang = lang; speechSynthesis.speak(u);
  }}
}}
setInterval(() => {{ document.getElementById('join-qr').src = '/display/join.svg?' + Date.now(); }}, 60000);
const calls = document.getElementById('calls');
function chime() {{ try {{ const a = new AudioContext(); const o = a.createOscillator(); o.frequency.value = 880; o.connect(a.destination); o.start(); o.stop(a.currentTime + 0.25); }} catch (e) {{}} }}
function show(ev) {{
  if (ev.kind !== 'called' && ev.kind !== 'recalled') return;
  for (const row of calls.querySelectorAll('tr')) row.classList.remove('latest');
  const row = document.createElement('tr'); row.className = 'latest';
  const a = document.createElement('td'); a.textContent = ev.ticket; const b = document.createElement('td'); b.textContent = ev.counter ?? '';
  row.append(a, b); calls.prepend(row); while (calls.children.length > 8) calls.lastChild.remove(); chime(); say(ev);
}}
const source = new EventSource('/display/events');
source.addEventListener('queue', (m) => show(JSON.parse(m.data)));
source.addEventListener('revoked', () => {{ source.close(); location.reload(); }});
source.onopen = () => document.body.classList.remove('offline');
source.onerror = () => document.body.classList.add('offline');
</script>"#,
        office = esc(&office.name),
        offline = t(locale, "display-offline"),
        join = t(locale, "display-join"),
        speak = t(locale, "display-speak"),
        sayings = spoken_templates(),
        ticket = t(locale, "display-ticket"),
        counter = t(locale, "display-counter"),
    );
    Ok(html(&req, locale, &catalog().t(locale, "display-title"), &body))
}

/// What the display says for a call, in Czech and in English (for visitors who cannot read the
/// screen), as `[[lang, template]]` with `{ticket}` and `{counter}` left for the page to fill.
fn spoken_templates() -> String {
    let template = |locale| {
        catalog().text(locale, "display-say", &[("ticket", FluentValue::from("{ticket}")), ("counter", FluentValue::from("{counter}"))])
    };
    // Into a <script>: serde_json escapes quotes; `<` is escaped so no `</script>` can appear.
    serde_json::json!([["cs-CZ", template(Locale::Cs)], ["en-GB", template(Locale::En)]]).to_string().replace('<', "\\u003c")
}

/// `{day}:{seq}` from a `Last-Event-ID`.
fn parse_event_id(raw: &str) -> Option<(NaiveDate, u64)> {
    let (day, seq) = raw.trim().split_once(':')?;
    Some((prepazka_models::identity::parse_iso_date(day).ok()?, seq.parse().ok()?))
}

/// The frame of an event replayed from the store (live events come rendered by the office).
fn sse_frame(event: &DisplayEvent) -> Vec<u8> {
    prepazka_actors::office::sse_frame(event)
}

/// A live event's frame as a body chunk: every stream shares the office's one rendering.
struct SharedFrame(Arc<Published>);

impl AsRef<[u8]> for SharedFrame {
    fn as_ref(&self) -> &[u8] {
        &self.0.frame
    }
}

async fn display_events(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang) -> Result<HttpResponse, ApiError> {
    // Subscribed before the device is checked, so that a revocation committed after the check
    // still reaches this stream.
    let revocations = state.revocations.subscribe();
    let (office, token_hash) = device(&state, &req, DeviceKind::Display, locale).await?;
    let office_id = office.office().id.clone();
    event_stream(&state, &req, office_id, Some((revocations, token_hash)), locale).await
}

/// A ticket link's parts, checked against its tag; the office of a valid one.
fn ticket_link(
    state: &AppState,
    path: &(String, String, String),
    tag: &str,
    locale: Locale,
) -> Result<(OfficeId, NaiveDate, TicketNumber), ApiError> {
    let not_found = || ApiError::page(ErrorCode::TicketNotFound, locale);
    let office = OfficeId::parse(&path.0).map_err(|_| not_found())?;
    let day = parse_iso_date(&path.1).map_err(|_| not_found())?;
    let ticket = TicketNumber::parse(&path.2).map_err(|_| not_found())?;
    let expected = state.secrets.ticket_tag(office.as_str(), day, &ticket.to_string());
    if !crate::secrets::constant_time_eq(expected.as_bytes(), tag.as_bytes()) || state.directory.get(&office).is_none() {
        return Err(not_found());
    }
    Ok((office, day, ticket))
}

#[derive(Deserialize)]
struct TicketTag {
    k: String,
}

/// The client's phone: where their ticket stands, refreshed by the office's event stream (and,
/// without JavaScript, by a periodic reload).
async fn ticket_live(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    path: web::Path<(String, String, String)>,
    query: web::Query<TicketTag>,
) -> Result<HttpResponse, ApiError> {
    let (office, day, number) = ticket_link(&state, &path, &query.k, locale)?;
    let handle = state.directory.get(&office).ok_or(ApiError::page(ErrorCode::OfficeNotFound, locale))?;
    let today = prague_date(state.clock.now());
    let snapshot = if day == today { handle.day().await.map_err(|c| ApiError::page(c, locale))? } else { Default::default() };
    let tickets = &snapshot.tickets;
    let ticket = tickets.iter().find(|t| t.number == number);
    let status = match ticket.map(|t| t.state) {
        Some(TicketState::Waiting) => {
            let service = ticket.map(|t| t.service);
            let before =
                tickets.iter().filter(|t| Some(t.service) == service && t.state == TicketState::Waiting && t.number < number).count();
            let wait = service.map(|s| expected_wait_text(handle, &snapshot, number, s, state.clock.now(), locale)).unwrap_or_default();
            format!("{} {wait}", catalog().text(locale, "ticket-live-waiting", &[("count", FluentValue::from(before))]))
        }
        Some(TicketState::Called { counter, .. } | TicketState::Serving { counter }) => {
            catalog().text(locale, "ticket-live-called", &[("counter", FluentValue::from(counter))])
        }
        _ => catalog().t(locale, "ticket-live-done"),
    };
    let events = format!("/t/{}/{}/{}/events?k={}", office, day, number, esc(&query.k));
    let body = format!(
        r#"<meta http-equiv="refresh" content="30"><div class="card"><p class="code" data-ticket>{}</p><p data-ticket-status role="status">{}</p></div>
<script>const s = new EventSource('{events}'); s.addEventListener('queue', () => location.reload());</script>"#,
        esc(&number.to_string()),
        esc(&status),
    );
    Ok(html(&req, locale, &catalog().t(locale, "ticket-live-title"), &body))
}

async fn ticket_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    path: web::Path<(String, String, String)>,
    query: web::Query<TicketTag>,
) -> Result<HttpResponse, ApiError> {
    let (office, _, _) = ticket_link(&state, &path, &query.k, locale)?;
    event_stream(&state, &req, office, None, locale).await
}

/// The office's queue events as Server-Sent Events: what the caller missed since its
/// `Last-Event-ID` (or the last few), then live ones.
async fn event_stream(
    state: &AppState,
    req: &HttpRequest,
    office_id: OfficeId,
    device: Option<Revocations>,
    locale: Locale,
) -> Result<HttpResponse, ApiError> {
    let handle = state.directory.get(&office_id).ok_or(ApiError::page(ErrorCode::OfficeNotFound, locale))?;
    // Subscribe (taking the office's recent events) before reading the store, so nothing falls
    // between the replay and the live feed.
    let (live, recent) = handle.subscribe();
    let today = prague_date(state.clock.now());
    let last_seen = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_event_id)
        .filter(|(day, _)| *day == today)
        .map(|(_, seq)| seq);
    // Jitter, so that ten thousand screens do not all come back in the same instant.
    let retry = 2_000 + rand::thread_rng().gen_range(0..3_000);
    // The retry, then the replay.
    let mut head = format!("retry: {retry}\n\n").into_bytes();
    let mut sent = last_seen.unwrap_or(0);
    // The office's recent events answer when they hold all after `last_seen` (on a first
    // connection: the last few, or the whole day); otherwise the store does.
    let recent: Vec<Arc<Published>> = recent.into_iter().filter(|p| p.event.day == today).collect();
    let first_kept = recent.first().map(|p| p.event.seq);
    let kept = match last_seen {
        Some(seen) => first_kept.is_some_and(|first| first <= seen + 1),
        None => recent.len() >= FIRST_REPLAY || first_kept == Some(1),
    };
    if kept {
        let recent: Vec<&Arc<Published>> = recent.iter().filter(|p| p.event.seq > sent).collect();
        let skip = if last_seen.is_none() { recent.len().saturating_sub(FIRST_REPLAY) } else { 0 };
        for published in &recent[skip..] {
            head.extend_from_slice(&published.frame);
            sent = sent.max(published.event.seq);
        }
    } else {
        let records =
            state.store.queue_events(&office_id, today, sent).await.map_err(|_| ApiError::page(ErrorCode::Unavailable, locale))?;
        let skip = if last_seen.is_none() { records.len().saturating_sub(FIRST_REPLAY) } else { 0 };
        for record in &records[skip..] {
            head.extend(sse_frame(&DisplayEvent::of(today, record.seq, record.at, &record.event)));
            sent = sent.max(record.seq);
        }
    }
    let tail = Tail {
        live,
        heartbeat: tokio::time::interval(HEARTBEAT),
        sent,
        today,
        store: state.store.clone(),
        office_id,
        device,
        ended: false,
    };
    // The head goes out in pieces, yielding between them so that each is flushed on its own:
    // actix keeps a connection's write buffer for the life of the stream, and a replay written
    // in one piece would keep about 4 KiB more of it resident per stream.
    const PIECE: usize = 1024;
    let head = Bytes::from(head);
    let pieces: Vec<Bytes> = (0..head.len()).step_by(PIECE).map(|at| head.slice(at..head.len().min(at + PIECE))).collect();
    let head = stream::iter(pieces.into_iter().enumerate()).then(|(i, piece)| async move {
        if i > 0 {
            tokio::task::yield_now().await;
        }
        piece
    });
    let body = head.chain(stream::unfold(tail, Tail::next)).map(Ok::<_, actix_web::Error>);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// What one open stream keeps between events.
struct Tail {
    live: broadcast::Receiver<Arc<Published>>,
    heartbeat: tokio::time::Interval,
    /// The last sequence number sent.
    sent: u64,
    today: NaiveDate,
    store: prepazka_store::SharedStore,
    office_id: OfficeId,
    /// A display's stream watches for its own revocation; a phone's has no device.
    device: Option<Revocations>,
    /// The last chunk (`revoked`) was sent.
    ended: bool,
}

/// The revocation feed and the token hash of the device a stream belongs to.
type Revocations = (broadcast::Receiver<Arc<str>>, Arc<str>);

/// Resolves when the stream's device is revoked, or when revocations were missed (the feed
/// lagged: the display reconnects and is checked again); never for a stream without a device.
async fn revoked(device: &mut Option<Revocations>) {
    let Some((feed, own)) = device else { return std::future::pending().await };
    loop {
        match feed.recv().await {
            Ok(hash) if hash == *own => return,
            Ok(_) => continue,
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

impl Tail {
    async fn missed(&self) -> Result<Vec<prepazka_store::QueueRecord>, prepazka_store::StoreError> {
        self.store.queue_events(&self.office_id, self.today, self.sent).await
    }

    /// The next chunk: a live event, what was missed after falling behind, or a heartbeat.
    async fn next(mut self) -> Option<(Bytes, Self)> {
        if self.ended {
            return None;
        }
        loop {
            tokio::select! {
                biased;
                () = revoked(&mut self.device) => {
                    // The page reloads on this event and shows why it stopped.
                    self.ended = true;
                    return Some((Bytes::from_static(b"event: revoked\ndata: {}\n\n"), self));
                }
                received = self.live.recv() => match received {
                    Ok(published) if published.event.seq == self.sent + 1 || published.event.day != self.today => {
                        self.sent = published.event.seq;
                        return Some((Bytes::from_owner(SharedFrame(published)), self));
                    }
                    Ok(published) if published.event.seq <= self.sent => continue,
                    // A gap (an event published out of order, or lost with a failed commit's
                    // rebuild) or fell behind the buffer: catch up from the store, which has
                    // every committed event in order.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => match self.missed().await {
                        Ok(missed) => {
                            let Some(last) = missed.last() else { continue };
                            self.sent = last.seq;
                            let frames: Vec<u8> =
                                missed.iter().flat_map(|r| sse_frame(&DisplayEvent::of(self.today, r.seq, r.at, &r.event))).collect();
                            return Some((Bytes::from(frames), self));
                        }
                        // End the stream: the display comes back after its retry and replays
                        // from its Last-Event-ID (an empty chunk would end it less clearly).
                        Err(_) => return None,
                    },
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.heartbeat.tick() => return Some((Bytes::from_static(b": heartbeat\n\n"), self)),
            }
        }
    }
}

/// How long one entrance code lives; a scanned code works in its window and the next, so it
/// is good for two to four minutes: long enough to choose a service, too short to share.
const JOIN_WINDOW_SECS: i64 = 120;
/// Remote tickets one client may take per quarter hour.
pub(crate) const JOIN_PER_CLIENT: u32 = 3;

fn join_window(now: chrono::DateTime<chrono::Utc>) -> i64 {
    now.timestamp().div_euclid(JOIN_WINDOW_SECS)
}

/// The entrance QR code of the display's office for the current window, as SVG.
async fn join_qr(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang) -> Result<HttpResponse, ApiError> {
    let office = device_office(&state, &req, DeviceKind::Display, locale).await?.office().id.to_string();
    let window = join_window(state.clock.now());
    let info = req.connection_info();
    let link = format!("{}://{}/join/{office}/{window}/{}", info.scheme(), info.host(), state.secrets.join_tag(&office, window));
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(with_description(&crate::pages::qr_svg(&link), &link)))
}

/// An SVG with a `<desc>` naming what it encodes (for screen readers and for tests).
fn with_description(svg: &str, text: &str) -> String {
    match svg.find("<svg").and_then(|at| svg[at..].find('>').map(|end| at + end + 1)) {
        Some(split) => format!("{}<desc>{}</desc>{}", &svg[..split], esc(text), &svg[split..]),
        None => svg.to_owned(),
    }
}

/// The office of a scanned entrance code that is still fresh.
fn join_office<'s>(
    state: &'s AppState,
    path: &(String, i64, String),
    locale: Locale,
) -> Result<&'s prepazka_actors::OfficeHandle, ApiError> {
    let (office, window, tag) = path;
    let handle =
        OfficeId::parse(office).ok().and_then(|id| state.directory.get(&id)).ok_or(ApiError::page(ErrorCode::JoinCodeExpired, locale))?;
    let expected = state.secrets.join_tag(office, *window);
    let current = join_window(state.clock.now());
    let fresh = *window == current || *window == current - 1;
    if !fresh || !crate::secrets::constant_time_eq(expected.as_bytes(), tag.as_bytes()) {
        return Err(ApiError::page(ErrorCode::JoinCodeExpired, locale));
    }
    Ok(handle)
}

async fn join_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    path: web::Path<(String, i64, String)>,
) -> Result<HttpResponse, ApiError> {
    let handle = join_office(&state, &path, locale)?;
    let office = handle.office();
    let action = format!("/join/{}/{}/{}", esc(&path.0), path.1, esc(&path.2));
    let buttons = service_buttons(office, &action, locale);
    let body = format!(
        r#"{KIOSK_STYLE}<p class="muted">{}</p><p>{}</p><div class="kiosk">{buttons}</div>"#,
        esc(&office.name),
        t(locale, "join-note")
    );
    Ok(html(&req, locale, &catalog().t(locale, "join-title"), &body))
}

/// Takes a walk-in ticket from the phone and sends it to the ticket's live page.
async fn join_take(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    path: web::Path<(String, i64, String)>,
    form: web::Form<WalkIn>,
) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let handle = join_office(&state, &path, locale)?;
    let budget = format!("join:{}", crate::api::client_of(&req));
    if state.join_budget.is_locked(&budget) {
        return Err(fail(ErrorCode::TooManyRequests));
    }
    form.service.parse::<ServiceKind>().map_err(fail)?;
    state.join_budget.failure(&budget);
    let (_, record) = issue_walk_in(handle, &form.service).await.map_err(fail)?;
    let office = handle.office().id.to_string();
    let day = prague_date(record.at);
    let number = record.event.ticket().to_string();
    let link = format!("/t/{office}/{day}/{number}?k={}", state.secrets.ticket_tag(&office, day, &number));
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, link)).finish())
}
