//! `livecheck-verifier serve | keys create | list | revoke | rotate | analyze | evaluate`. Other tools drive this command
//! line: keep its output lines stable.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use livecheck_core::analysis::{analyze_frames, load_media, AnalyzeOptions};
use livecheck_core::manifest::ModelFiles;
use livecheck_core::Engine;
use livecheck_verifier::config::Config;
use livecheck_verifier::server;

#[derive(Parser)]
#[command(
    name = "livecheck-verifier",
    version,
    about = "Self-hosted face liveness verifier"
)]
struct Cli {
    /// A TOML file overriding the embedded defaults (see config.default.toml).
    #[arg(long, global = true, env = "LIVECHECK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Starts the API and the hosted capture page.
    Serve {
        /// HOST:PORT to listen on; port 0 picks a free port.
        #[arg(long, env = "LIVECHECK_BIND")]
        bind: Option<String>,
        #[arg(long, env = "LIVECHECK_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Demo mode: prints a demo API key (kept in the data dir across starts), serves
        /// the demo pages, and lets webhooks reach receivers on this machine.
        #[arg(long)]
        demo: bool,
    },
    /// Manages API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Runs the decision over a labelled folder (DIR/labels.toml): one line per item,
    /// BPCER and APCER per attack species, and an HTML report of the per-frame signals.
    Evaluate {
        dir: PathBuf,
        /// Where the HTML report goes.
        #[arg(long, default_value = "evaluation.html")]
        out: PathBuf,
        /// The anti-spoof pass mark, 0–100.
        #[arg(long, default_value_t = 70.0)]
        threshold: f32,
        /// Clips: judge every STEP-th frame (3: 10 frames a second of a 30 fps clip).
        #[arg(long, default_value_t = 3)]
        step: usize,
    },
    /// Prints one JSON object per file, as the engine sees it (images, MJPEG videos,
    /// folders of frames).
    Analyze {
        /// Frame rate of MJPEG files and frame folders.
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Creates an API key and prints it alone on stdout (it is stored hashed).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, env = "LIVECHECK_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Makes a new lc_token signing key current and prints its kid; the previous key
    /// verifies (and stays in the JWKS) until the next rotation. Running verifiers on
    /// the same store sign with it within a sweep interval.
    Rotate {
        #[arg(long, env = "LIVECHECK_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Prints every API key, one per line: `id<TAB>name<TAB>created<TAB>active` or
    /// `revoked <time>` (the keys themselves are stored hashed and cannot be shown).
    List {
        #[arg(long, env = "LIVECHECK_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Revokes the API key with this id at once: every verifier on the store refuses it
    /// from its next request (401); the checks it created stay.
    Revoke {
        id: String,
        #[arg(long, env = "LIVECHECK_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn load_config(cli_config: Option<&std::path::Path>) -> Result<Config, String> {
    Config::load(cli_config, std::env::vars()).map_err(|e| e.to_string())
}

/// Runs a one-off command's store work to its end.
fn run<T>(
    work: impl std::future::Future<Output = Result<T, server::StartError>>,
) -> Result<T, server::StartError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

fn main() -> ExitCode {
    // The x86_64 build enables AVX (`.cargo/config.toml`): on a CPU without it, say so
    // rather than die later of an illegal instruction.
    #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
    if !std::arch::is_x86_feature_detected!("avx") {
        eprintln!(
            "livecheck-verifier: this build needs a CPU with AVX (x86_64 since 2011); \
             for an older one, build without the `+avx` of .cargo/config.toml"
        );
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    // Logs go to stderr; stdout carries only the lines other tools read.
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIVECHECK_LOG")
        .unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if std::env::var("LIVECHECK_LOG_FORMAT").as_deref() == Ok("json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let mut config = match load_config(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("livecheck-verifier: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Serve {
            bind,
            data_dir,
            demo,
        } => {
            if let Some(b) = bind {
                config.server.bind = b;
            }
            if let Some(d) = data_dir {
                config.server.data_dir = d;
            }
            if demo {
                // A developer's machine: webhooks to a receiver on localhost work.
                config.webhooks.allow_private_targets = true;
            }
            let runtime = actix_web::rt::System::new();
            let result = runtime.block_on(server::serve(config, demo, |addr, demo_key| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "listening on http://{addr}");
                if let Some(key) = demo_key {
                    let _ = writeln!(out, "demo api key: {key}");
                }
                let _ = out.flush();
            }));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("livecheck-verifier: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Keys {
            command: KeysCommand::Create { name, data_dir },
        } => {
            if let Some(d) = data_dir {
                config.server.data_dir = d;
            }
            let created = server::open_store(&config).and_then(|store| {
                run(async { server::create_api_key(store.as_ref(), &name).await })
            });
            match created {
                Ok((key, _)) => {
                    println!("{key}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("livecheck-verifier: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Keys {
            command: KeysCommand::Rotate { data_dir },
        } => {
            if let Some(d) = data_dir {
                config.server.data_dir = d;
            }
            let rotated = server::open_store(&config).and_then(|store| {
                run(async {
                    livecheck_verifier::lc_token::TokenIssuer::rotate(store.as_ref())
                        .await
                        .map_err(server::StartError::from)
                })
            });
            match rotated {
                Ok(kid) => {
                    println!("{kid}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("livecheck-verifier: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Keys {
            command: KeysCommand::List { data_dir },
        } => {
            if let Some(d) = data_dir {
                config.server.data_dir = d;
            }
            let listed =
                server::open_store(&config).and_then(|s| run(async { Ok(s.api_keys().await?) }));
            match listed {
                Ok(keys) => {
                    let mut out = std::io::stdout().lock();
                    for k in keys {
                        let state = k.revoked_at.map_or("active".to_string(), |t| {
                            format!("revoked {}", t.to_rfc3339())
                        });
                        let _ = writeln!(
                            out,
                            "{}\t{}\t{}\t{state}",
                            k.id,
                            k.name,
                            k.created_at.to_rfc3339()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("livecheck-verifier: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Keys {
            command: KeysCommand::Revoke { id, data_dir },
        } => {
            if let Some(d) = data_dir {
                config.server.data_dir = d;
            }
            let revoked = server::open_store(&config)
                .and_then(|s| run(async { Ok(s.revoke_api_key(&id, chrono::Utc::now()).await?) }));
            match revoked {
                Ok(()) => ExitCode::SUCCESS,
                Err(server::StartError::Store(livecheck_verifier::store::StoreError::NotFound)) => {
                    eprintln!("livecheck-verifier: no API key has the id {id}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("livecheck-verifier: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Analyze { fps, files } => analyze(&config, fps, &files),
        Command::Evaluate {
            dir,
            out,
            threshold,
            step,
        } => evaluate(&config, &dir, &out, threshold, step),
    }
}

fn analyze(config: &Config, fps: f64, files: &[PathBuf]) -> ExitCode {
    let dir = config.server.models_dir();
    let engine =
        match ModelFiles::load_dir(&dir).and_then(|m| Engine::from_model_bytes(&m.model_bytes())) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("livecheck-verifier: {e} (run models/fetch.sh)");
                return ExitCode::FAILURE;
            }
        };
    let mut status = ExitCode::SUCCESS;
    for file in files {
        let name = file.display().to_string();
        let report = load_media(file, fps.max(0.1)).and_then(|(frames, is_video)| {
            let opts = AnalyzeOptions {
                is_video,
                ..AnalyzeOptions::default()
            };
            analyze_frames(&engine, &frames, &opts).map_err(|e| e.to_string())
        });
        match report {
            Ok(mut r) => {
                r.file = name;
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            }
            Err(e) => {
                println!("{}", serde_json::json!({"file": name, "error": e}));
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}

fn evaluate(
    config: &Config,
    dir: &std::path::Path,
    out: &std::path::Path,
    threshold: f32,
    step: usize,
) -> ExitCode {
    use livecheck_verifier::evaluate::{html, judge_item, load_labels, summary};
    let items = match load_labels(dir) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("livecheck-verifier: {e}");
            return ExitCode::from(2);
        }
    };
    let models = config.server.models_dir();
    let engine = match ModelFiles::load_dir(&models)
        .and_then(|m| Engine::from_model_bytes(&m.model_bytes()))
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("livecheck-verifier: {e} (run models/fetch.sh)");
            return ExitCode::FAILURE;
        }
    };
    let mut judged = Vec::new();
    for item in &items {
        match judge_item(&engine, dir, item, threshold, step) {
            Ok(j) => judged.push(j),
            Err(e) => {
                eprintln!("livecheck-verifier: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    print!("{}", summary(&judged));
    if let Err(e) = std::fs::write(out, html(&judged)) {
        eprintln!("livecheck-verifier: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!("report: {}", out.display());
    ExitCode::SUCCESS
}
