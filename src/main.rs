//! The `prepazka` binary: configuration, telemetry, start-up and shutdown, demo data, and the
//! command line (`serve`, `demo`, `migrate`, `backup`).
//!
//! Panic policy: any panic is logged and aborts the process (the service manager restarts it).
//! Nothing is lost because nothing is acknowledged before its commit, and every actor rebuilds
//! its state from the store when it starts.

mod config;
mod demo;
mod interpreting;

/// mimalloc instead of the system allocator: a request allocates and frees many small objects
/// across threads, and glibc's allocator was ~8 % of the server's CPU in the booking surge
/// (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use prepazka_actors::office::OfficeDeps;
use prepazka_actors::registry::FakeRegistry;
use prepazka_actors::Directory;
use prepazka_models::calendar::BookingWindow;
use prepazka_models::clock::{Clock, SystemClock};
use prepazka_store::writer::{Writer, WriterConfig};
use prepazka_store::Write;
use prepazka_web::secrets::Secrets;
use prepazka_web::{AppState, WebSettings};
use rand::RngCore as _;

use crate::config::Config;

const USAGE: &str = "\
usage: prepazka <command> [options]
commands:
  demo      seed the demo offices and start the server (SQLite under ./data by default)
  serve     start the server
  migrate   apply database migrations and exit
  backup    --to FILE: write a consistent copy of the live SQLite database
  ai-log verify                           check the whole AI log; names the first bad record
  ai-log export --session ID --to FILE [--by NAME] [--purpose TEXT]
            one session's records with inclusion proofs, logged as log.export under NAME's
            pseudonym (default $USER); the server must be stopped (it holds the appender
            lock): while it runs, export through /interpret/{id}/export
  enrol     --office ID --kind kiosk|display --label TEXT [--base-url URL]:
            enrol a kiosk or display; prints its token and enrolment link (shown only once)
options:
  --config FILE        TOML configuration (environment PREPAZKA_* overrides it)
  --listen ADDR        e.g. 127.0.0.1:8080 (port 0 picks a free port)
  --database-url URL   sqlite://FILE or postgres://…
  --data-dir DIR       where the demo keeps its database and secret (default ./data)
  --horizon-days N     how far ahead slots are released
  --tls-cert FILE --tls-key FILE   serve HTTPS with this PEM certificate chain and key";

struct Args {
    command: String,
    config: Option<PathBuf>,
    listen: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    horizon_days: Option<u32>,
    to: Option<PathBuf>,
    /// Words after the command (`ai-log verify`).
    words: Vec<String>,
    session: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    device: DeviceArgs,
}

