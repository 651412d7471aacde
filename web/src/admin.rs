//! The administrator's devices page (`/admin/devices`): the kiosks and waiting-room displays
//! enrolled per office, a new enrolment link (the token is shown once, with its QR code), and
//! revoking a device, after which its pages answer `device_revoked`.
//!
//! Only administrators get here (any office). A token is 32 random bytes; the database keeps
//! only its SHA-256, and a device is named on the page and in the audit by the first hex digits
//! of that hash. "Last seen" is kept in memory ([`DevicesSeen`]): since this server started, per
//! node, no write per device request.
//!
//! Deliberately absent: showing a token again (a lost one is revoked and replaced).

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use prepazka_models::ids::OfficeId;
use prepazka_models::locale::Locale;
use prepazka_models::office::{DeviceKind, StaffRole};
use prepazka_models::ErrorCode;
use prepazka_store::{StaffSession, Write};
use serde::Deserialize;

use crate::error::{catalog, ApiError};
use crate::html::esc;
use crate::i18n::Lang;
use crate::office_day::{new_token, token_hash};
use crate::pages::{form_pairs, html, qr_svg};
use crate::staff::{check_csrf, field, session_of};
use crate::AppState;

/// The longest device label kept ("Kiosk at the entrance, 2nd floor").
pub const LABEL_MAX: usize = 60;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/devices", web::get().to(devices))
        .route("/admin/devices", web::post().to(create))
        .route("/admin/devices/revoke", web::post().to(revoke));
}

