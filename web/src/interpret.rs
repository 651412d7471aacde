//! Interpreting at the counter, in the browser: the officer's screen, the client's screen (a
//! tablet or a second window), the audio WebSocket, the officer's oversight, the transcript for
//! the case file, and the supervisor's switch that suspends AI interpreting for an office.
//!
//! Who may do what: only staff with the interpreting-overseer role open a session, and only at
//! their own office; the officer's screen and actions need that member's session (and CSRF on
//! every form). The client's screen is opened from a link the officer's screen shows; it carries
//! an HMAC tag of the session id, so it reaches that session and nothing else.
//!
//! The audio socket speaks a small protocol: first a JSON `hello` naming 16 kHz mono, then
//! binary frames of little-endian 16-bit samples (at most one second each) and JSON `ptt`
//! messages; the server sends the screen's events as JSON. Anything else (another rate, odd or
//! oversized frames, audio faster than real time, text that is not one of the messages) ends
//! the session cleanly with a reason both screens show; the server is not affected.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message};
use futures_util::StreamExt as _;
use prepazka_actors::interpreter::{Ending, InterpretError, Interpreting, Oversight, Phase, ScreenEvent, SessionHandle, Side};
use prepazka_models::locale::Locale;
use prepazka_models::office::StaffRole;
use prepazka_models::ErrorCode;
use prepazka_store::StaffSession;
use serde::Deserialize;

use crate::error::{catalog, ApiError};
use crate::html::esc;
use crate::i18n::Lang;
use crate::pages::{form_pairs, html, qr_svg};
use crate::staff::{check_csrf, field, session_of};
use crate::AppState;

/// Longest audio frame: one second of 16-bit mono at 16 kHz.
pub const MAX_FRAME_BYTES: usize = 32_000;
/// Audio may run ahead of the wall clock by this much (network bursts) before it is a flood.
const FLOOD_SLACK_SECONDS: f64 = 5.0;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/interpret", web::get().to(home))
        .route("/interpret/start", web::post().to(start))
        .route("/interpret/pcm-worklet.js", web::get().to(worklet))
        .route("/interpret/suspend", web::post().to(suspend))
        .route("/interpret/{id}", web::get().to(officer_page))
        .route("/interpret/{id}/state", web::get().to(officer_state))
        .route("/interpret/{id}/client", web::get().to(client_page))
        .route("/interpret/{id}/ack", web::post().to(acknowledge))
        .route("/interpret/{id}/ws", web::get().to(socket))
        .route("/interpret/{id}/segments/{n}", web::post().to(oversee))
        .route("/interpret/{id}/finish", web::post().to(finish))
        .route("/interpret/{id}/transcript", web::get().to(transcript))
        .route("/interpret/{id}/export", web::get().to(export));
}

fn t(locale: Locale, key: &str) -> String {
    esc(&catalog().t(locale, key))
}

fn code_of(err: &InterpretError) -> ErrorCode {
    use prepazka_actors::interpreter::SessionError;
    match err {
        InterpretError::Suspended => ErrorCode::InterpretingSuspended,
        InterpretError::TooMany | InterpretError::LogUnavailable => ErrorCode::InterpretingUnavailable,
        InterpretError::NotFound => ErrorCode::NotFound,
        InterpretError::Session(SessionError::Over) => ErrorCode::InterpretingOver,
        InterpretError::Session(SessionError::NoticePending) => ErrorCode::NoticeNotAcknowledged,
        InterpretError::Session(SessionError::NoSegment) => ErrorCode::NotFound,
        InterpretError::Session(SessionError::LogUnavailable) => ErrorCode::InterpretingUnavailable,
        InterpretError::Session(SessionError::BadInput(_)) => ErrorCode::InvalidInput,
    }
}

fn service(state: &AppState, locale: Locale) -> Result<&Interpreting, ApiError> {
    state.interpreting.as_ref().ok_or(ApiError::page(ErrorCode::InterpretingUnavailable, locale))
}

/// The signed-in overseer and their office.
async fn overseer(state: &AppState, req: &HttpRequest, locale: Locale) -> Result<(StaffSession, String), ApiError> {
    let session = session_of(state, req, locale).await?;
    if session.member.role != StaffRole::InterpretingOverseer {
        return Err(ApiError::page(ErrorCode::RoleNotAllowed, locale));
    }
    let office = session.member.office.as_ref().ok_or(ApiError::page(ErrorCode::RoleNotAllowed, locale))?.as_str().to_owned();
    Ok((session, office))
}