fn parse_args() -> Result<Args, String> {
    let mut raw = std::env::args().skip(1);
    let command = raw.next().ok_or("missing command")?;
    let mut args = Args {
        command,
        config: None,
        listen: None,
        database_url: None,
        data_dir: None,
        horizon_days: None,
        to: None,
        words: Vec::new(),
        session: None,
        tls_cert: None,
        tls_key: None,
        device: DeviceArgs::default(),
    };
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--config" => args.config = Some(value()?.into()),
            "--listen" => args.listen = Some(value()?),
            "--database-url" => args.database_url = Some(value()?),
            "--data-dir" => args.data_dir = Some(value()?.into()),
            "--horizon-days" => args.horizon_days = Some(value()?.parse().map_err(|_| "--horizon-days needs a number")?),
            "--to" => args.to = Some(value()?.into()),
            "--tls-cert" => args.tls_cert = Some(value()?.into()),
            "--tls-key" => args.tls_key = Some(value()?.into()),
            "--office" => args.device.office = Some(value()?),
            "--kind" => args.device.kind = Some(value()?),
            "--label" => args.device.label = Some(value()?),
            "--base-url" => args.device.base_url = Some(value()?),
            "--session" => args.session = Some(value()?),
            // Passed on to `ai-log export` as they came.
            flag @ ("--by" | "--purpose") => {
                let value = value()?;
                args.words.extend([flag.to_owned(), value]);
            }
            word if !word.starts_with('-') => args.words.push(word.to_owned()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("prepazka: fatal: {info}");
        std::process::abort();
    }));
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("prepazka: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut config = match Config::load(args.config.as_ref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("prepazka: {err}");
            return ExitCode::from(2);
        }
    };
    let demo = args.command == "demo";
    // `ai-log` looks at the demo's data directory when given one.
    if demo || (args.command == "ai-log" && args.data_dir.is_some()) {
        let dir = args.data_dir.clone().unwrap_or_else(|| PathBuf::from("data"));
        config.database_url = format!("sqlite://{}", dir.join("prepazka.db").display());
        config.secret_file = dir.join("secret.key");
        if std::env::var("PREPAZKA_LOG_FORMAT").is_err() {
            config.log_format = "pretty".into();
        }
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(url) = args.database_url {
        config.database_url = url;
    }
    if args.tls_cert.is_some() {
        config.tls_cert = args.tls_cert;
    }
    if args.tls_key.is_some() {
        config.tls_key = args.tls_key;
    }
    if let Some(days) = args.horizon_days {
        config.horizon_days = days;
    }
    init_tracing(&config.log_format);
    let outcome = actix_web::rt::System::new().block_on(async move {
        match args.command.as_str() {
            "serve" | "demo" => serve(config, demo).await,
            "migrate" => prepazka_store::connect(&config.database_url).await.map(|_| ()).map_err(|e| e.to_string()),
            "backup" => backup(&config, args.to).await,
            "ai-log" => {
                let mut words = args.words.clone();
                if let Some(session) = &args.session {
                    words.extend(["--session".to_owned(), session.clone()]);
                }
                interpreting::command(&config, &words, args.to).await
            }
            "enrol" => enrol(&config, args.device).await,
            other => Err(format!("unknown command {other}\n{USAGE}")),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "prepazka stopped");
            eprintln!("prepazka: {err}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

/// Reads the server secret, creating a random one on first start.
fn load_secret(path: &PathBuf) -> Result<Secrets, String> {
    if !path.exists() {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        std::fs::write(path, hex::encode(key)).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    Secrets::new(text.trim().as_bytes()).ok_or_else(|| format!("{} holds fewer than 32 bytes", path.display()))
}

fn ensure_sqlite_dir(url: &str) -> Result<(), String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if let Some(parent) = std::path::Path::new(path.split('?').next().unwrap_or(path)).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
            }
        }
    }
    Ok(())
}

async fn serve(config: Config, demo: bool) -> Result<(), String> {
    ensure_sqlite_dir(&config.database_url)?;
    let store = prepazka_store::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    store.check_durability().await.map_err(|e| format!("refusing to start: {e}"))?;
    if demo {
        let seed: Vec<Write> = demo::offices().into_iter().map(Write::UpsertOffice).collect();
        let results = store.apply_batch(seed).await.map_err(|e| e.to_string())?;
        if let Some(Err(code)) = results.into_iter().find(Result::is_err) {
            return Err(format!("seeding offices: {code}"));
        }
    }
    let secrets = load_secret(&config.secret_file)?;
    let tls = config.tls()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (writer, writer_task) = Writer::spawn(store.clone(), WriterConfig { max_batch: config.max_batch, ..WriterConfig::default() });
    let clock: Arc<dyn Clock> = match &config.clock_start {
        None => Arc::new(SystemClock),
        Some(start) => {
            let start = prepazka_models::calendar::parse_instant(start).ok_or("clock_start must be an RFC 3339 instant")?;
            tracing::warn!(%start, "the clock is shifted (training or test environment)");
            Arc::new(prepazka_models::clock::OffsetClock::starting_at(start))
        }
    };
    let deps = Arc::new(OfficeDeps {
        store: store.clone(),
        writer: writer.clone(),
        clock: clock.clone(),
        window: BookingWindow { horizon_days: config.horizon_days, ..BookingWindow::default() },
        walk_in_cutoff: chrono::Duration::minutes(config.walk_in_cutoff_minutes),
    });
    let offices_arbiter = actix::Arbiter::new();
    let directory = Directory::start(deps, &offices_arbiter.handle()).await.map_err(|e| e.to_string())?;
    let registry = Arc::new(FakeRegistry::new(demo::people(), config.population, Duration::from_millis(config.registry_latency_ms)));
    let settings = WebSettings {
        hold_minutes: config.hold_minutes,
        verify_per_minute: config.verify_per_minute,
        secure_cookies: config.secure_cookies || tls.is_some(),
    };
    let mut app_state = AppState::new(directory, store.clone(), writer.clone(), registry, clock.clone(), secrets, settings);
    let sessions_arbiter = actix::Arbiter::new();
    app_state.interpreting = interpreting::start(&config, demo, &store, &writer, clock.clone(), sessions_arbiter.handle()).await;
    let state = web::Data::new(app_state);
    let listener = TcpListener::bind(&config.listen).map_err(|e| format!("binding {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let server = prepazka_web::server(state.clone(), listener, config.workers, tls).map_err(|e| e.to_string())?;
    let purge = {
        let writer = writer.clone();
        let clock = clock.clone();
        actix_web::rt::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                let before = clock.now() - chrono::Duration::hours(24);
                if let Err(code) = writer.submit(Write::PurgeIdempotency { before }).await {
                    tracing::warn!(%code, "purging idempotency keys failed");
                }
            }
        })
    };
    let devices = if demo {
        let devices = enrol_demo_devices(&store, &state, &format!("{scheme}://{address}"), &config.secret_file).await?;
        let staff = create_demo_staff(&store, &config.secret_file).await?;
        format!("{devices}\n{staff}")
    } else {
        String::new()
    };
    // The first line on stdout is the address: tests and scripts read it. A reader that went
    // away must not take the server down, so write errors are ignored.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "prepazka listening on {scheme}://{address}/");
        if demo {
            let _ = writeln!(out, "{}\n{devices}", demo::CREDENTIALS);
        }
        let _ = out.flush();
    }
    tracing::info!(%address, offices = state.directory.len(), "listening");
    server.await.map_err(|e| e.to_string())?;
    // SIGTERM: the server stopped taking requests and finished those in flight; now let the
    // writer commit what is queued and stop.
    purge.abort();
    offices_arbiter.stop();
    sessions_arbiter.stop();
    drop(state);
    drop(writer);
    if tokio::time::timeout(Duration::from_secs(30), writer_task).await.is_err() {
        tracing::warn!("writer did not drain within 30 s");
    }
    store.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Enrols a kiosk and a display for every office (new tokens at every demo start), writes their