/// When each enrolled device was last seen by this server (since it started).
#[derive(Default)]
pub struct DevicesSeen {
    seen: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl DevicesSeen {
    pub fn saw(&self, token_hash: &str, at: DateTime<Utc>) {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: only enrolled devices get here, but stay safe if there are very many.
        if seen.len() >= 100_000 && !seen.contains_key(token_hash) {
            return;
        }
        seen.insert(token_hash.to_owned(), at);
    }

    pub fn last(&self, token_hash: &str) -> Option<DateTime<Utc>> {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(token_hash).copied()
    }
}

/// A label as typed: trimmed, 1 to [`LABEL_MAX`] characters, no control characters.
pub fn parse_label(raw: &str) -> Result<String, ErrorCode> {
    let label = raw.trim();
    if label.is_empty() || label.chars().count() > LABEL_MAX || label.chars().any(char::is_control) {
        return Err(ErrorCode::InvalidInput);
    }
    Ok(label.to_owned())
}

fn t(locale: Locale, key: &str) -> String {
    esc(&catalog().t(locale, key))
}

/// The signed-in administrator, or why not.
async fn administrator(state: &AppState, req: &HttpRequest, locale: Locale) -> Result<StaffSession, ApiError> {
    let session = session_of(state, req, locale).await?;
    if session.member.role != StaffRole::Administrator {
        return Err(ApiError::page(ErrorCode::RoleNotAllowed, locale));
    }
    Ok(session)
}

/// The short name of a device on the page and in the audit.
fn short(token_hash: &str) -> &str {
    &token_hash[..token_hash.len().min(12)]
}

fn kind_options(locale: Locale) -> String {
    [DeviceKind::Kiosk, DeviceKind::Display]
        .iter()
        .map(|k| format!(r#"<option value="{}">{}</option>"#, k.as_str(), t(locale, &format!("admin-kind-{}", k.as_str()))))
        .collect()
}

#[derive(Deserialize)]
struct DevicesQuery {
    office: Option<String>,
}

async fn devices(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    query: web::Query<DevicesQuery>,
) -> Result<HttpResponse, ApiError> {
    let session = administrator(&state, &req, locale).await?;
    let only = match query.office.as_deref().filter(|o| !o.is_empty()) {
        Some(raw) => {
            let id = OfficeId::parse(raw).map_err(|c| ApiError::page(c, locale))?;
            Some(state.directory.get(&id).ok_or(ApiError::page(ErrorCode::OfficeNotFound, locale))?.office().id.clone())
        }
        None => None,
    };
    let all = state.store.devices().await.map_err(|_| ApiError::page(ErrorCode::Unavailable, locale))?;
    let csrf = esc(&session.csrf);
    let offices = state.directory.list();
    let office_options = |selected: Option<&OfficeId>| -> String {
        offices
            .iter()
            .map(|h| {
                let o = h.office();
                let chosen = if selected == Some(&o.id) { " selected" } else { "" };
                format!(r#"<option value="{}"{chosen}>{}</option>"#, o.id, esc(&o.name))
            })
            .collect()
    };
    let mut listing = String::new();
    for handle in &offices {
        let office = handle.office();
        if only.as_ref().is_some_and(|o| *o != office.id) {
            continue;
        }
        let rows: String = all
            .iter()
            .filter(|d| d.office == office.id)
            .map(|d| {
                let seen = match state.devices_seen.last(&d.token_hash) {
                    Some(at) => esc(&prepazka_models::calendar::prague_label(at)),
                    None => t(locale, "admin-not-seen"),
                };
                let status = match d.revoked_at {
                    Some(at) => format!(
                        r#"<span data-device-status="revoked">{} {}</span>"#,
                        t(locale, "admin-status-revoked"),
                        esc(&prepazka_models::calendar::prague_label(at))
                    ),
                    None => format!(
                        r#"<span data-device-status="active">{}</span> <form method="post" action="/admin/devices/revoke" style="display:inline"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="device" value="{}"><button class="danger" type="submit" aria-label="{} {}">{}</button></form>"#,
                        t(locale, "admin-status-active"),
                        esc(&d.token_hash),
                        t(locale, "admin-revoke"),
                        esc(&d.label),
                        t(locale, "admin-revoke")
                    ),
                };
                format!(
                    r#"<tr data-device="{}"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{seen}</td><td>{status}</td></tr>"#,
                    esc(short(&d.token_hash)),
                    esc(short(&d.token_hash)),
                    t(locale, &format!("admin-kind-{}", d.kind.as_str())),
                    esc(&d.label),
                    esc(&prepazka_models::calendar::prague_label(d.created_at)),
                )
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        listing.push_str(&format!(
            r#"<section class="card"><h3>{}</h3><table class="list"><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>{rows}</tbody></table></section>"#,
            esc(&office.name),
            t(locale, "admin-device"),
            t(locale, "admin-kind"),
            t(locale, "admin-label"),
            t(locale, "admin-created"),
            t(locale, "admin-last-seen"),
            t(locale, "admin-status"),
        ));
    }
    if listing.is_empty() {
        listing = format!(r#"<p class="card">{}</p>"#, t(locale, "admin-none"));
    }
    let body = format!(
        r#"<p class="muted">{user}</p>
<form method="post" action="/admin/devices" class="card"><h2>{new}</h2><input type="hidden" name="csrf" value="{csrf}">
<label for="new-office">{office}</label><select id="new-office" name="office">{new_offices}</select>
<label for="new-kind">{kind}</label><select id="new-kind" name="kind">{kinds}</select>
<label for="new-label">{label}</label><input id="new-label" name="label" maxlength="{LABEL_MAX}" required>
<button type="submit">{create}</button></form>
<h2>{enrolled}</h2>
<form method="get" action="/admin/devices" class="card"><label for="filter-office">{office}</label><select id="filter-office" name="office"><option value="">{all}</option>{filter_offices}</select><button type="submit">{show}</button></form>
{listing}
<form method="post" action="/staff/logout"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">{logout}</button></form>"#,
        user = esc(&session.member.username),
        new = t(locale, "admin-new"),
        office = t(locale, "admin-office"),
        new_offices = office_options(None),
        kind = t(locale, "admin-kind"),
        kinds = kind_options(locale),
        label = t(locale, "admin-label"),
        create = t(locale, "admin-create"),
        enrolled = t(locale, "admin-enrolled"),
        all = t(locale, "admin-all-offices"),
        filter_offices = office_options(only.as_ref()),
        show = t(locale, "slots-show"),
        logout = t(locale, "staff-logout"),
    );
    Ok(html(&req, locale, &catalog().t(locale, "admin-title"), &body))
}

async fn create(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let session = administrator(&state, &req, locale).await?;
    let form = form_pairs(&body);
    check_csrf(&session, field(&form, "csrf").unwrap_or_default(), locale)?;
    let office = OfficeId::parse(field(&form, "office").unwrap_or_default()).map_err(fail)?;
    let handle = state.directory.get(&office).ok_or(fail(ErrorCode::OfficeNotFound))?;
    let kind = DeviceKind::parse(field(&form, "kind").unwrap_or_default()).ok_or(fail(ErrorCode::InvalidInput))?;
    let label = parse_label(field(&form, "label").unwrap_or_default()).map_err(fail)?;
    let token = new_token();
    let hash = token_hash(&token);
    let write = Write::EnrolDevice {
        token_hash: hash.clone(),
        office,
        kind,
        label: label.clone(),
        actor: session.member.username.clone(),
        now: state.clock.now(),
    };
    state.writer.submit(write).await.map_err(fail)?;
    tracing::info!(office.id = %handle.office().id, device = short(&hash), kind = kind.as_str(), "device enrolled");
    let info = req.connection_info();
    let link = format!("{}://{}/enrol/{token}", info.scheme(), info.host());
    let body = format!(
        r#"<div class="card" role="status"><p>{note}</p>
<p><strong>{office_label}</strong>: {office} · <strong>{kind_label}</strong>: {kind} · <strong>{label_label}</strong>: {label}</p>
<p><strong>{link_label}</strong>:<br><code data-enrolment-link>{link}</code></p>
<figure class="qr" role="img" aria-label="{qr_label}">{qr}<figcaption>{qr_label}</figcaption></figure>
<p><strong>{token_label}</strong>: <code data-token>{token}</code></p></div>
<p><a href="/admin/devices">{back}</a></p>"#,
        note = t(locale, "admin-created-note"),
        office_label = t(locale, "admin-office"),
        office = esc(&handle.office().name),
        kind_label = t(locale, "admin-kind"),
        kind = t(locale, &format!("admin-kind-{}", kind.as_str())),
        label_label = t(locale, "admin-label"),
        label = esc(&label),
        link_label = t(locale, "admin-link"),
        link = esc(&link),
        qr_label = t(locale, "admin-qr"),
        qr = qr_svg(&link),
        token_label = t(locale, "admin-token"),
        token = esc(&token),
        back = t(locale, "admin-back"),
    );
    let mut response = html(&req, locale, &catalog().t(locale, "admin-created-title"), &body);
    // Shown once: no cache may keep the token.
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn revoke(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: String) -> Result<HttpResponse, ApiError> {
    let fail = |code| ApiError::page(code, locale);
    let session = administrator(&state, &req, locale).await?;
    let form = form_pairs(&body);
    check_csrf(&session, field(&form, "csrf").unwrap_or_default(), locale)?;
    let device = field(&form, "device").unwrap_or_default();
    if device.len() != 64 || !device.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(fail(ErrorCode::NotFound));
    }
    let write = Write::RevokeDevice { token_hash: device.to_owned(), actor: session.member.username.clone(), now: state.clock.now() };
    state.writer.submit(write).await.map_err(fail)?;
    // After the commit: a display that reconnects now is refused by the store.
    let _ = state.revocations.send(device.into());
    tracing::info!(device = short(device), "device revoked");
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/admin/devices")).finish())
}
