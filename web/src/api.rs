//! The JSON API under `/api/v1` (described by `/api/v1/openapi.json`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use prepazka_models::booking::HouseholdArrangement;
use prepazka_models::calendar::{parse_instant, prague_date};
use prepazka_models::identity::{parse_iso_date, Credentials, DateOfBirth, Email, PassportNumber, PersonName, Pin, RegistrationNumber};
use prepazka_models::ids::{BookingCode, OfficeId};
use prepazka_models::locale::Locale;
use prepazka_models::service::ServiceKind;
use prepazka_models::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::i18n::Lang;
use crate::idempotency::{self, Answer};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/offices", web::get().to(offices))
            .route("/offices/{office}/slots", web::get().to(slots))
            .route("/identity", web::post().to(identity))
            .route("/holds", web::post().to(hold))
            .route("/holds/{hold}/confirm", web::post().to(confirm))
            .route("/bookings/lookup", web::post().to(lookup))
            .route("/bookings/reschedule", web::post().to(reschedule))
            .route("/bookings/cancel", web::post().to(cancel))
            .route("/openapi.json", web::get().to(openapi)),
    );
}

type Result<T> = std::result::Result<T, ApiError>;

pub(crate) fn client_of(req: &HttpRequest) -> String {
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

#[derive(Serialize)]
struct OfficeView<'a> {
    id: &'a str,
    name: &'a str,
    region: &'a str,
    region_name: &'a str,
    city: &'a str,
    address: &'a str,
    has_biometrics: bool,
    services: Vec<ServiceView>,
}

#[derive(Serialize)]
struct ServiceView {
    service: ServiceKind,
    slot_minutes: u32,
}

async fn offices(state: web::Data<AppState>) -> HttpResponse {
    let list: Vec<OfficeView> = state
        .directory
        .list()
        .into_iter()
        .map(|h| {
            let o = h.office();
            OfficeView {
                id: o.id.as_str(),
                name: &o.name,
                region: o.region.slug(),
                region_name: o.region.name_cs(),
                city: &o.city,
                address: &o.address,
                has_biometrics: o.has_biometrics,
                services: o.available_services().map(|s| ServiceView { service: s.service, slot_minutes: s.slot_minutes }).collect(),
            }
        })
        .collect();
    HttpResponse::Ok().json(serde_json::json!({ "offices": list }))
}

#[derive(Deserialize)]
struct SlotQuery {
    service: String,
    date: Option<String>,
}

async fn slots(
    state: web::Data<AppState>,
    Lang(locale): Lang,
    path: web::Path<String>,
    query: web::Query<SlotQuery>,
) -> Result<HttpResponse> {
    let fail = |code| ApiError::new(code, locale);
    let office = OfficeId::parse(&path).map_err(fail)?;
    let service: ServiceKind = query.service.parse().map_err(fail)?;
    let day = match &query.date {
        Some(raw) => parse_iso_date(raw).map_err(fail)?,
        None => prague_date(state.clock.now()),
    };
    let slots = state.free_slots(&office, service, day).await.map_err(fail)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "office_id": office.as_str(), "service": service, "date": day, "slots": slots })))
}

#[derive(Deserialize, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub(crate) enum IdentityRequest {
    Registration { registration_number: String, pin: String },
    TravelDocument { document_number: String, date_of_birth: String, name: String },
}

impl IdentityRequest {
    pub(crate) fn parse(&self, today: NaiveDate) -> std::result::Result<Credentials, ErrorCode> {
        Ok(match self {
            IdentityRequest::Registration { registration_number, pin } => {
                Credentials::Registration { number: RegistrationNumber::parse(registration_number)?, pin: Pin::parse(pin)? }
            }
            IdentityRequest::TravelDocument { document_number, date_of_birth, name } => Credentials::TravelDocument {
                number: PassportNumber::parse(document_number)?,
                date_of_birth: DateOfBirth::parse(date_of_birth, today)?,
                name: PersonName::parse(name)?,
            },
        })
    }
}

async fn identity(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    body: web::Json<IdentityRequest>,
) -> Result<HttpResponse> {
    let fail = |code| ApiError::new(code, locale);
    if !state.verify_budget.failure(&client_of(&req)) {
        return Err(fail(ErrorCode::TooManyRequests));
    }
    let credentials = body.parse(prague_date(state.clock.now())).map_err(fail)?;
    let verified = state.verify(&credentials).await.map_err(fail)?;
    Ok(HttpResponse::Ok().json(verified))
}

#[derive(Deserialize, Serialize)]
struct HoldRequest {
    identity_token: String,
    office_id: String,
    service: String,
    starts_at: String,
    #[serde(default)]
    members: Vec<usize>,
    #[serde(default)]
    arrangement: Option<HouseholdArrangement>,
}