/// enrolment links to `devices.txt` beside the secret, and returns the lines to print.
async fn enrol_demo_devices(
    store: &prepazka_store::SharedStore,
    state: &AppState,
    base: &str,
    secret_file: &std::path::Path,
) -> Result<String, String> {
    use prepazka_models::office::DeviceKind;
    use prepazka_web::office_day::{new_token, token_hash};
    let now = chrono::Utc::now();
    let mut writes = Vec::new();
    let mut lines = Vec::new();
    for handle in state.directory.list() {
        let office = handle.office();
        for kind in [DeviceKind::Kiosk, DeviceKind::Display] {
            let token = new_token();
            writes.push(Write::EnrolDevice {
                token_hash: token_hash(&token),
                office: office.id.clone(),
                kind,
                label: format!("demo {}", kind.as_str()),
                actor: "demo".into(),
                now,
            });
            lines.push(format!("{} {} {base}/enrol/{token}", office.id, kind.as_str()));
        }
    }
    let results = store.apply_batch(writes).await.map_err(|e| e.to_string())?;
    if let Some(Err(code)) = results.into_iter().find(Result::is_err) {
        return Err(format!("enrolling demo devices: {code}"));
    }
    let file = secret_file.with_file_name("devices.txt");
    std::fs::write(&file, lines.join("\n") + "\n").map_err(|e| format!("writing {}: {e}", file.display()))?;
    let sample: Vec<&String> = lines.iter().filter(|l| l.starts_with("praha-zizkov ")).collect();
    Ok(format!(
        "Demo devices (enrolment links; every office's are in {}):\n  {}",
        file.display(),
        sample.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n  ")
    ))
}

