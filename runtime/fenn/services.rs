//! The services functions' host calls reach, bound as `fenn serve` starts:
//! the key-value store under the state directory (the `kv` feature) and
//! the emitter of events to other functions. MQTT publishing is bound by
//! the MQTT trigger as it starts.

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
    let emitter = fenn_runtime::emit::Emitter::start(dispatcher, EMIT_QUEUE_BYTES);
    dispatcher.services().bind_emit(emitter);
    let wants_store = config
        .functions
        .iter()
        .find(|function| function.limits.grants.kv.is_some());
    match (&config.state_dir, wants_store) {
        (None, Some(function)) => anyhow::bail!(
            "{}: {}: a key-value store needs server.state_dir, where it is kept",
            config.file.display(),
            function.key_of("kv")
        ),
        (Some(dir), _) => open_store(dir, dispatcher, wants_store.is_some()),
        (None, None) => Ok(()),
    }
}

#[cfg(feature = "kv")]
fn open_store(dir: &std::path::Path, dispatcher: &Dispatcher, _wanted: bool) -> anyhow::Result<()> {
    let store = fenn_kv::Store::open(dir)?;
    dispatcher.services().bind_kv(Arc::new(store));
    Ok(())
}

#[cfg(not(feature = "kv"))]
fn open_store(
    _dir: &std::path::Path,
    _dispatcher: &Dispatcher,
    wanted: bool,
) -> anyhow::Result<()> {
    if wanted {
        anyhow::bail!(
            "a function asks for a key-value store: this fenn was built without it (the cargo feature `kv`)"
        );
    }
    Ok(())
}
