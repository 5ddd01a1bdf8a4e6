//! `fenn fleet`: keys, rollouts, rollbacks and the fleet's status, run
//! against the broker from a laptop or a CI job (`fenn-fleet`'s operator).

use crate::runtime;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use fenn_fleet::deployment::{Function, Test};
use fenn_fleet::link::LinkSettings;
use fenn_fleet::operator::{self, Rollout, Scope, Summary};
use fenn_fleet::signed::Signer;
use fenn_fleet::view::View;
use fenn_fleet::{Topics, chunks};
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `fenn fleet …`.
#[derive(Debug, Subcommand)]
pub(crate) enum FleetCommand {
    /// Write a new signing key to FILE (owner-only) and print its public
    /// key, for each device's `fleet.trusted_keys`.
    Keygen {
        /// Where to write the private key (PEM); an existing file is kept.
        #[arg(long)]
        out: PathBuf,
    },
    /// Roll a module out to a group's devices in waves (or to one device).
    Deploy {
        /// The function's name.
        name: String,
        /// The .wasm file.
        module: PathBuf,
        /// The function's definition: the keys of a `[[function]]` block in TOML.
        #[arg(long, value_name = "DEF.toml")]
        function: Option<PathBuf>,
        /// A test event (API-gateway JSON) each device runs after applying.
        #[arg(long, value_name = "EVENT.json")]
        test_event: Option<PathBuf>,
        /// The status the test event must answer.
        #[arg(long, default_value_t = 200, requires = "test_event")]
        expect_status: u16,
        #[command(flatten)]
        waves: WaveArgs,
    },
    /// Roll a group (or a device) back to what its deployment replaced.
    Rollback {
        #[command(flatten)]
        waves: WaveArgs,
    },
    /// Every device: its groups, liveness, state, deployment and functions.
    Status {
        /// Only this group's devices.
        #[arg(long)]
        group: Option<String>,
        /// Wait until this many devices are known.
        #[arg(long)]
        expect: Option<usize>,
        #[command(flatten)]
        broker: BrokerArgs,
    },
}

/// Where the fleet's broker is.
#[derive(Debug, Args)]
pub(crate) struct BrokerArgs {
    /// The broker: mqtt://host:port (several, comma-separated: a cluster's nodes).
    #[arg(
        long,
        env = "FENN_FLEET_BROKER",
        value_delimiter = ',',
        default_value = "mqtt://127.0.0.1:1883"
    )]
    broker: Vec<String>,
    /// The fleet's topic prefix.
    #[arg(long, env = "FENN_FLEET_PREFIX", default_value = fenn_fleet::topics::DEFAULT_PREFIX)]
    prefix: String,
    /// Time to wait for the broker's retained messages when no more come.
    #[arg(long, default_value = "2s", value_parser = duration)]
    settle: Duration,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Who a rollout reaches, and how.
#[derive(Debug, Args)]
pub(crate) struct WaveArgs {
    /// The group.
    #[arg(long, required_unless_present = "device", conflicts_with = "device")]
    group: Option<String>,
    /// One device instead of a group.
    #[arg(long)]
    device: Option<String>,
    /// Devices in the first wave.
    #[arg(long, default_value_t = 1)]
    canary: usize,
    /// Then waves reaching these percentages of the group.
    #[arg(long, value_delimiter = ',', default_value = "10,50,100")]
    waves: Vec<u32>,
    /// Failed devices borne before the rollout stops.
    #[arg(long, default_value_t = 0)]
    max_failed: usize,
    /// Time each wave's online devices have to report.
    #[arg(long, default_value = "300s", value_parser = duration)]
    wave_timeout: Duration,
    /// Bytes of each module chunk on the broker.
    #[arg(long, default_value = "256KiB", value_parser = size)]
    chunk: u32,
    /// Wait until this many of the group's devices are known before the first wave.
    #[arg(long)]
    expect: Option<usize>,
    /// Build on the broker's desired state even when devices report a
    /// newer deployment than it (it was replaced or cleared).
    #[arg(long)]
    force: bool,
    /// The signing key (PEM).
    #[arg(long, env = "FENN_FLEET_KEY")]
    key: PathBuf,
    #[command(flatten)]
    broker: BrokerArgs,
}

fn duration(text: &str) -> Result<Duration, String> {
    fenn_runtime::units::duration(text)
}

fn size(text: &str) -> Result<u32, String> {
    let bytes = fenn_runtime::units::size(text)?;
    let (least, most) = (
        fenn_fleet::deployment::MIN_CHUNK,
        fenn_fleet::deployment::MAX_CHUNK,
    );
    u32::try_from(bytes)
        .ok()
        .filter(|bytes| (least..=most).contains(bytes))
        .ok_or_else(|| format!("from {least} to {most} bytes"))
}

