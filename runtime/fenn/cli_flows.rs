//! `fenn flow deploy|ls|rollback|rm`: a running fenn's flows, with the
//! connection options of `fenn deploy`.

use crate::cli_remote::RemoteArgs;
use crate::runtime;
use clap::Subcommand;
use fenn_client::flows;
use std::path::PathBuf;

/// `fenn flow`'s commands.
#[derive(Debug, Subcommand)]
pub(crate) enum FlowCommand {
    /// Deploy a flow to a running fenn (checked there against the
    /// functions it serves before it is saved).
    Deploy {
        /// The flow's name.
        name: String,
        /// Its definition: the keys of a `[[flow]]` block but `name`
        /// (`step`, `start`, `response`, its bounds, `http`, `mqtt`,
        /// `cron`), in a JSON file (`.json`) or a TOML file.
        definition: PathBuf,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// List a running fenn's flows.
    Ls {
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Serve a deployed flow's previous version, or --version N.
    Rollback {
        /// The flow's name.
        name: String,
        /// A kept version (default: the one before the current).
        #[arg(long)]
        version: Option<u64>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Delete a deployed flow: its routes, subscriptions and schedules go
    /// at once; its runs under way finish.
    Rm {
        /// The flow's name.
        name: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

impl FlowCommand {
    /// Where the management API is, and how to answer.
    pub(crate) fn remote(&self) -> &RemoteArgs {
        match self {
            Self::Deploy { remote, .. }
            | Self::Ls { remote }
            | Self::Rollback { remote, .. }
            | Self::Rm { remote, .. } => remote,
        }
    }
}

/// Runs one of `fenn flow`'s commands.
pub(crate) fn call(command: &FlowCommand) -> anyhow::Result<()> {
    let args = command.remote();
    let remote = args.connect()?;
    let json = args.json;
    runtime(1)?.block_on(async {
        match command {
            FlowCommand::Deploy {
                name, definition, ..
            } => flows::deploy(&remote, name, definition, json).await,
            FlowCommand::Ls { .. } => flows::list(&remote, json).await,
            FlowCommand::Rollback { name, version, .. } => {
                flows::rollback(&remote, name, *version, json).await
            }
            FlowCommand::Rm { name, .. } => flows::remove(&remote, name, json).await,
        }
    })
}