/// The session, if the signed-in overseer belongs to its office.
async fn officer_session(state: &AppState, req: &HttpRequest, id: &str, locale: Locale) -> Result<(StaffSession, SessionHandle), ApiError> {
    let (staff, office) = overseer(state, req, locale).await?;
    let handle = service(state, locale)?.get(id).ok_or(ApiError::page(ErrorCode::NotFound, locale))?;
    if handle.office != office {
        return Err(ApiError::page(ErrorCode::WrongOffice, locale));
    }
    Ok((staff, handle))
}

/// The session a client screen's tag opens.
fn client_session(state: &AppState, id: &str, tag: &str, locale: Locale) -> Result<SessionHandle, ApiError> {
    let expected = state.secrets.interpret_tag(id);
    if !crate::secrets::constant_time_eq(expected.as_bytes(), tag.as_bytes()) {
        return Err(ApiError::page(ErrorCode::NotFound, locale));
    }
    service(state, locale)?.get(id).ok_or(ApiError::page(ErrorCode::NotFound, locale))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

/// The model setup's progress file, if the setup is running or failed.
fn model_progress() -> Option<serde_json::Value> {
    let cache = std::env::var_os("PREPAZKA_MODEL_CACHE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/prepazka/models")))?;
    let text = std::fs::read_to_string(cache.join("progress.json")).ok()?;
    serde_json::from_str(&text).ok()
}