fn answer<T: Serialize>(status: StatusCode, answer: Answer<T>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if answer.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(answer.value)
}

async fn hold(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: web::Json<HoldRequest>) -> Result<HttpResponse> {
    let fail = |code| ApiError::new(code, locale);
    let key = idempotency::key_from(&req).map_err(fail)?;
    let who = state.verified(&body.identity_token).map_err(fail)?;
    let office = OfficeId::parse(&body.office_id).map_err(fail)?;
    let service: ServiceKind = body.service.parse().map_err(fail)?;
    let start = parse_instant(&body.starts_at).ok_or(ErrorCode::InvalidDateTime).map_err(fail)?;
    let arrangement = body.arrangement.unwrap_or(HouseholdArrangement::Parallel);
    let scope = format!("holds:{}", who.key.as_str());
    let result = idempotency::once(&state, scope, key, idempotency::body_hash(&*body), |ctx| {
        let state = state.clone();
        async move { state.hold(&who, &office, service, start, &body.members, arrangement, Some(&ctx)).await }
    })
    .await;
    Ok(answer(StatusCode::CREATED, result.map_err(fail)?))
}

#[derive(Deserialize, Serialize)]
struct ConfirmRequest {
    identity_token: String,
    email: String,
    locale: Option<String>,
}

async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    path: web::Path<String>,
    body: web::Json<ConfirmRequest>,
) -> Result<HttpResponse> {
    let fail = |code| ApiError::new(code, locale);
    let key = idempotency::key_from(&req).map_err(fail)?;
    let who = state.verified(&body.identity_token).map_err(fail)?;
    let email = Email::parse(&body.email).map_err(fail)?;
    let preferred: Locale = match &body.locale {
        Some(raw) => raw.parse().map_err(|_| fail(ErrorCode::InvalidLocale))?,
        None => locale,
    };
    let scope = format!("confirm:{}", who.key.as_str());
    let hold_id = path.into_inner();
    let result = idempotency::once(&state, scope, key, idempotency::body_hash(&(&*body, &hold_id)), |ctx| {
        let state = state.clone();
        async move { state.confirm(&who, &hold_id, &email, preferred, Some(&ctx)).await }
    })
    .await;
    Ok(answer(StatusCode::CREATED, result.map_err(fail)?))
}

#[derive(Deserialize, Serialize)]
pub(crate) struct LookupRequest {
    pub booking_code: String,
    pub date_of_birth: String,
}

impl LookupRequest {
    pub(crate) fn parse(&self) -> std::result::Result<(BookingCode, NaiveDate), ErrorCode> {
        Ok((BookingCode::parse(&self.booking_code)?, parse_iso_date(&self.date_of_birth)?))
    }
}

async fn lookup(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: web::Json<LookupRequest>) -> Result<HttpResponse> {
    let fail = |code| ApiError::new(code, locale);
    let (code, born) = body.parse().map_err(fail)?;
    let booking = state.find_booking(&client_of(&req), &code, born).await.map_err(fail)?;
    Ok(HttpResponse::Ok().json(state.booking_view(&booking)))
}

#[derive(Deserialize, Serialize)]
struct RescheduleRequest {
    booking_code: String,
    date_of_birth: String,
    starts_at: String,
}

async fn reschedule(
    state: web::Data<AppState>,
    req: HttpRequest,
    Lang(locale): Lang,
    body: web::Json<RescheduleRequest>,
) -> Result<HttpResponse> {
    let fail = |code| ApiError::new(code, locale);
    let key = idempotency::key_from(&req).map_err(fail)?;
    let code = BookingCode::parse(&body.booking_code).map_err(fail)?;
    let born = parse_iso_date(&body.date_of_birth).map_err(fail)?;
    let to = parse_instant(&body.starts_at).ok_or(ErrorCode::InvalidDateTime).map_err(fail)?;
    let booking = state.find_booking(&client_of(&req), &code, born).await.map_err(fail)?;
    let scope = format!("reschedule:{}", code.as_str());
    let result = idempotency::once(&state, scope, key, idempotency::body_hash(&*body), |ctx| {
        let state = state.clone();
        async move { state.reschedule(&booking, to, Some(&ctx)).await }
    })
    .await;
    Ok(answer(StatusCode::OK, result.map_err(fail)?))
}

async fn cancel(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang, body: web::Json<LookupRequest>) -> Result<HttpResponse> {
    let fail = |code| ApiError::new(code, locale);
    let (code, born) = body.parse().map_err(fail)?;
    let booking = state.find_booking(&client_of(&req), &code, born).await.map_err(fail)?;
    let view = state.cancel(&booking).await.map_err(fail)?;
    Ok(HttpResponse::Ok().json(view))
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(include_str!("../openapi.json"))
}
