//! `fenn`: an event-driven WebAssembly function runtime for edge and IoT
//! devices. `fenn serve` runs what a config names; `fenn check` and
//! `fenn invoke` work on one module.
//!
//! The command line: the commands are parsed here and run by the
//! library ([`fenn::serve()`], [`fenn::commands`]) and the management
//! API's client (`fenn-client`).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use fenn::{commands, examples, registry, serve};
use fenn_client::{logs, manage, remote, remote_tls};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// An event-driven WebAssembly function runtime for edge and IoT devices.
#[derive(Debug, Parser)]
#[command(name = "fenn", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the functions a config names (the bundled examples without one).
    Serve {
        /// The config file.
        #[arg(long, short, env = "FENN_CONFIG")]
        config: Option<PathBuf>,
        /// Listen here instead of the config's `server.listen` (port 0: any free port).
        #[arg(long, env = "FENN_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Compile a module and check it fits the fenn ABI ("online compile").
    Check {
        /// A .wasm file, or example:NAME for a bundled example.
        module: String,
    },
    /// Run one event through a module and print the response JSON; with
    /// --remote, through a deployed function of a running fenn.
    Invoke {
        /// A .wasm file, or example:NAME for a bundled example; with
        /// --remote, the name of a function.
        module: String,
        /// The event as JSON in the API-gateway format: a file, or - for
        /// stdin. Without it, stdin when an event is piped in, else GET /.
        #[arg(long)]
        event: Option<String>,
        /// Invoke a running fenn's function through its management API:
        /// at URL, else FENN_REMOTE, else http://127.0.0.1:8081.
        #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
        remote: Option<String>,
        /// With --remote: print the API's JSON answer.
        #[arg(long, requires = "remote")]
        json: bool,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Deploy a module as a function of a running fenn (compiled and
    /// checked there before it is saved).
    Deploy {
        /// The function's name.
        name: String,
        /// The .wasm file.
        module: PathBuf,
        /// The function's definition: the keys of a `[[function]]` block
        /// (timeout, memory, `[[http]]`, `[[mqtt]]`, `[[cron]]`, …) in TOML.
        #[arg(long, value_name = "DEF.toml")]
        function: Option<PathBuf>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// List a running fenn's functions.
    Ls {
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Serve a deployed function's previous version, or VERSION.
    Rollback {
        /// The function's name.
        name: String,
        /// A kept version (default: the one before the current).
        version: Option<u64>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Delete a deployed function: its routes, subscriptions and
    /// schedules go at once.
    Rm {
        /// The function's name.
        name: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Show a function's recent invocations with their log lines, oldest
    /// first; with --follow, then each new one as it ends. Without a name,
    /// every function's.
    Logs {
        /// The function's name (none: every function).
        name: Option<String>,
        /// How many recent invocations (at most 1000).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Keep printing new invocations until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// Where the management API is, and how to answer.
#[derive(Debug, clap::Args)]
struct RemoteArgs {
    /// The management API of a running fenn (the token comes from
    /// FENN_ADMIN_TOKEN).
    #[arg(long, value_name = "URL", env = "FENN_REMOTE", default_value = remote::DEFAULT_REMOTE)]
    remote: String,
    /// Print the API's JSON answer.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: TrustArgs,
}

/// How to trust an `https://` management API's certificate.
#[derive(Debug, clap::Args)]
struct TrustArgs {
    /// PEM file of the CA that signed its certificate.
    #[arg(long, value_name = "FILE", env = "FENN_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// The SHA-256 fingerprint of its own certificate (fenn prints it at
    /// start), for a device's self-signed certificate.
    #[arg(
        long,
        value_name = "SHA256",
        env = "FENN_FINGERPRINT",
        conflicts_with = "ca_file"
    )]
    fingerprint: Option<String>,
}

impl TrustArgs {
    fn connect(&self, url: &str) -> anyhow::Result<remote::Remote> {
        let trust = match (&self.ca_file, &self.fingerprint) {
            (Some(file), _) => Some(remote_tls::Trust::CaFile(file)),
            (None, Some(pinned)) => Some(remote_tls::Trust::Fingerprint(pinned)),
            (None, None) => None,
        };
        remote::Remote::new(url, trust)
    }
}

/// Makes freed guest memory go back to the system at once: blocks of 4 MiB
/// and more (a large guest's linear memory, a large body) are mapped on
/// their own, grown in place and unmapped when freed. Without this, glibc
/// raises its threshold as such blocks are freed and keeps later ones in
/// its per-thread arenas, and fenn's memory outgrows what its budgets count
/// (a 64 MB device was out of memory with a 32 MiB guest budget). A lower
/// threshold would map and fault in every small guest's memory on every
/// event: 128 KiB cost three quarters of the gateway's throughput.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_allocator() {
    // SAFETY: mallopt only sets one of the allocator's parameters; it is
    // called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// The static musl build's allocator (see Cargo.toml).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    fenn_observe::logging::init();
    fenn_observe::logging::on_panic();
    let code = match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            fenn_observe::logging::last_words(&format!("fenn: {error:#}"));
            ExitCode::FAILURE
        }
    };
    fenn_observe::logging::flush();
    code
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config, listen } => {
            let config = match &config {
                Some(file) => fenn_config::Config::load(file, registry::registry())?,
                None => fenn_config::Config::parse(
                    std::path::Path::new("(bundled examples)"),
                    examples::CONFIG,
                    registry::registry(),
                )?,
            };
            let runtime = runtime(config.workers)?;
            let served = runtime.block_on(async {
                let signals = serve::ShutdownSignals::install()
                    .context("cannot listen for shutdown signals")?;
                let mut listeners = serve::Listeners::default();
                if let Some(address) = listen {
                    // `--listen` is the gateway's address.
                    let gateway = fenn_runtime::trigger::TriggerKind::kind(&fenn_http::HttpKind);
                    listeners
                        .triggers
                        .insert(gateway, serve::Listen::At(address));
                }
                serve::serve(config, listeners, signals.received()).await
            });
            // A request still waiting on a guest past the shutdown grace
            // does not hold the process: guests run on detached workers.
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            served
        }
        Command::Check { module } => commands::check(&module),
        Command::Invoke {
            module,
            event,
            remote: None,
            ..
        } => runtime(1)?.block_on(commands::invoke(&module, event.as_deref())),
        remote => run_remote(remote),
    }
}

/// The commands that speak to a running fenn's management API.
fn run_remote(command: Command) -> anyhow::Result<()> {
    let as_json = match &command {
        Command::Invoke { json, .. } => *json,
        Command::Deploy { remote, .. }
        | Command::Ls { remote }
        | Command::Rollback { remote, .. }
        | Command::Rm { remote, .. }
        | Command::Logs { remote, .. } => remote.json,
        Command::Serve { .. } | Command::Check { .. } => false,
    };
    let result = call_remote(command);
    if let (true, Err(error)) = (as_json, &result) {
        manage::print_failure(error);
    }
    result
}

fn call_remote(command: Command) -> anyhow::Result<()> {
    let runtime = runtime(1)?;
    match command {
        Command::Invoke {
            module,
            event,
            remote: Some(url),
            json,
            trust,
        } => {
            let event = commands::read_event(event.as_deref())?;
            let url = match url.as_str() {
                "" => {
                    std::env::var("FENN_REMOTE").unwrap_or_else(|_| remote::DEFAULT_REMOTE.into())
                }
                url => url.to_owned(),
            };
            let remote = trust.connect(&url)?;
            runtime.block_on(manage::invoke(&remote, &module, &event, json))
        }
        Command::Deploy {
            name,
            module,
            function,
            remote: args,
        } => {
            let remote = args.trust.connect(&args.remote)?;
            let deploy = manage::deploy(&remote, &name, &module, function.as_deref(), args.json);
            runtime.block_on(deploy)
        }
        Command::Ls { remote: args } => {
            let remote = args.trust.connect(&args.remote)?;
            runtime.block_on(manage::list(&remote, args.json))
        }
        Command::Rollback {
            name,
            version,
            remote: args,
        } => {
            let remote = args.trust.connect(&args.remote)?;
            runtime.block_on(manage::rollback(&remote, &name, version, args.json))
        }
        Command::Rm { name, remote: args } => {
            let remote = args.trust.connect(&args.remote)?;
            runtime.block_on(manage::remove(&remote, &name, args.json))
        }
        Command::Logs {
            name,
            limit,
            follow,
            remote: args,
        } => {
            let remote = args.trust.connect(&args.remote)?;
            runtime.block_on(logs::logs(
                &remote,
                name.as_deref(),
                limit,
                follow,
                args.json,
            ))
        }
        Command::Serve { .. } | Command::Check { .. } | Command::Invoke { .. } => {
            anyhow::bail!("not a command of the management API")
        }
    }
}

fn runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(workers + 2)
        .thread_name("fenn")
        .build()
}