async fn home(state: web::Data<AppState>, req: HttpRequest, Lang(locale): Lang) -> Result<HttpResponse, ApiError> {
    let (staff, office) = overseer(&state, &req, locale).await?;
    let mut body = String::new();
    match &state.interpreting {
        None => {
            body.push_str(&format!(r#"<div class="card error" role="alert"><p>{}</p></div>"#, t(locale, "error-interpreting_unavailable")))
        }
        Some(service) if service.is_suspended(&office) => {
            body.push_str(&format!(r#"<div class="card error" role="alert"><p>{}</p></div>"#, t(locale, "error-interpreting_suspended")))
        }
        Some(service) => {
            let (asr, mt) = service.models();
            let options: String = [Locale::Uk, Locale::Ru, Locale::Vi, Locale::Mn, Locale::En]
                .iter()
                .map(|l| format!(r#"<option value="{}">{}</option>"#, l.code(), esc(l.endonym())))
                .collect();
            body.push_str(&format!(
                r#"<form method="post" action="/interpret/start" class="card"><input type="hidden" name="csrf" value="{csrf}">
<label for="lang">{choose}</label><select id="lang" name="language">{options}</select>
<button type="submit">{start}</button></form>
<p class="muted">{models}: {asr} · {mt}</p>"#,
                csrf = esc(&staff.csrf),
                choose = t(locale, "interpret-client-language"),
                start = t(locale, "interpret-start"),
                models = t(locale, "interpret-models"),
                asr = esc(&asr.name),
                mt = esc(&mt.name),
            ));
        }
    }
    if let Some(progress) = model_progress().filter(|p| p.get("done") != Some(&serde_json::Value::Bool(true)) || !p["error"].is_null()) {
        body.push_str(&format!(
            r#"<p class="muted" role="status">{}: {} ({}%) {}</p>"#,
            t(locale, "interpret-model-setup"),
            esc(progress["stage"].as_str().unwrap_or("")),
            progress["percent"].as_i64().unwrap_or(0),
            esc(progress["error"].as_str().unwrap_or("")),
        ));
    }
    Ok(html(&req, locale, &catalog().t(locale, "interpret-title"), &body))
}

async fn start(state: web::Data<AppState>, req: HttpRequest, body: String, Lang(locale): Lang) -> Result<HttpResponse, ApiError> {
    let (staff, office) = overseer(&state, &req, locale).await?;
    let pairs = form_pairs(&body);
    check_csrf(&staff, field(&pairs, "csrf").unwrap_or_default(), locale)?;
    let language = field(&pairs, "language")
        .and_then(|l| l.parse::<Locale>().ok())
        .filter(|l| *l != Locale::Cs)
        .ok_or(ApiError::page(ErrorCode::InvalidLocale, locale))?;
    let handle =
        service(&state, locale)?.open(&office, &staff.member.username, language).await.map_err(|e| ApiError::page(code_of(&e), locale))?;
    tracing::info!(session = %handle.id, office = %office, "interpreting session opened");
    Ok(see_other(&format!("/interpret/{}", handle.id)))
}

async fn worklet() -> HttpResponse {
    HttpResponse::Ok().content_type("text/javascript; charset=utf-8").body(PCM_WORKLET)
}

/// Turns the microphone's float samples at the context's rate into 16 kHz 16-bit frames of
/// 100 ms (linear interpolation; the browser's own resampler is not reachable from a worklet).
const PCM_WORKLET: &str = r#"class Pcm16k extends AudioWorkletProcessor {
  constructor() { super(); this.ratio = sampleRate / 16000; this.pos = 0; this.out = new Int16Array(1600); this.n = 0; this.prev = 0; }
  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    while (this.pos < input.length) {
      const i = Math.floor(this.pos), f = this.pos - i;
      const a = i === 0 ? this.prev : input[i - 1], b = input[i];
      const s = Math.max(-1, Math.min(1, a + (b - a) * f));
      this.out[this.n++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.n === this.out.length) { this.port.postMessage(this.out.buffer.slice(0)); this.n = 0; }
      this.pos += this.ratio;
    }
    this.pos -= input.length; this.prev = input[input.length - 1];
    return true;
  }
}
registerProcessor('pcm-16k', Pcm16k);
"#;

/// The script both screens share: the socket, the microphone and drawing segments.
fn screen_script(locale: Locale, side: Side, socket: &str, csrf: Option<&str>, session: &str) -> String {
    let words: serde_json::Value = [
        "interpret-machine",
        "interpret-prepared",
        "interpret-uncertain",
        "interpret-withheld",
        "interpret-corrected",
        "interpret-rejected",
        "interpret-accepted",
        "interpret-back-translation",
        "interpret-second-opinion",
        "interpret-reason-direction_not_served",
        "interpret-reason-low_confidence",
        "interpret-reason-back_translation_differs",
        "interpret-reason-second_opinion_differs",
        "interpret-reason-glossary_term_missing",
        "interpret-reason-not_kept",
        "interpret-reason-officer_marked",
        "interpret-reason-language",
        "interpret-phase-awaiting_notice",
        "interpret-phase-active",
        "interpret-phase-human_interpreter",
        "interpret-phase-stopped",
        "interpret-phase-ended",
        "interpret-phase-halted",
        "interpret-working-recognising",
        "interpret-working-translating",
        "interpret-working-checking",
        "interpret-no-speech",
        "interpret-dropped",
        "interpret-failed-worker-busy",
        "interpret-failed-worker-crashed",
        "interpret-failed-worker-timeout",
        "interpret-failed-bad-input",
        "interpret-failed-model-unavailable",
        "interpret-accept",
        "interpret-correct",
        "interpret-reject",
        "interpret-replay",
        "interpret-mark-uncertain",
        "interpret-offline",
    ]
    .iter()
    .map(|k| (k.to_string(), serde_json::Value::String(catalog().t(locale, k))))
    .collect::<serde_json::Map<_, _>>()
    .into();
    let config = serde_json::json!({
        "side": side.as_str(), "socket": socket, "csrf": csrf, "session": session, "words": words,
    });
    // Into a <script>: `<` escaped so no `</script>` can appear in the data.
    let config = config.to_string().replace('<', "\\u003c");
    format!("<script>const PZ = {config};\n{SCREEN_JS}</script>")
}

const SCREEN_JS: &str = r#"
const W = (k) => PZ.words[k] || k;
const KNOWN = ['direction_not_served', 'low_confidence', 'back_translation_differs', 'second_opinion_differs', 'glossary_term_missing', 'officer_marked'];
const why = (code) => W('interpret-reason-' + (KNOWN.includes(code) ? code : code.startsWith('back_translation') ? 'back_translation_differs' : code === 'protected_missing' ? 'not_kept' : 'language'));
const list = document.getElementById('segments');
const phaseBox = document.getElementById('phase');
const workingBox = document.getElementById('working');
let ws, ctx, node, stream, pttHeld = false;
function phase(p, reason) {
  phaseBox.textContent = W('interpret-phase-' + p) + (reason ? ' (' + reason + ')' : '');
  document.body.dataset.phase = p;
  if (p !== 'active' && p !== 'awaiting_notice') stopMic();
}
function render(s) {
  let li = document.getElementById('seg-' + s.id);
  if (!li) { li = document.createElement('li'); li.id = 'seg-' + s.id; list.append(li); }
  li.className = 'segment ' + s.side + (s.uncertain ? ' uncertain' : '') + ' ' + s.review;
  li.dataset.review = s.review;
  li.replaceChildren();
  const head = document.createElement('p'); head.className = 'muted';
  head.textContent = s.side + ' · ' + s.from + ' → ' + s.to;
  const src = document.createElement('p'); src.className = 'transcript'; src.lang = s.from; src.textContent = s.transcript;
  li.append(head, src);
  if (s.translation) {
    const tr = document.createElement('p'); tr.className = 'translation'; tr.lang = s.to;
    tr.textContent = s.translation;
    const label = document.createElement('span'); label.className = 'label';
    label.textContent = s.label === 'prepared' ? W('interpret-prepared') : W('interpret-machine');
    li.append(label, tr);
  } else if (s.withheld) {
    const w = document.createElement('p'); w.className = 'withheld'; w.textContent = W('interpret-withheld') + ': ' + why(s.withheld); li.append(w);
  }
  if (s.uncertain) { const u = document.createElement('p'); u.className = 'flag'; u.textContent = '⚠ ' + W('interpret-uncertain') + (s.reasons.length ? ': ' + s.reasons.map(why).join('; ') : ''); li.append(u); }
  if (s.correction) { const c = document.createElement('p'); c.className = 'correction'; c.textContent = W('interpret-corrected') + ': ' + s.correction; li.append(c); }
  if (s.review === 'rejected') { const r = document.createElement('p'); r.className = 'flag'; r.textContent = W('interpret-rejected'); li.append(r); }
  if (s.review === 'accepted') { const r = document.createElement('p'); r.className = 'muted'; r.textContent = '✓ ' + W('interpret-accepted'); li.append(r); }
  if (s.second_opinion) { const b = document.createElement('p'); b.className = 'muted'; b.textContent = W('interpret-second-opinion') + ': ' + s.second_opinion; li.append(b); }
  if (s.back_translation) { const b = document.createElement('p'); b.className = 'muted'; b.textContent = W('interpret-back-translation') + ' (chrF ' + Math.round(s.back_chrf ?? 0) + '): ' + s.back_translation; li.append(b); }
  if (PZ.side === 'officer') {
    const form = document.createElement('form'); form.className = 'oversee'; form.method = 'post'; form.action = '/interpret/' + PZ.session + '/segments/' + s.id;
    form.innerHTML = '<input type="hidden" name="csrf"><input name="text" aria-label="' + W('interpret-correct') + '">';
    form.elements.csrf.value = PZ.csrf;
    for (const [action, key] of [['accept','interpret-accept'],['correct','interpret-correct'],['reject','interpret-reject'],['replay','interpret-replay'],['uncertain','interpret-mark-uncertain']]) {
      const b = document.createElement('button'); b.type = 'submit'; b.name = 'action'; b.value = action; b.textContent = W(key); form.append(b);
    }
    form.onsubmit = async (e) => {
      e.preventDefault();
      const data = new URLSearchParams(new FormData(form)); data.set('action', e.submitter.value);
      await fetch(form.action, { method: 'POST', body: data, headers: { 'Accept': 'application/json' } });
    };
    li.append(form);
  }
  li.scrollIntoView({ block: 'nearest' });
}
function connect() {
  ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + PZ.socket);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { document.body.classList.remove('offline'); ws.send(JSON.stringify({ type: 'hello', sample_rate: 16000, channels: 1 })); };
  ws.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.type === 'snapshot') { list.replaceChildren(); ev.segments.forEach(render); phase(ev.phase, ev.reason); }
    else if (ev.type === 'segment') { workingBox.textContent = ''; render(ev.segment); }
    else if (ev.type === 'phase') { phase(ev.phase, ev.reason); }
    else if (ev.type === 'working') { workingBox.textContent = ev.side + ': ' + W('interpret-working-' + ev.stage); }
    else if (ev.type === 'notice') { workingBox.textContent = W(ev.code); }
  };
  ws.onclose = (e) => { document.body.classList.add('offline'); if (e.reason) phaseBox.textContent += ' — ' + e.reason; if (e.code === 1006 || e.code === 1001) setTimeout(connect, 1000 + Math.random() * 1000); };
}
async function startMic() {
  if (ctx) return;
  stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
  ctx = new AudioContext();
  await ctx.audioWorklet.addModule('/interpret/pcm-worklet.js');
  node = new AudioWorkletNode(ctx, 'pcm-16k');
  node.port.onmessage = (m) => { if (ws && ws.readyState === 1 && (!document.getElementById('ptt-mode')?.checked || pttHeld)) ws.send(m.data); };
  ctx.createMediaStreamSource(stream).connect(node);
  document.body.classList.add('listening');
}
function stopMic() {
  if (!ctx) return;
  stream.getTracks().forEach((t) => t.stop()); ctx.close(); ctx = null; document.body.classList.remove('listening');
}
function ptt(pressed) { pttHeld = pressed; if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'ptt', pressed })); }
document.getElementById('mic')?.addEventListener('click', () => startMic().catch((e) => { workingBox.textContent = String(e); }));
const talk = document.getElementById('talk');
if (talk) {
  talk.addEventListener('pointerdown', () => ptt(true)); talk.addEventListener('pointerup', () => ptt(false)); talk.addEventListener('pointerleave', () => pttHeld && ptt(false));
  talk.addEventListener('keydown', (e) => { if (e.key === ' ' && !pttHeld) ptt(true); }); talk.addEventListener('keyup', (e) => { if (e.key === ' ') ptt(false); });
}
connect();
"#;

