//! Flows: functions chained in a DAG. A flow is triggered like a function
//! (its bindings name it as they name a function); each event starts a
//! run, whose steps each run a function, and whose edges carry a step's
//! result, or its failure, on to the steps it feeds, when their conditions
//! hold. One step's result answers the source.
//!
//! - [`graph`]: [`FlowSpec`] as a definition writes it, validated into a
//!   [`Graph`] (refusing cycles, unreachable steps and the rest).
//! - [`condition`]: the conditions edges take, read on a step's result.
//! - [`run`]: [`RunState`], one run's progress, without I/O.
//! - [`input`]: the event each step receives.
//! - [`engine`]: [`Flows`], the flows served, and the task that runs each
//!   run: retries, join timeouts, the run's deadline and bounds, its
//!   journal.

mod check;
pub mod condition;
mod drive;
pub mod engine;
pub mod graph;
pub mod input;
mod report;
pub mod run;

pub use engine::{Flow, FlowLimits, Flows};
pub use graph::{FlowSpec, Graph, GraphError, Join, OnTimeout, Retry, StepSpec};
pub use run::{Failure, Outcome, RunState};