/// Runs a `fenn fleet` command; with `--json`, a failure is printed as
/// JSON too.
pub(crate) fn run(command: FleetCommand) -> anyhow::Result<()> {
    let as_json = match &command {
        FleetCommand::Keygen { .. } => false,
        FleetCommand::Deploy { waves, .. } | FleetCommand::Rollback { waves } => waves.broker.json,
        FleetCommand::Status { broker, .. } => broker.json,
    };
    let result = call(command);
    if let (true, Err(error)) = (as_json, &result) {
        if error.downcast_ref::<Stopped>().is_none() {
            fenn_client::manage::print_failure(error);
        }
    }
    result
}

fn call(command: FleetCommand) -> anyhow::Result<()> {
    match command {
        FleetCommand::Keygen { out } => keygen(&out),
        FleetCommand::Deploy {
            name,
            module,
            function,
            test_event,
            expect_status,
            waves,
        } => {
            fenn_client::manage::named(&name)?;
            let wasm = fenn_runtime::files::read(&module, 256 << 20, "the most a module may be")
                .map_err(anyhow::Error::msg)?;
            let test = match test_event {
                Some(file) => Some(Test {
                    event: read_event(&file)?,
                    status: expect_status,
                }),
                None => None,
            };
            let change = Function {
                name,
                sha256: chunks::sha256(&wasm),
                size: wasm.len() as u64,
                definition: fenn_client::manage::read_definition(function.as_deref())?,
                test,
            };
            roll_out(&waves, vec![(change, wasm)], false)
        }
        FleetCommand::Rollback { waves } => roll_out(&waves, Vec::new(), true),
        FleetCommand::Status {
            group,
            expect,
            broker,
        } => status(&broker, group.as_deref(), expect),
    }
}

fn keygen(out: &Path) -> anyhow::Result<()> {
    let pem = Signer::generate()?;
    let signer = Signer::from_pem(&pem)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).with_context(|| {
        format!(
            "{}: cannot create it (an existing key is kept)",
            out.display()
        )
    })?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    say(&format!(
        "wrote {}\npublic key (for each device's fleet.trusted_keys): {}",
        out.display(),
        signer.public_key()
    ))
}

fn read_event(file: &Path) -> anyhow::Result<Value> {
    let bytes = fenn_runtime::files::read(file, 1 << 20, "the most a test event may be")
        .map_err(anyhow::Error::msg)?;
    let text =
        String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", file.display()))?;
    fenn_admin::event::parse_event(&file.display().to_string(), &text)?;
    Ok(serde_json::from_str(&text)?)
}

fn link(broker: &BrokerArgs) -> anyhow::Result<LinkSettings> {
    Ok(LinkSettings {
        brokers: fenn_fleet::link::brokers(&broker.broker).map_err(anyhow::Error::msg)?,
        client_id: format!("fenn-fleet-operator-{}", std::process::id()),
        credentials: fenn_fleet::link::credentials(),
        keep_alive: Duration::from_secs(30),
        will: None,
        max_packet: fenn_fleet::link::MAX_PACKET,
    })
}

fn roll_out(
    args: &WaveArgs,
    changes: Vec<(Function, Vec<u8>)>,
    rollback: bool,
) -> anyhow::Result<()> {
    let text = fenn_runtime::files::read(&args.key, 16 << 10, "the most a key may be")
        .map_err(anyhow::Error::msg)?;
    let signer = Signer::from_pem(&String::from_utf8_lossy(&text))
        .with_context(|| args.key.display().to_string())?;
    let target = match (&args.group, &args.device) {
        (_, Some(device)) => Scope::Device(device.clone()),
        (Some(group), None) => Scope::Group(group.clone()),
        (None, None) => anyhow::bail!("--group or --device"),
    };
    let name = match &target {
        Scope::Group(name) | Scope::Device(name) => name,
    };
    anyhow::ensure!(
        fenn_fleet::topics::is_name(name),
        "'{name}' is not a group's or device's name"
    );
    let topics = Topics::new(&args.broker.prefix);
    let desired = match &target {
        Scope::Group(group) => vec![topics.group(group)],
        Scope::Device(device) => vec![topics.device(device), topics.group("+")],
    };
    let group = args.group.as_deref();
    let rollout = Rollout {
        target,
        changes,
        rollback,
        canary: args.canary,
        waves: args.waves.clone(),
        max_failed: args.max_failed,
        wave_timeout: args.wave_timeout,
        chunk: args.chunk,
        force: args.force,
    };
    let summary = runtime(1)?.block_on(async {
        let link = link(&args.broker)?;
        let mut view = View::open(
            link,
            topics,
            &desired,
            group,
            args.expect,
            args.broker.settle,
        )
        .await?;
        let summary = operator::roll_out(&mut view, &signer, rollout).await;
        view.close().await;
        anyhow::Ok(summary?)
    })?;
    report(&summary, args.broker.json)?;
    if summary.stopped {
        return Err(Stopped(format!(
            "the rollout stopped: {} devices failed (more than --max-failed {})",
            summary.failed().len(),
            args.max_failed
        ))
        .into());
    }
    Ok(())
}