const SCREEN_STYLE: &str = r#"<style>.segment{border-left:.4rem solid #2b6cb0;padding:.4rem .8rem;margin:.6rem 0;background:#f7f9fc;list-style:none}
.segment.client{border-color:#2f855a}.segment.uncertain{border-color:#b7791f;background:#fffbea}.segment.rejected{opacity:.55;text-decoration:line-through}
.translation{font-size:1.35rem;font-weight:600}.label{display:inline-block;font-size:.8rem;background:#2d3748;color:#fff;padding:.1rem .4rem;border-radius:.2rem}
.flag{color:#8a4b00;font-weight:600}.correction{color:#22543d;font-weight:600}#segments{padding:0}#phase{font-weight:700}
.offline #offline{display:block}#offline{display:none;background:#a4161a;color:#fff;padding:.5rem}
.stop{background:#a4161a;color:#fff;font-size:1.3rem}#talk{font-size:1.2rem;padding:1rem 2rem}.oversee input{width:16rem}</style>"#;

async fn officer_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Lang(locale): Lang,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (staff, handle) = officer_session(&state, &req, &id, locale).await?;
    let client_link = format!("/interpret/{id}/client?k={}&lang={}", state.secrets.interpret_tag(&id), handle.client_language.code());
    let finish_button = |how: &str, key: &str, class: &str| {
        format!(
            r#"<form method="post" action="/interpret/{id}/finish" class="inline"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" name="how" value="{how}" class="{class}">{label}</button></form>"#,
            csrf = esc(&staff.csrf),
            label = t(locale, key),
        )
    };
    let body = format!(
        r#"{SCREEN_STYLE}<div id="offline" role="status">{offline}</div>
<p role="status"><span id="phase"></span> · <span id="working" aria-live="polite"></span></p>
<p>{stop} {human} {end} <a href="/interpret/{id}/transcript">{transcript}</a> · <a href="/interpret/{id}/export">{export}</a></p>
<details class="card"><summary>{client_screen}</summary><p><a id="client-link" href="{client_link}" target="_blank" rel="noopener">{client_screen}</a></p><div style="width:12rem">{qr}</div></details>
<p><button id="mic" type="button">{mic}</button> <label><input type="checkbox" id="ptt-mode"> {ptt_mode}</label> <button id="talk" type="button">{talk}</button></p>
<p class="muted">{oversight}</p>
<ol id="segments" aria-live="polite"></ol>{script}"#,
        offline = t(locale, "interpret-offline"),
        stop = finish_button("stop", "interpret-stop", "stop"),
        human = finish_button("human", "interpret-request-human", ""),
        end = finish_button("end", "interpret-end", ""),
        transcript = t(locale, "interpret-transcript"),
        export = t(locale, "interpret-export"),
        client_screen = t(locale, "interpret-client-screen"),
        client_link = esc(&client_link),
        qr = qr_svg(&format!("{}{}", request_origin(&req), client_link)),
        mic = t(locale, "interpret-mic"),
        ptt_mode = t(locale, "interpret-ptt-mode"),
        talk = t(locale, "interpret-talk"),
        oversight = t(locale, "interpret-oversight-help"),
        script = screen_script(locale, Side::Officer, &format!("/interpret/{id}/ws?side=officer"), Some(&staff.csrf), &id),
    );
    Ok(html(&req, locale, &catalog().t(locale, "interpret-title"), &body))
}

fn request_origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// The session as JSON for the officer (tests and tools read it).
async fn officer_state(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Lang(locale): Lang,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (_, handle) = officer_session(&state, &req, &id, locale).await.map_err(|e| e.on(crate::error::Surface::Api))?;
    let snapshot = handle.snapshot(Side::Officer).await.map_err(|e| ApiError::new(code_of(&e), locale))?;
    Ok(HttpResponse::Ok().json(snapshot))
}

#[derive(Deserialize)]
struct ClientQuery {
    k: String,
}

async fn client_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ClientQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let fallback = Lang::of(&req);
    let handle = client_session(&state, &id, &query.k, fallback)?;
    // The client's screen speaks the client's language, whatever the tablet's browser says.
    let locale = handle.client_language;
    let snapshot = handle.snapshot(Side::Client).await.map_err(|e| ApiError::page(code_of(&e), locale))?;
    let notice = if snapshot.phase == Phase::AwaitingNotice {
        format!(
            r#"<section id="notice" class="card" aria-labelledby="notice-title"><h2 id="notice-title">{title}</h2><p>{ai}</p><p>{oversight}</p><p>{human}</p><p>{log}</p>
<form method="post" action="/interpret/{id}/ack"><input type="hidden" name="k" value="{k}"><button type="submit" id="ack">{ack}</button></form></section>"#,
            title = t(locale, "interpret-notice-title"),
            ai = t(locale, "interpret-notice-ai"),
            oversight = t(locale, "interpret-notice-oversight"),
            human = t(locale, "interpret-notice-human"),
            log = t(locale, "interpret-notice-log"),
            k = esc(&query.k),
            ack = t(locale, "interpret-notice-ack"),
        )
    } else {
        format!(r#"<p class="muted" id="ai-label">{}</p>"#, t(locale, "interpret-notice-reminder"))
    };
    let body = format!(
        r#"{SCREEN_STYLE}<div id="offline" role="status">{offline}</div>{notice}
<p role="status"><span id="phase"></span> · <span id="working" aria-live="polite"></span></p>
<p><button id="mic" type="button">{mic}</button> <label><input type="checkbox" id="ptt-mode"> {ptt_mode}</label> <button id="talk" type="button">{talk}</button></p>
<ol id="segments" aria-live="polite"></ol>{script}"#,
        offline = t(locale, "interpret-offline"),
        mic = t(locale, "interpret-mic"),
        ptt_mode = t(locale, "interpret-ptt-mode"),
        talk = t(locale, "interpret-talk"),
        script = screen_script(locale, Side::Client, &format!("/interpret/{id}/ws?side=client&k={}", query.k), None, &id),
    );
    Ok(html(&req, locale, &catalog().t(locale, "interpret-client-title"), &body))
}

async fn acknowledge(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: String,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let pairs = form_pairs(&body);
    let tag = field(&pairs, "k").unwrap_or_default().to_owned();
    let handle = client_session(&state, &id, &tag, Lang::of(&req))?;
    let locale = handle.client_language;
    handle.acknowledge_notice().await.map_err(|e| ApiError::page(code_of(&e), locale))?;
    Ok(see_other(&format!("/interpret/{id}/client?k={tag}")))
}

#[derive(Deserialize)]
struct SocketQuery {
    side: String,
    k: Option<String>,
}

async fn socket(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<SocketQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let locale = Lang::of(&req);
    let side = Side::parse(&query.side).ok_or(ApiError::new(ErrorCode::InvalidInput, locale))?;
    let handle = match side {
        Side::Officer => officer_session(&state, &req, &id, locale).await?.1,
        Side::Client => client_session(&state, &id, query.k.as_deref().unwrap_or_default(), locale)?,
    };
    let (response, session, stream) = actix_ws::handle(&req, payload).map_err(|_| ApiError::new(ErrorCode::InvalidInput, locale))?;
    let stream = stream.max_frame_size(MAX_FRAME_BYTES + 1024);
    actix_web::rt::spawn(run_socket(handle, side, session, stream));
    Ok(response)
}

/// Why the audio channel was closed.
fn bad_audio(why: &'static str) -> Ending {
    Ending::BadAudio(why)
}

/// The `snapshot` message a screen draws itself from (on connecting, and after lagging behind).
async fn snapshot_message(handle: &SessionHandle, side: Side) -> Option<String> {
    let snapshot = handle.snapshot(side).await.ok()?;
    let mut value = serde_json::to_value(&snapshot).ok()?;
    value["type"] = "snapshot".into();
    Some(value.to_string())
}

async fn run_socket(handle: SessionHandle, side: Side, mut out: actix_ws::Session, mut incoming: actix_ws::MessageStream) {
    let mut events = handle.subscribe();
    // The snapshot after subscribing: an event in between is drawn twice, never missed.
    match snapshot_message(&handle, side).await {
        Some(message) => {
            if out.text(message).await.is_err() {
                return;
            }
        }
        None => {
            let _ = out.close(None).await;
            return;
        }
    }
    let mut hello: Option<Instant> = None;
    let mut audio_seconds = 0.0f64;
    let mut ending: Option<Ending> = None;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let event = match (&*event, side) {
                        (ScreenEvent::Segment { segment }, Side::Client) => ScreenEvent::Segment { segment: Box::new(segment.for_client()) },
                        (other, _) => other.clone(),
                    };
                    if out.text(serde_json::to_string(&event).unwrap_or_default()).await.is_err() {
                        return;
                    }
                }
                // Too slow a screen: redraw from a snapshot rather than show a hole.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if let Some(message) = snapshot_message(&handle, side).await {
                        if out.text(message).await.is_err() {
                            return;
                        }
                    }
                }
                Err(_) => break,
            },
            message = incoming.next() => match message {
                None | Some(Ok(Message::Close(_))) => break,
                // The browser went away (page closed or reloaded, e.g. after the notice's
                // form): Chromium closes the connection right after its close frame.
                Some(Err(actix_ws::ProtocolError::Io(_))) => break,
                Some(Err(_)) => { ending = Some(bad_audio("frame")); break; }
                Some(Ok(Message::Ping(bytes))) => { let _ = out.pong(&bytes).await; }
                Some(Ok(Message::Pong(_))) | Some(Ok(Message::Nop)) => {}
                Some(Ok(Message::Continuation(_))) => { ending = Some(bad_audio("frame")); break; }
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<Control>(&text) {
                    Ok(Control::Hello { sample_rate: 16_000, channels: 1 }) => hello = Some(Instant::now()),
                    Ok(Control::Hello { .. }) => { ending = Some(bad_audio("sample_rate")); break; }
                    Ok(Control::Ptt { pressed }) if hello.is_some() => { let _ = handle.push_to_talk(side, pressed).await; }
                    _ => { ending = Some(bad_audio("message")); break; }
                },
                Some(Ok(Message::Binary(bytes))) => {
                    let Some(since) = hello else { ending = Some(bad_audio("no_hello")); break; };
                    if bytes.is_empty() || bytes.len() % 2 != 0 || bytes.len() > MAX_FRAME_BYTES {
                        ending = Some(bad_audio("frame"));
                        break;
                    }
                    audio_seconds += (bytes.len() / 2) as f64 / 16_000.0;
                    if audio_seconds > since.elapsed().as_secs_f64() + FLOOD_SLACK_SECONDS {
                        ending = Some(bad_audio("flood"));
                        break;
                    }
                    let samples: Vec<f32> = bytes.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect();
                    match handle.audio(side, samples).await {
                        Ok(()) | Err(InterpretError::Session(prepazka_actors::interpreter::SessionError::NoticePending)) => {}
                        Err(_) => {}
                    }
                }
            },
        }
    }
    if let Some(how) = ending {
        let reason = match how {
            Ending::BadAudio(why) => why,
            _ => "closed",
        };
        tracing::warn!(session = %handle.id, side = side.as_str(), reason, "audio socket refused its input; session ended");
        let _ = handle.finish(how, None).await;
        let _ = out.close(Some(CloseReason { code: CloseCode::Policy, description: Some(format!("bad_audio_{reason}")) })).await;
    } else {
        let _ = out.close(None).await;
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Control {
    Hello { sample_rate: u32, channels: u32 },
    Ptt { pressed: bool },
}

fn wants_json(req: &HttpRequest) -> bool {
    req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"))
}

async fn oversee(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, u32)>,
    body: String,
    Lang(locale): Lang,
) -> Result<HttpResponse, ApiError> {
    let (id, segment) = path.into_inner();
    let surface = if wants_json(&req) { crate::error::Surface::Api } else { crate::error::Surface::Page };
    let (staff, handle) = officer_session(&state, &req, &id, locale).await.map_err(|e| e.on(surface))?;
    let pairs = form_pairs(&body);
    check_csrf(&staff, field(&pairs, "csrf").unwrap_or_default(), locale).map_err(|e| e.on(surface))?;
    let action = match field(&pairs, "action").unwrap_or_default() {
        "accept" => Oversight::Accept,
        "correct" => Oversight::Correct(field(&pairs, "text").unwrap_or_default().to_owned()),
        "reject" => Oversight::Reject,
        "replay" => Oversight::Replay,
        "uncertain" => Oversight::MarkUncertain,
        _ => return Err(ApiError::new(ErrorCode::InvalidInput, locale).on(surface)),
    };
    handle.oversee(segment, action, &staff.member.username).await.map_err(|e| ApiError::new(code_of(&e), locale).on(surface))?;
    Ok(if wants_json(&req) { HttpResponse::Ok().json(serde_json::json!({"ok": true})) } else { see_other(&format!("/interpret/{id}")) })
}

