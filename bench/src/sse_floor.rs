//! `sse-floor`: the bare floor for the display stream. An actix-web server (same version, two
//! workers, same backlog as prepazka's) with
//!
//! - `GET /events`: `text/event-stream`, a `retry` line first, then every broadcast frame, and a
//!   comment heartbeat every 15 s (as prepazka's display stream);
//! - `POST /trigger?id=ID`: broadcasts one frame `data: {"id":"ID"}` on a
//!   `tokio::sync::broadcast` channel and answers after the send.
//!
//! No authorisation, no store, no replay, no sequence ids: what the fan-out costs on its own.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse, HttpServer};
use futures_util::stream::{self, StreamExt as _};
use serde::Deserialize;
use tokio::sync::broadcast;

const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Clone)]
struct Floor {
    frames: broadcast::Sender<Bytes>,
}

pub fn run(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut listen = "127.0.0.1:0".to_owned();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = value,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let listener = TcpListener::bind(&listen).map_err(|e| format!("binding {listen}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (frames, _) = broadcast::channel(1024);
    let floor = Floor { frames };
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(floor.clone()))
                .route("/events", web::get().to(events))
                .route("/trigger", web::post().to(trigger))
        })
        .workers(2)
        .backlog(4096)
        .max_connection_rate(4096)
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();
        println!("sse-floor listening on http://{address}/");
        server.await.map_err(|e| e.to_string())
    })
}

async fn events(floor: web::Data<Floor>) -> HttpResponse {
    let live = floor.frames.subscribe();
    let head = stream::once(async { Bytes::from_static(b"retry: 3000\n\n") });
    let tail = stream::unfold((live, tokio::time::interval(HEARTBEAT)), |(mut live, mut heartbeat)| async move {
        loop {
            tokio::select! {
                received = live.recv() => match received {
                    Ok(frame) => return Some((frame, (live, heartbeat))),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = heartbeat.tick() => return Some((Bytes::from_static(b": heartbeat\n\n"), (live, heartbeat))),
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(head.chain(tail).map(Ok::<_, actix_web::Error>))
}

#[derive(Deserialize)]
struct Trigger {
    id: String,
}

async fn trigger(floor: web::Data<Floor>, query: web::Query<Trigger>) -> HttpResponse {
    let id: String = query.id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let frame = Bytes::from(format!("event: tick\ndata: {{\"id\":\"{id}\"}}\n\n"));
    let receivers = floor.frames.send(frame).unwrap_or(0);
    HttpResponse::Ok().body(receivers.to_string())
}
