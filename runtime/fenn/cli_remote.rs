//! The commands that speak to a running fenn's management API (the
//! `admin` feature): deploy, ls, rollback, rm, logs, kv, flow (in
//! `cli_flows`) and `invoke --remote`, through `fenn-client`.

use crate::runtime;
use clap::Subcommand;
use fenn_client::{kv, logs, manage, remote, remote_tls};
use std::path::PathBuf;

/// The management API's commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Manage {
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
    /// every function's; with --run, a flow's run as one trace.
    Logs {
        /// The function's name (none: every function).
        name: Option<String>,
        /// Only the steps of this flow's run, in the order they ended.
        #[arg(long, conflicts_with_all = ["name", "follow"])]
        run: Option<String>,
        /// How many recent invocations (at most 1000).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Keep printing new invocations until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Read and delete a function's key-value store.
    Kv {
        #[command(subcommand)]
        command: KvCommand,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Deploy, list, roll back and delete a running fenn's flows.
    Flow {
        #[command(subcommand)]
        command: crate::cli_flows::FlowCommand,
    },
}

/// `fenn kv`: a function's store.
#[derive(Debug, Subcommand)]
pub(crate) enum KvCommand {
    /// List its keys (at most 1000), in byte order.
    Ls {
        /// The function's name.
        name: String,
        /// Only keys that start with this.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Print the value under a key.
    Get {
        /// The function's name.
        name: String,
        /// The key.
        key: String,
    },
    /// Delete a key.
    Rm {
        /// The function's name.
        name: String,
        /// The key.
        key: String,
    },
}

/// `fenn invoke --remote`: a deployed function of a running fenn.
#[derive(Debug, clap::Args)]
pub(crate) struct InvokeRemote {
    /// Invoke a running fenn's function through its management API:
    /// at URL, else FENN_REMOTE, else http://127.0.0.1:8081.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub(crate) remote: Option<String>,
    /// With --remote: print the API's JSON answer.
    #[arg(long, requires = "remote")]
    json: bool,
    #[command(flatten)]
    trust: TrustArgs,
}

/// Where the management API is, and how to answer.
#[derive(Debug, clap::Args)]
pub(crate) struct RemoteArgs {
    /// The management API of a running fenn (the token comes from
    /// FENN_ADMIN_TOKEN).
    #[arg(long, value_name = "URL", env = "FENN_REMOTE", default_value = remote::DEFAULT_REMOTE)]
    remote: String,
    /// Print the API's JSON answer.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    trust: TrustArgs,
}

impl RemoteArgs {
    /// The management API these arguments name.
    pub(crate) fn connect(&self) -> anyhow::Result<remote::Remote> {
        self.trust.connect(&self.remote)
    }
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

/// Prints a failure as JSON too when the answer was asked for as JSON.
fn answered(as_json: bool, result: anyhow::Result<()>) -> anyhow::Result<()> {
    if let (true, Err(error)) = (as_json, &result) {
        manage::print_failure(error);
    }
    result
}

/// `fenn invoke NAME --remote [URL]`.
pub(crate) fn invoke(
    function: &str,
    event: Option<&str>,
    args: &InvokeRemote,
) -> anyhow::Result<()> {
    let called = || {
        let event = crate::commands::read_event(event)?;
        let url = match args.remote.as_deref() {
            None | Some("") => {
                std::env::var("FENN_REMOTE").unwrap_or_else(|_| remote::DEFAULT_REMOTE.into())
            }
            Some(url) => url.to_owned(),
        };
        let client = args.trust.connect(&url)?;
        runtime(1)?.block_on(manage::invoke(&client, function, &event, args.json))
    };
    answered(args.json, called())
}

/// Runs one of the management API's commands.
pub(crate) fn run(command: Manage) -> anyhow::Result<()> {
    let as_json = match &command {
        Manage::Deploy { remote, .. }
        | Manage::Ls { remote }
        | Manage::Rollback { remote, .. }
        | Manage::Rm { remote, .. }
        | Manage::Logs { remote, .. }
        | Manage::Kv { remote, .. } => remote.json,
        Manage::Flow { command } => command.remote().json,
    };
    answered(as_json, call(command))
}

fn call(command: Manage) -> anyhow::Result<()> {
    let runtime = runtime(1)?;
    match command {
        Manage::Flow { command } => crate::cli_flows::call(&command),
        Manage::Deploy {
            name,
            module,
            function,
            remote: args,
        } => {
            let remote = args.trust.connect(&args.remote)?;
            let deploy = manage::deploy(&remote, &name, &module, function.as_deref(), args.json);
            runtime.block_on(deploy)
        }
        Manage::Ls { remote: args } => {
            let remote = args.trust.connect(&args.remote)?;
            runtime.block_on(manage::list(&remote, args.json))
        }
        Manage::Rollback {
            name,
            version,
            remote: args,
        } => {
            let remote = args.trust.connect(&args.remote)?;
            runtime.block_on(manage::rollback(&remote, &name, version, args.json))
        }
        Manage::Rm { name, remote: args } => {
            let remote = args.trust.connect(&args.remote)?;
            runtime.block_on(manage::remove(&remote, &name, args.json))
        }
        Manage::Logs {
            name,
            run,
            limit,
            follow,
            remote: args,
        } => {
            let remote = args.trust.connect(&args.remote)?;
            let logs = match run {
                Some(run) => logs::Of::Run(run),
                None => logs::Of::Function(name),
            };
            let logs = logs::logs(&remote, logs, limit, follow, args.json);
            runtime.block_on(logs)
        }
        Manage::Kv {
            command,
            remote: args,
        } => {
            let remote = args.trust.connect(&args.remote)?;
            runtime.block_on(async {
                match &command {
                    KvCommand::Ls { name, prefix } => {
                        kv::list(&remote, name, prefix, args.json).await
                    }
                    KvCommand::Get { name, key } => kv::get(&remote, name, key, args.json).await,
                    KvCommand::Rm { name, key } => kv::remove(&remote, name, key, args.json).await,
                }
            })
        }
    }
}