/// A rollout that stopped: its summary, printed already, says so.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Stopped(String);

fn report(summary: &Summary, as_json: bool) -> anyhow::Result<()> {
    let millis = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
    let waves: Vec<Value> = (summary.waves.iter())
        .map(|w| json!({"done": w.done.len(), "failed": w.failed, "pending": w.pending}))
        .collect();
    let answer = json!({
        "deployment": summary.id,
        "waves": waves,
        "converged": summary.converged.len(),
        "p50_ms": millis(summary.quantile(0.5)),
        "p99_ms": millis(summary.quantile(0.99)),
        "stopped": summary.stopped,
    });
    if as_json {
        return say(&answer.to_string());
    }
    let mut text = format!("deployment {}\n", summary.id);
    for (n, wave) in summary.waves.iter().enumerate() {
        text += &format!(
            "wave {}: {} active, {} failed, {} offline (they converge when they return)\n",
            n + 1,
            wave.done.len(),
            wave.failed.len(),
            wave.pending.len()
        );
        for (device, reason) in &wave.failed {
            text += &format!("  {device}: {reason}\n");
        }
    }
    text += &format!(
        "{} devices converged; p50 {} ms, p99 {} ms{}",
        summary.converged.len(),
        millis(summary.quantile(0.5)).unwrap_or(0),
        millis(summary.quantile(0.99)).unwrap_or(0),
        if summary.stopped {
            "; stopped, the group's previous desired state restored"
        } else {
            ""
        }
    );
    say(&text)
}

fn status(broker: &BrokerArgs, group: Option<&str>, expect: Option<usize>) -> anyhow::Result<()> {
    let view = runtime(1)?.block_on(async {
        let view = View::open(
            link(broker)?,
            Topics::new(&broker.prefix),
            &[],
            group,
            expect,
            broker.settle,
        )
        .await?;
        anyhow::Ok(view)
    })?;
    let members = view.members(group);
    let rows: Vec<Value> = (members.iter())
        .map(|device| {
            let seen = &view.devices[device];
            json!({"device": device, "online": seen.alive, "report": seen.report})
        })
        .collect();
    if broker.json {
        return say(&json!({"devices": rows}).to_string());
    }
    let mut text = format!(
        "{:<20} {:<8} {:<12} {:<14} {:<24} {}\n",
        "DEVICE", "ALIVE", "STATE", "DEPLOYMENT", "LAST SEEN", "FUNCTIONS"
    );
    for device in &members {
        let seen = &view.devices[device];
        let alive = match seen.alive {
            Some(true) => "online",
            Some(false) => "offline",
            None => "?",
        };
        let Some(report) = &seen.report else {
            text += &format!("{device:<20} {alive:<8} (no report)\n");
            continue;
        };
        let state = report.state.name();
        let functions: Vec<String> = (report.functions.iter())
            .map(|(name, f)| {
                format!(
                    "{name}@{} ({})",
                    f.version,
                    f.sha256.get(..12).unwrap_or_default()
                )
            })
            .collect();
        let deployment = report
            .deployment
            .map_or_else(|| "none".to_owned(), |id| id.to_string());
        text += &format!(
            "{device:<20} {alive:<8} {state:<12} {deployment:<14} {:<24} {}\n",
            report.at,
            functions.join(", ")
        );
        if let Some(reason) = &report.reason {
            text += &format!(
                "{:<20} {}: {reason}\n",
                "",
                report.target.unwrap_or_default()
            );
        }
        if let Some(refused) = &report.refused {
            text += &format!("{:<20} refused at {}: {}\n", "", refused.at, refused.reason);
        }
    }
    text += &format!("{} devices", members.len());
    say(&text)
}

/// Prints `text`, its control characters but newlines escaped: device
/// names and reasons come from the broker, where anyone may publish.
#[allow(clippy::print_stdout)]
fn say(text: &str) -> anyhow::Result<()> {
    let text: String = (text.chars())
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    Ok(())
}
