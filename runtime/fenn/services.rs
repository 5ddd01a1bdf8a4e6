//! The services functions' host calls reach, bound as `fenn serve` starts:
//! the key-value store under the state directory (the `kv` feature) and
//! the emitter of events to other functions, which keeps them in the
//! store's journal until they have run, and the flows, whose runs are
//! kept in the same store. MQTT publishing is bound by the MQTT trigger
//! as it starts.

use fenn_config::Config;
use fenn_runtime::Dispatcher;
use std::sync::Arc;

/// Bytes of emitted events that may wait or run at once.
const EMIT_QUEUE_BYTES: usize = 4 << 20;

/// Binds the store and the emitter to `dispatcher`'s services.
///
/// # Errors
///
/// A function granted a store when there is none: no `state_dir`, or a
/// build without the `kv` feature; the store failing to open.
pub(crate) fn bind(config: &Config, dispatcher: &Arc<Dispatcher>) -> anyhow::Result<()> {
    let wants_store = config
        .functions
        .iter()
        .find(|function| function.limits.grants.kv.is_some());
    let journal = match (&config.state_dir, wants_store) {
        (None, Some(function)) => anyhow::bail!(
            "{}: {}: a key-value store needs server.state_dir, where it is kept",
            config.file.display(),
            function.key_of("kv")
        ),
        (Some(dir), _) => open_store(dir, dispatcher, wants_store.is_some())?,
        (None, None) => None,
    };
    let (emits, runs) = match journal {
        Some((emits, runs)) => (Some(emits), Some(runs)),
        None => (None, None),
    };
    let emitter = fenn_runtime::emit::Emitter::start(dispatcher, EMIT_QUEUE_BYTES, emits);
    dispatcher.services().bind_emit(emitter);
    dispatcher.flows().start(dispatcher, runs);
    Ok(())
}

/// The journals of emitted events and of flows' runs, when there is a
/// store to keep them in.
type Journal = Option<(
    Arc<dyn fenn_runtime::services::EmitJournal>,
    Arc<dyn fenn_runtime::services::FlowJournal>,
)>;

/// Opens the store under `dir` for functions, and as the journal of
/// emitted events.
#[cfg(feature = "kv")]
fn open_store(
    dir: &std::path::Path,
    dispatcher: &Dispatcher,
    _wanted: bool,
) -> anyhow::Result<Journal> {
    let store = Arc::new(fenn_kv::Store::open(dir)?);
    dispatcher.services().bind_kv(store.clone());
    Ok(Some((store.clone(), store)))
}

/// Without the store, a function that asks for one is refused, and
/// emitted events are not journaled.
#[cfg(not(feature = "kv"))]
fn open_store(
    _dir: &std::path::Path,
    _dispatcher: &Dispatcher,
    wanted: bool,
) -> anyhow::Result<Journal> {
    if wanted {
        anyhow::bail!(
            "a function asks for a key-value store: this fenn was built without it (the cargo feature `kv`)"
        );
    }
    Ok(None)
}