/// Demo officers and supervisors for two offices and one administrator, with fresh random passwords at every demo start, written to
/// `staff.txt` beside the secret; never hard-coded in the binary.
async fn create_demo_staff(store: &prepazka_store::SharedStore, secret_file: &std::path::Path) -> Result<String, String> {
    use prepazka_models::ids::OfficeId;
    use prepazka_models::office::{StaffMember, StaffRole};
    let now = chrono::Utc::now();
    let mut writes = Vec::new();
    let mut lines = Vec::new();
    for office in ["praha-zizkov", "brno"] {
        for role in [StaffRole::Officer, StaffRole::Supervisor, StaffRole::InterpretingOverseer] {
            let username = format!("{}-{office}", role.as_str());
            let password = prepazka_web::office_day::new_token()[..16].to_owned();
            let password_hash = prepazka_web::staff::hash_password(&password).map_err(|e| e.to_string())?;
            let member = StaffMember { username: username.clone(), office: OfficeId::parse(office).ok(), role };
            writes.push(Write::UpsertStaff { member, password_hash, now });
            lines.push(format!("{username} {password}"));
        }
    }
    // One administrator for all offices: enrols and revokes kiosks and displays.
    let password = prepazka_web::office_day::new_token()[..16].to_owned();
    let password_hash = prepazka_web::staff::hash_password(&password).map_err(|e| e.to_string())?;
    let member = StaffMember { username: "administrator".into(), office: None, role: StaffRole::Administrator };
    writes.push(Write::UpsertStaff { member, password_hash, now });
    lines.push(format!("administrator {password}"));
    let results = store.apply_batch(writes).await.map_err(|e| e.to_string())?;
    if let Some(Err(code)) = results.into_iter().find(Result::is_err) {
        return Err(format!("creating demo staff: {code}"));
    }
    let file = secret_file.with_file_name("staff.txt");
    std::fs::write(&file, lines.join("\n") + "\n").map_err(|e| format!("writing {}: {e}", file.display()))?;
    Ok(format!("Demo staff (sign in at /staff/login; also in {}):\n  {}", file.display(), lines.join("\n  ")))
}

/// What `enrol` is told about the device.
#[derive(Default)]
struct DeviceArgs {
    office: Option<String>,
    kind: Option<String>,
    label: Option<String>,
    base_url: Option<String>,
}

/// Enrols one kiosk or display for operators without the administrator's page: stores the
/// SHA-256 of a fresh token (audited under `cli`) and prints the token and its enrolment link,
/// the only time they are shown.
async fn enrol(config: &Config, device: DeviceArgs) -> Result<(), String> {
    use prepazka_models::ids::OfficeId;
    use prepazka_models::office::DeviceKind;
    use prepazka_web::office_day::{new_token, token_hash};
    let office = OfficeId::parse(&device.office.ok_or("enrol needs --office ID")?).map_err(|_| "--office: not an office id")?;
    let kind = DeviceKind::parse(&device.kind.ok_or("enrol needs --kind kiosk|display")?).ok_or("--kind must be kiosk or display")?;
    let label = prepazka_web::admin::parse_label(&device.label.ok_or("enrol needs --label TEXT")?)
        .map_err(|_| format!("--label must have 1 to {} characters", prepazka_web::admin::LABEL_MAX))?;
    let store = prepazka_store::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    if !store.offices().await.map_err(|e| e.to_string())?.iter().any(|o| o.id == office) {
        store.close().await;
        return Err(format!("no office {office} in the database"));
    }
    let token = new_token();
    let write = Write::EnrolDevice {
        token_hash: token_hash(&token),
        office: office.clone(),
        kind,
        label,
        actor: "cli".into(),
        now: chrono::Utc::now(),
    };
    let results = store.apply_batch(vec![write]).await.map_err(|e| e.to_string());
    store.close().await;
    if let Some(Err(code)) = results?.into_iter().next() {
        return Err(format!("enrolling the device: {code}"));
    }
    let base = device.base_url.unwrap_or_default();
    println!("enrolled a {} for {office}; the token is shown only now:", kind.as_str());
    println!("{token}");
    println!("enrolment link: {}/enrol/{token}", base.trim_end_matches('/'));
    Ok(())
}

async fn backup(config: &Config, to: Option<PathBuf>) -> Result<(), String> {
    let to = to.ok_or("backup needs --to FILE")?;
    let store = prepazka_store::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    store.backup_to(&to).await.map_err(|e| e.to_string())?;
    println!("backup written to {}", to.display());
    Ok(())
}