async fn finish(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: String,
    Lang(locale): Lang,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (staff, handle) = officer_session(&state, &req, &id, locale).await?;
    let pairs = form_pairs(&body);
    check_csrf(&staff, field(&pairs, "csrf").unwrap_or_default(), locale)?;
    let how = match field(&pairs, "how").unwrap_or_default() {
        "stop" => Ending::Stop,
        "human" => Ending::HumanInterpreter,
        "end" => Ending::End,
        _ => return Err(ApiError::page(ErrorCode::InvalidInput, locale)),
    };
    handle.finish(how, Some(&staff.member.username)).await.map_err(|e| ApiError::page(code_of(&e), locale))?;
    Ok(if wants_json(&req) { HttpResponse::Ok().json(serde_json::json!({"ok": true})) } else { see_other(&format!("/interpret/{id}")) })
}

/// The transcript for the case file: both languages, labels, the officer's corrections and
/// verdicts, and the AI-log session id under which every line can be verified.
async fn transcript(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Lang(locale): Lang,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (staff, handle) = officer_session(&state, &req, &id, locale).await?;
    let snapshot = handle.snapshot(Side::Officer).await.map_err(|e| ApiError::page(code_of(&e), locale))?;
    // The transcript leaves the live screens for a file: logged first (AI-L18).
    service(&state, locale)?
        .record_access(&id, &staff.member.username, false, "case_file_transcript")
        .await
        .map_err(|e| ApiError::page(code_of(&e), locale))?;
    let words = |key: &str| catalog().t(locale, key);
    let mut text = format!(
        "{}\n{}: {}\n{}: {} / cs\n\n",
        words("interpret-transcript"),
        words("interpret-session"),
        snapshot.session,
        words("interpret-client-language"),
        snapshot.client_language
    );
    for s in &snapshot.segments {
        let label = match s.label {
            prepazka_actors::interpreter::session::Label::Machine => words("interpret-machine"),
            prepazka_actors::interpreter::session::Label::Prepared => words("interpret-prepared"),
            prepazka_actors::interpreter::session::Label::None => String::new(),
        };
        text.push_str(&format!("[{}] {} ({})\n  {}: {}\n", s.id, s.side.as_str(), s.from, s.from, s.transcript));
        match (&s.translation, &s.withheld) {
            (Some(tr), _) => text.push_str(&format!("  {} [{}]: {}\n", s.to, label, tr)),
            (None, Some(why)) => text.push_str(&format!("  {}: {} ({why})\n", s.to, words("interpret-withheld"))),
            _ => {}
        }
        if s.uncertain {
            text.push_str(&format!("  {}: {}\n", words("interpret-uncertain"), s.reasons.join(", ")));
        }
        if let Some(c) = &s.correction {
            text.push_str(&format!("  {}: {c}\n", words("interpret-corrected")));
        }
        text.push_str(&format!("  {:?}\n", s.review).to_lowercase());
    }
    text.push_str(&format!("\n{}: {:?} {}\n", words("interpret-phase"), snapshot.phase, snapshot.reason.unwrap_or_default()));
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"transcript-{id}.txt\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}

/// One session's AI-log records with inclusion proofs, for the case file or an appeal: the
/// overseer or a supervisor of the session's office, live or long after; the export is itself
/// logged (`log.export`) before it is handed out.
async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Lang(locale): Lang,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let staff = session_of(&state, &req, locale).await?;
    let supervisor = staff.member.role.supervises();
    if !supervisor && staff.member.role != StaffRole::InterpretingOverseer {
        return Err(ApiError::page(ErrorCode::RoleNotAllowed, locale));
    }
    let office = staff.member.office.as_ref().ok_or(ApiError::page(ErrorCode::RoleNotAllowed, locale))?.as_str().to_owned();
    let service = service(&state, locale)?;
    let logged = service.session_office(&id).await.map_err(|e| ApiError::page(code_of(&e), locale))?;
    match logged {
        None => return Err(ApiError::page(ErrorCode::NotFound, locale)),
        Some(logged) if logged != office => return Err(ApiError::page(ErrorCode::WrongOffice, locale)),
        Some(_) => {}
    }
    let bundle = service.export_session(&id, &staff.member.username, supervisor).await.map_err(|e| ApiError::page(code_of(&e), locale))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"ai-log-{id}.json\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bundle))
}

/// A supervisor suspends or resumes AI interpreting for their office (AI-L10).
async fn suspend(state: web::Data<AppState>, req: HttpRequest, body: String, Lang(locale): Lang) -> Result<HttpResponse, ApiError> {
    let staff = session_of(&state, &req, locale).await?;
    if !staff.member.role.supervises() {
        return Err(ApiError::page(ErrorCode::RoleNotAllowed, locale));
    }
    let office = staff.member.office.as_ref().ok_or(ApiError::page(ErrorCode::RoleNotAllowed, locale))?.as_str().to_owned();
    let pairs = form_pairs(&body);
    check_csrf(&staff, field(&pairs, "csrf").unwrap_or_default(), locale)?;
    let suspend = match field(&pairs, "state").unwrap_or_default() {
        "suspended" => true,
        "active" => false,
        _ => return Err(ApiError::page(ErrorCode::InvalidInput, locale)),
    };
    service(&state, locale)?.suspend(&office, &staff.member.username, suspend).await.map_err(|e| ApiError::page(code_of(&e), locale))?;
    Ok(see_other("/supervisor"))
}
