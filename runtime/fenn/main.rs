//! `fenn`: an event-driven WebAssembly function runtime for edge and IoT
//! devices. `fenn serve` runs what a config names; `fenn check` and
//! `fenn invoke` work on one module.
//!
//! The command line: the commands are parsed here and run by the
//! library ([`fenn::serve()`], [`fenn::commands`]) and the management
//! API's client (`fenn-client`).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use fenn::{commands, examples, new, registry, serve};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(feature = "admin")]
mod cli_fleet;
#[cfg(feature = "admin")]
mod cli_flows;
#[cfg(feature = "admin")]
mod cli_remote;

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
    /// Run one event through a module and print the response JSON.
    Invoke {
        /// A .wasm file, or example:NAME for a bundled example; with
        /// --remote, the name of a function.
        module: String,
        /// The event as JSON in the API-gateway format: a file, or - for
        /// stdin. Without it, stdin when an event is piped in, else GET /.
        #[arg(long)]
        event: Option<String>,
        #[cfg(feature = "admin")]
        #[command(flatten)]
        remote: cli_remote::InvokeRemote,
    },
    /// Write a new function's project into ./NAME: the hello function in
    /// LANG, ready to build and deploy (its README says how).
    New {
        /// The function's name, and the project's folder.
        name: String,
        /// The project's language.
        #[arg(long, value_enum, default_value_t = new::Lang::Rust)]
        lang: new::Lang,
    },
    /// A fleet of devices through their MQTT broker: signing keys,
    /// rollouts in waves, rollbacks and status.
    #[cfg(feature = "admin")]
    Fleet {
        #[command(subcommand)]
        command: cli_fleet::FleetCommand,
    },
    /// The commands of a running fenn's management API.
    #[cfg(feature = "admin")]
    #[command(flatten)]
    Manage(cli_remote::Manage),
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
        #[cfg(feature = "admin")]
        Command::Invoke {
            module,
            event,
            remote,
        } if remote.remote.is_some() => cli_remote::invoke(&module, event.as_deref(), &remote),
        Command::Invoke { module, event, .. } => {
            runtime(1)?.block_on(commands::invoke(&module, event.as_deref()))
        }
        Command::New { name, lang } => new::run(&name, lang),
        #[cfg(feature = "admin")]
        Command::Fleet { command } => cli_fleet::run(command),
        #[cfg(feature = "admin")]
        Command::Manage(command) => cli_remote::run(command),
    }
}

/// The multi-threaded runtime of a command.
fn runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(workers + 2)
        .thread_name("fenn")
        .build()
}
