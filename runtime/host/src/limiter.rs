//! What a store may grow to: one function's own limits, and a share of the
//! memory budget that all running guests draw from together.
//!
//! A guest's linear memory is reserved from the [`GuestMemory`] budget as it
//! is created and as it grows, and given back when the invocation's store
//! is dropped. When the budget is spent, the instance cannot be created (or
//! cannot grow), and the event is refused as [`Error::Overloaded`] instead
//! of the process being killed for want of memory.
//!
//! [`Error::Overloaded`]: crate::Error::Overloaded

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmi::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmi_core::{LimiterError, MemoryError};

/// The linear memory of every running guest together, in bytes.
#[derive(Debug)]
pub struct GuestMemory {
    total: usize,
    used: AtomicUsize,
}

impl GuestMemory {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Arc<Self> {
        Arc::new(Self {
            total,
            used: AtomicUsize::new(0),
        })
    }

    /// The budget, in bytes.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes reserved by running guests now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|after| *after <= self.total)
            })
            .is_ok()
    }

    fn give(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Which bound stopped a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hit {
    /// Its memory limit.
    Memory,
    /// Its table limit.
    Table,
    /// The budget of all running guests.
    Budget,
}

/// wasmi's [`StoreLimits`] and the shared budget, remembering which bound a
/// guest hit so that its failure is reported as that bound.
pub(crate) struct Limiter {
    inner: StoreLimits,
    budget: Option<Arc<GuestMemory>>,
    reserved: usize,
    growing: usize,
    pub(crate) hit: Option<Hit>,
    /// The largest linear memory the guest has grown to, in bytes.
    pub(crate) peak: usize,
}

impl Limiter {
    pub(crate) fn new(
        memory_bytes: usize,
        table_elements: usize,
        budget: Option<Arc<GuestMemory>>,
    ) -> Self {
        Self {
            inner: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .table_elements(table_elements)
                .instances(1)
                .memories(1)
                .tables(1)
                .trap_on_grow_failure(true)
                .build(),
            budget,
            reserved: 0,
            growing: 0,
            hit: None,
            peak: 0,
        }
    }
}

impl Drop for Limiter {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.give(self.reserved);
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        let allowed = self.inner.memory_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.hit = Some(Hit::Memory);
            return allowed;
        }
        let delta = desired.saturating_sub(current);
        if let Some(budget) = &self.budget {
            if !budget.take(delta) {
                self.hit = Some(Hit::Budget);
                return Err(LimiterError::ResourceLimiterDeniedAllocation);
            }
            self.reserved += delta;
            self.growing = delta;
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    /// A growth the limiter allowed failed after all (out of fuel for it,
    /// which resumes, or out of host memory): its reservation is given back,
    /// and the failure goes on as it would without a limiter.
    fn memory_grow_failed(&mut self, _error: &MemoryError) -> Result<(), LimiterError> {
        if let Some(budget) = &self.budget {
            budget.give(self.growing);
            self.reserved -= self.growing;
            self.growing = 0;
        }
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        let allowed = self.inner.table_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.hit = Some(Hit::Table);
        }
        allowed
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_shared_and_given_back_when_a_store_ends() {
        let budget = GuestMemory::new(100);
        let mut first = Limiter::new(1000, 10, Some(budget.clone()));
        assert!(matches!(first.memory_growing(0, 60, None), Ok(true)));
        let mut second = Limiter::new(1000, 10, Some(budget.clone()));
        assert!(second.memory_growing(0, 60, None).is_err());
        assert_eq!(second.hit, Some(Hit::Budget));
        assert!(matches!(second.memory_growing(0, 40, None), Ok(true)));
        assert_eq!(budget.used(), 100);
        drop(first);
        assert_eq!(budget.used(), 40);
        drop(second);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_function_limit_is_hit_before_the_budget_is_touched() {
        let budget = GuestMemory::new(100);
        let mut limiter = Limiter::new(50, 10, Some(budget.clone()));
        assert!(limiter.memory_growing(0, 60, None).is_err());
        assert_eq!((limiter.hit, budget.used()), (Some(Hit::Memory), 0));
        assert!(limiter.table_growing(0, 11, None).is_err());
        assert_eq!(limiter.hit, Some(Hit::Table));
    }
}
