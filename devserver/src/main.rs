//! `devserver`: run the API locally, or mint a token for it.
//!
//! ```text
//! devserver [serve] [--port 3000] [--data-dir .data] [--cors-origin http://localhost:5173] [--backend embedded|aws-local] [--api-rate 100,200] [--auth-rate 30] [--admin-mfa] [--web-dir web/dist]
//! devserver token --user alice --role analyst [--sub local-alice] [--port 3000] [--data-dir .data]
//! devserver rotate-keys [--data-dir .data]
//! devserver rotate-master-key --purpose personal-data|dataset-content|audit-integrity [--data-dir .data]
//! devserver reseal [--data-dir .data] [--backend ...]
//! devserver outbox [--data-dir .data]
//! devserver purge [--now TIME] [--data-dir .data] [--backend ...]
//! devserver audit-digest [--now TIME] [--data-dir .data] [--backend ...]
//! devserver audit-verify [--from TIME] [--to TIME] [--now TIME] [--data-dir .data] [--backend ...]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use devserver::aws_local::AwsLocal;
use devserver::{Backend, DevConfig};
use shared::auth::Role;

const USAGE: &str = "usage:
  devserver [serve] [--port 3000] [--data-dir .data] [--cors-origin ORIGIN]... [--backend embedded|aws-local] [--api-rate 100,200] [--auth-rate 30] [--admin-mfa] [--no-threat-detection] [--web-dir web/dist]
      aws-local: DynamoDB and S3 at FORECAST_DYNAMODB_URL and FORECAST_S3_URL (loopback emulators)
      api-rate: requests per minute per user, and per admin
      auth-rate: calls to /auth/* per minute per IP address (each page load of the app is one)
      --admin-mfa: admins sign in with TOTP (and set it up at their next sign-in)
      --no-threat-detection: the detector neither flags nor blocks (for load and fuzz runs from one address)
      --web-dir: the built web app, served at / (`npm ci && npm run build` in web/ makes it)
  devserver token --user NAME --role admin|analyst|viewer [--sub ID] [--port 3000] [--data-dir .data] [--backend ...]
      gives the user an account in that role (or moves theirs to it) and prints an access token
  devserver rotate-keys [--data-dir .data]
      adds a signing key; a running server signs with it at once and keeps the previous ones verifying
  devserver rotate-master-key --purpose personal-data|dataset-content|audit-integrity [--data-dir .data]
      adds a version of a local master key: new data keys are wrapped with it, older versions still unwrap theirs
  devserver reseal [--data-dir .data] [--backend ...]
      re-seals every record sealed under an older personal-data master key; continues where a stopped run left off
  devserver outbox [--data-dir .data] [--backend ...]
      prints the invitations sent (each with its temporary password), oldest first
  devserver purge [--now TIME] [--data-dir .data] [--backend ...]
      removes what retention says is due at now (or TIME): deleted datasets and forecasts past their grace, with their files, and expired audit records
  devserver audit-digest [--now TIME] [--data-dir .data] [--backend ...]
      writes the signed digest of every audit hour that ended five minutes before now (or TIME) and has none yet
  devserver audit-verify [--from TIME] [--to TIME] [--now TIME] [--data-dir .data] [--backend ...]
      checks the audit hours from FROM to TO (default: the last day) against their digests; prints the
      report as JSON and exits 1 if any record was modified, deleted or inserted, or a digest is missing";

#[derive(Debug)]
struct Args {
    command: String,
    config: DevConfig,
    user: Option<String>,
    role: Option<String>,
    sub: Option<String>,
    purpose: Option<String>,
    from: Option<time::OffsetDateTime>,
    to: Option<time::OffsetDateTime>,
    now: Option<time::OffsetDateTime>,
}

fn parse_time(flag: &str, text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("`{flag} {text}`: give an RFC 3339 time such as 2026-12-02T10:00:00Z"))
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1).peekable();
    let command = match args.peek().map(String::as_str) {
        Some("serve" | "token" | "rotate-keys" | "rotate-master-key" | "reseal" | "outbox" | "audit-digest" | "audit-verify" | "purge") => {
            args.next().unwrap_or_default()
        }
        _ => "serve".to_owned(),
    };
    let mut parsed =
        Args { command, config: DevConfig::default(), user: None, role: None, sub: None, purpose: None, from: None, to: None, now: None };
    let mut cors_given = false;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("`{flag}` needs a value"));
        match flag.as_str() {
            "--port" => parsed.config.port = value()?.parse().map_err(|_| "`--port` must be a number".to_owned())?,
            "--data-dir" => parsed.config.data_dir = PathBuf::from(value()?),
            "--cors-origin" => {
                if !cors_given {
                    parsed.config.cors_origins.clear();
                    cors_given = true;
                }
                parsed.config.cors_origins.push(value()?);
            }
            "--backend" => {
                parsed.config.backend = match value()?.as_str() {
                    "embedded" => Backend::Embedded,
                    "aws-local" => Backend::AwsLocal(AwsLocal::at(
                        std::env::var("FORECAST_DYNAMODB_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".into()),
                        std::env::var("FORECAST_S3_URL").unwrap_or_else(|_| "http://127.0.0.1:5000".into()),
                    )),
                    other => return Err(format!("`{other}` is not a backend: use embedded or aws-local")),
                }
            }
            "--api-rate" => {
                let text = value()?;
                let numbers: Result<Vec<u64>, _> = text.split(',').map(str::parse).collect();
                parsed.config.api_rate = match numbers.as_deref() {
                    Ok([user]) => shared::state::ApiRate { user: *user, admin: *user },
                    Ok([user, admin]) => shared::state::ApiRate { user: *user, admin: *admin },
                    _ => {
                        return Err(format!("`--api-rate {text}`: give requests per minute per user, optionally `,` and those for admins"));
                    }
                };
            }
            "--auth-rate" => {
                parsed.config.auth_rate_per_ip =
                    value()?.parse().map_err(|_| "`--auth-rate` must be a number of calls per minute".to_owned())?;
            }
            "--admin-mfa" => parsed.config.mfa_required_for_admins = true,
            "--no-threat-detection" => parsed.config.detect_threats = false,
            "--web-dir" => parsed.config.web_dir = PathBuf::from(value()?),
            "--user" => parsed.user = Some(value()?),
            "--role" => parsed.role = Some(value()?),
            "--sub" => parsed.sub = Some(value()?),
            "--purpose" => parsed.purpose = Some(value()?),
            "--from" => parsed.from = Some(parse_time(&flag, &value()?)?),
            "--to" => parsed.to = Some(parse_time(&flag, &value()?)?),
            "--now" => parsed.now = Some(parse_time(&flag, &value()?)?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        // `--help`: the usage is the answer, not an error.
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match args.command.as_str() {
        "token" => mint(&args),
        "rotate-keys" => rotate(&args.config),
        "rotate-master-key" => rotate_master_key(&args),
        "reseal" => reseal(&args.config),
        "outbox" => print_outbox(&args.config),
        "audit-digest" => audit_digest(&args),
        "purge" => purge(&args),
        "audit-verify" => audit_verify(&args),
        _ => serve(args.config),
    }
}

fn mint(args: &Args) -> ExitCode {
    let (Some(user), Some(role)) = (&args.user, &args.role) else {
        eprintln!("`token` needs --user and --role\n{USAGE}");
        return ExitCode::from(2);
    };
    let Some(role) = Role::parse(role) else {
        eprintln!("`{role}` is not a role: use admin, analyst or viewer");
        return ExitCode::from(2);
    };
    let subject = args.sub.clone().unwrap_or_else(|| format!("local-{user}"));
    if shared::domain::ids::UserId::parse(&subject).is_err() {
        eprintln!("`{subject}` is not a usable subject id: letters, digits, - and _ only");
        return ExitCode::from(2);
    }
    let minted = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(devserver::mint_token(&args.config, &subject, user, role)).map_err(|e| e.to_string()));
    match minted {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot mint a token: {error}");
            ExitCode::FAILURE
        }
    }
}

fn rotate(config: &DevConfig) -> ExitCode {
    match shared::auth::local::LocalIssuer::rotate(&config.data_dir.join("keys")) {
        Ok(kid) => {
            println!(
                "new signing key `{kid}`; the key set keeps the {} before it, so tokens they signed verify until they expire (rotate at most every 15 minutes to keep that true)",
                shared::auth::local::KEPT_KEYS - 1
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot rotate the signing keys: {error}");
            ExitCode::FAILURE
        }
    }
}

fn rotate_master_key(args: &Args) -> ExitCode {
    use shared::crypto::keys::Purpose;
    let names: Vec<&str> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
    let Some(purpose) = args.purpose.as_deref().and_then(|name| Purpose::ALL.into_iter().find(|p| p.as_str() == name)) else {
        eprintln!("`rotate-master-key` needs --purpose, one of {}\n{USAGE}", names.join(", "));
        return ExitCode::from(2);
    };
    let rotated = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(devserver::rotate_master_key(&args.config, purpose)).map_err(|e| e.to_string()));
    match rotated {
        Ok((master, branch)) => {
            println!(
                "new master key `{master}` and branch key `{branch}` under it: data keys derive from it from now on (in a running server within 5 minutes); the older versions still open what they sealed"
            );
            if purpose == Purpose::AuditIntegrity {
                println!(
                    "audit records are tagged with `{branch}` from now on (in a running server within 5 minutes); older records keep verifying under their version"
                );
            } else if purpose == Purpose::PersonalData {
                println!("run `devserver reseal` to move every record to it; then the older versions can be retired");
            } else {
                println!("files sealed before stay under their version: keep the older versions in `master-keys/{}/`", purpose.as_str());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot rotate the {} master key: {error}", purpose.as_str());
            ExitCode::FAILURE
        }
    }
}

fn reseal(config: &DevConfig) -> ExitCode {
    let resealed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(devserver::reseal(config)).map_err(|e| e.to_string()));
    match resealed {
        Ok((report, resealed)) => {
            println!("{resealed} records re-sealed under `{}`", report.master_key);
            for key in &report.unreadable {
                println!("does not open (altered or moved in the store; restore it from a backup or delete it): {} / {}", key.pk, key.sk);
            }
            if report.complete {
                println!("every record is under the current key: older versions can be retired");
                ExitCode::SUCCESS
            } else if report.unreadable.is_empty() {
                println!(
                    "records were still being sealed under the older key (a running server's cached data key): run `devserver reseal` again in 5 minutes"
                );
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("cannot re-seal: {error}");
            ExitCode::FAILURE
        }
    }
}

fn print_outbox(config: &DevConfig) -> ExitCode {
    let messages = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(devserver::outbox(config)).map_err(|e| e.to_string()));
    match messages {
        Ok(messages) => {
            if messages.is_empty() {
                println!("the outbox is empty: invitations appear here once an admin invites someone");
            }
            for message in messages {
                println!("to: {}\nsent: {}\n\n{}\n", message.to, message.sent_at, message.body);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot read the outbox: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: DevConfig) -> ExitCode {
    shared::telemetry::init(false);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let data_dir = config.data_dir.display().to_string();
        let server = match devserver::spawn(config).await {
            Ok(server) => server,
            Err(error) => {
                eprintln!("cannot start the local server: {error}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(password) = &server.first_admin {
            // Shown this once: the account must choose its own password at first sign-in.
            println!(
                "\nFirst start: an admin account was created.\n  e-mail:             {}\n  temporary password: {password}\nOpen {}/ in a browser and sign in (or, from a shell, `python3 scripts/sign-in.py {} --base {}`); you will choose your own password.\n",
                devserver::FIRST_ADMIN_EMAIL,
                server.base_url(),
                devserver::FIRST_ADMIN_EMAIL,
                server.base_url()
            );
        }
        tracing::info!(url = %server.base_url(), data_dir, "local server ready: the web app at the url; from a shell, sign in with `python3 scripts/sign-in.py EMAIL`, or mint a script token with `cargo run -p devserver -- token --user alice --role analyst`");
        tokio::select! {
            () = server.wait() => ExitCode::FAILURE,
            _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
        }
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())
}

fn audit_digest(args: &Args) -> ExitCode {
    let now = args.now.unwrap_or_else(time::OffsetDateTime::now_utc);
    match runtime().and_then(|rt| rt.block_on(devserver::write_audit_digests(&args.config, now)).map_err(|e| e.to_string())) {
        Ok(run) => {
            println!("{}", serde_json::to_string_pretty(&run).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot write the audit digests: {error}");
            ExitCode::FAILURE
        }
    }
}

fn audit_verify(args: &Args) -> ExitCode {
    let now = args.now.unwrap_or_else(time::OffsetDateTime::now_utc);
    let to = args.to.unwrap_or(now);
    let from = args.from.unwrap_or(to - time::Duration::days(1));
    if from > to {
        eprintln!("`--from` must not be after `--to`");
        return ExitCode::from(2);
    }
    match runtime().and_then(|rt| rt.block_on(devserver::verify_audit(&args.config, from, to, now)).map_err(|e| e.to_string())) {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            if report.clean { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(error) => {
            eprintln!("cannot verify the audit trail: {error}");
            ExitCode::FAILURE
        }
    }
}

fn purge(args: &Args) -> ExitCode {
    let now = args.now.unwrap_or_else(time::OffsetDateTime::now_utc);
    match runtime().and_then(|rt| rt.block_on(devserver::purge(&args.config, now)).map_err(|e| e.to_string())) {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot purge: {error}");
            ExitCode::FAILURE
        }
    }
}
