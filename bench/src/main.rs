//! `prepazka-bench`: load tools that drive a running prepazka over loopback, as clients would,
//! each in its own process.
//!
//! - `booking-surge`: many clients book at once across all offices (see `booking.rs`).
//! - `sse-floor`: a bare actix-web Server-Sent Events endpoint fed by a tokio broadcast channel,
//!   the floor the display stream is measured against (see `sse_floor.rs`).
//! - `sse-fanout`: opens thousands of event streams from one thread and measures the time from
//!   a trigger's HTTP response (a real call-next, or the floor's trigger) to the event's arrival
//!   on every stream, and the server's memory per open stream (see `sse_fanout.rs`).
//! - `interpret`: interpreting quality and speed through the real server and model workers:
//!   the spoken test set streamed at real time on the officer's and the client's audio
//!   sockets; WER, chrF, per-stage latency, real-time factor and worker memory (see
//!   `interpret.rs`).

mod booking;
mod http;
mod interpret;
mod sse_fanout;
mod sse_floor;

const USAGE: &str = "usage: prepazka-bench COMMAND [OPTIONS]
  booking-surge --url URL [--clients N] [--bookings N] [--first-person N] [--days N]
  sse-floor     --listen ADDR
  sse-fanout    --url URL --streams N [--target floor|prepazka] [--events K] [--interval-ms MS]
                [--pid PID] [--data-dir DIR] [--office ID] [--service SLUG] [--counter N]
                [--phones N] [--calls N] [--connect-concurrency N] [--timeout-ms MS]
                [--last-event-id ID] [--verbose]
  interpret     --url URL --data-dir DIR [--pid PID] [--testset DIR] [--languages uk,ru,vi,en,mn]
                [--long] [--items N] [--silence-ms MS] [--timeout-s S] [--user NAME] [--out FILE]";

fn main() {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("booking-surge") => booking::run(args),
        Some("sse-floor") => sse_floor::run(args),
        Some("sse-fanout") => sse_fanout::run(args),
        Some("interpret") => interpret::run(args),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            return;
        }
        Some(other) => Err(format!("unknown command {other}\n{USAGE}")),
    };
    if let Err(e) = result {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}
