//! A function's bindings, read by the trigger of each kind from the
//! function's table, and the check that a whole set does not collide.

use super::{Setups, Validator};
use fenn_runtime::trigger::kind::raw_bindings;
use fenn_runtime::trigger::{Binding, FunctionInfo, Table};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most bindings of one kind (`http`, `mqtt`, `cron`) one function has.
const MAX_BINDINGS: usize = 64;

/// A function's bindings, by trigger kind, each kind's in the order
/// declared.
#[derive(Debug, Clone, Default)]
pub struct BindingSet(BTreeMap<&'static str, Vec<Arc<dyn Binding>>>);

impl BindingSet {
    /// The bindings of `kind`.
    pub fn of(&self, kind: &str) -> &[Arc<dyn Binding>] {
        self.0.get(kind).map_or(&[], Vec::as_slice)
    }
}

/// Every function's bindings of each kind, in order, with each one's key
/// (`function[1].http[0]`), for the collision check.
#[derive(Default)]
pub(crate) struct Declared {
    bindings: BTreeMap<&'static str, Vec<Keyed>>,
}

/// A binding and its key.
type Keyed = (Arc<dyn Binding>, String);

impl Declared {
    pub(crate) fn add(&mut self, set: &BindingSet, keys: &BTreeMap<&'static str, Vec<String>>) {
        for (kind, bindings) in &set.0 {
            let keys = keys.get(kind).map_or(&[][..], Vec::as_slice);
            let declared = self.bindings.entry(kind).or_default();
            for (binding, key) in bindings.iter().zip(keys) {
                declared.push((binding.clone(), key.clone()));
            }
        }
    }
}

impl Validator<'_> {
    /// `function`'s bindings of every kind from its `table`, and each
    /// one's key; errors recorded. A function whose own keys are in error
    /// (`limits_valid` false) has its bindings checked, but not against
    /// its limits: a default standing in makes no error of its own. None when a kind has more than
    /// [`MAX_BINDINGS`]: each costs at every change of the tables and at
    /// start, so a function past the bound has none checked.
    pub(crate) fn bindings(
        &self,
        key: &str,
        table: &Table,
        function: &FunctionInfo<'_>,
        limits_valid: bool,
        setups: &Setups,
    ) -> Option<(BindingSet, BTreeMap<&'static str, Vec<String>>)> {
        let mut set = BindingSet::default();
        let mut keys = BTreeMap::new();
        let mut raws = Vec::new();
        for setup in setups.iter() {
            let kind = setup.kind();
            match raw_bindings(table, kind) {
                Ok(raw) if raw.len() > MAX_BINDINGS => {
                    self.report(self.error(
                        format!("{key}.{kind}"),
                        format!(
                            "{} bindings, over the most one function may have ({MAX_BINDINGS})",
                            raw.len()
                        ),
                    ));
                    return None;
                }
                Ok(raw) => raws.push((setup, raw)),
                Err(reason) => self.report(self.error(format!("{key}.{kind}"), reason)),
            }
        }
        for (setup, raw) in raws {
            let kind = setup.kind();
            let results = setup.bindings(function, raw, setups.sinks());
            let mut bound = Vec::new();
            let mut bound_keys = Vec::new();
            let mut refused = Vec::new();
            for (index, result) in results.into_iter().enumerate() {
                let binding_key = format!("{key}.{kind}[{index}]");
                match result {
                    Ok(binding) => {
                        bound.push(binding);
                        bound_keys.push(binding_key);
                    }
                    // Refused without a message: the thing it names
                    // reported its own.
                    Err(error) if error.is_reported_elsewhere() => {}
                    Err(error) => refused.push(self.binding(&binding_key, Err::<(), _>(error))),
                }
            }
            if let Some(error) = (limits_valid && !raw.is_empty())
                .then(|| setup.function_check(function, &bound))
                .flatten()
            {
                self.report(self.error(format!("{key}.{}", error.key), error.reason));
            }
            for error in refused.into_iter().filter_map(Result::err) {
                self.report(error);
            }
            set.0.insert(kind, bound);
            keys.insert(kind, bound_keys);
        }
        Some((set, keys))
    }

    /// Every kind's check of every function's bindings together; a
    /// collision is the error of the binding at fault.
    pub(crate) fn collisions(&self, declared: &Declared, setups: &Setups) {
        for setup in setups.iter() {
            let Some(bindings) = declared.bindings.get(setup.kind()) else {
                continue;
            };
            let all: Vec<Arc<dyn Binding>> = bindings.iter().map(|(b, _)| b.clone()).collect();
            if let Err(collision) = setup.check(&all) {
                let key = bindings
                    .get(collision.at)
                    .map_or("function", |(_, key)| key.as_str());
                let key = match collision.field.as_str() {
                    "" => key.to_owned(),
                    field => format!("{key}.{field}"),
                };
                self.report(self.error(key, collision.reason));
            }
        }
    }
}
