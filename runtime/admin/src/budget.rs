//! The memory of deploys and checks: a module's decode, compile and trial
//! instantiations take several times its size, so each draws that from a
//! budget sized for one module of `admin.max_module_size`; the next waits
//! for room, and past the wait it is refused (503, with Retry-After).
//!
//! The factor was measured with the release build: the peak resident
//! memory a deploy added, over the module's size, for modules of code
//! (the costliest to compile): 9.5 at 2 MiB (19 MiB), 8.7 at 7 MiB
//! (61 MiB). Data sections cost far less.

use super::ApiError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard, OwnedSemaphorePermit, Semaphore};

/// Bytes of memory a deploy or a check takes per byte of its module.
pub(crate) const FACTOR: u64 = 10;

/// The budget, counted in KiB.
#[derive(Debug)]
pub struct DeployMemory {
    kib: Arc<Semaphore>,
    total_kib: u32,
}

impl DeployMemory {
    /// Room for one module of `max_module_bytes` at a time (or several
    /// smaller ones).
    pub fn new(max_module_bytes: usize) -> Self {
        let total_kib = Self::kib(max_module_bytes as u64, u32::MAX);
        Self {
            kib: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// What a module of `size` bytes takes, in KiB, at most `most`.
    fn kib(size: u64, most: u32) -> u32 {
        let kib = size.saturating_mul(FACTOR).div_ceil(1024);
        u32::try_from(kib).unwrap_or(u32::MAX).clamp(1, most)
    }

    /// Waits, at most `wait`, for the memory a module of `size` bytes
    /// takes; the answer then is 503 with Retry-After.
    pub async fn reserve(
        &self,
        size: usize,
        wait: Duration,
    ) -> Result<OwnedSemaphorePermit, ApiError> {
        let kib = Self::kib(size as u64, self.total_kib);
        match tokio::time::timeout(wait, self.kib.clone().acquire_many_owned(kib)).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(ApiError::Internal("fenn is stopping".into())),
            Err(_) => Err(ApiError::Busy(format!(
                "other deploys or checks held the memory this one needs ({} KiB of {} KiB, {FACTOR} times the module's size) for {wait:?}: try again",
                kib, self.total_kib
            ))),
        }
    }

    /// Locks `state` with the memory of what `pick` finds in it (a thing
    /// and its module's size) reserved. The memory is waited for with
    /// `state` unlocked, as a deploy waits for it before locking: whatever
    /// else waits on `state` does not wait on a deploy's memory too. Then
    /// `state` is locked again and `pick` asked again: when what it picks
    /// now is larger, the change is refused (409) as one that raced another.
    pub async fn lock_reserved<'a, S, T>(
        &self,
        state: &'a Mutex<S>,
        wait: Duration,
        pick: impl Fn(&S) -> Result<(T, u64), ApiError>,
    ) -> Result<(MutexGuard<'a, S>, T, OwnedSemaphorePermit), ApiError> {
        let (_, size) = pick(&*state.lock().await)?;
        let permit = self
            .reserve(usize::try_from(size).unwrap_or(usize::MAX), wait)
            .await?;
        let locked = state.lock().await;
        let (picked, now) = pick(&locked)?;
        if now > size {
            return Err(ApiError::Conflict(
                "the function changed while this change waited for memory: try again".into(),
            ));
        }
        Ok((locked, picked, permit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_large_modules_take_turns_and_small_ones_share() {
        let budget = DeployMemory::new(8 << 20);
        let wait = Duration::from_millis(10);
        let first = budget.reserve(7 << 20, wait).await.unwrap();
        let error = budget.reserve(7 << 20, wait).await.unwrap_err();
        assert!(matches!(error, ApiError::Busy(_)), "{error}");
        assert!(
            error.to_string().contains("71680 KiB of 81920 KiB"),
            "{error}"
        );
        // What is left still takes a small one.
        let small = budget.reserve(512 << 10, wait).await.unwrap();
        drop((first, small));
        let _second = budget.reserve(7 << 20, wait).await.unwrap();
    }

    #[tokio::test]
    async fn a_module_larger_than_the_budget_takes_all_of_it_but_is_not_refused() {
        let budget = DeployMemory::new(1 << 20);
        let whole = budget.reserve(64 << 20, Duration::from_millis(10)).await;
        assert!(whole.is_ok());
        assert_eq!(budget.kib.available_permits(), 0);
    }

    /// Whether `future`, polled once, is still waiting.
    async fn pending<F: std::future::Future>(mut future: std::pin::Pin<&mut F>) -> bool {
        std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx).is_pending()))
            .await
    }

    #[tokio::test]
    async fn waiting_for_memory_does_not_hold_the_state() {
        let budget = DeployMemory::new(1 << 20);
        let state = Mutex::new(1u64 << 20);
        let held = budget.reserve(1 << 20, Duration::ZERO).await.unwrap();
        let pick = |size: &u64| Ok(((), *size));
        let waiting = budget.lock_reserved(&state, Duration::from_secs(60), pick);
        tokio::pin!(waiting);
        assert!(
            pending(waiting.as_mut()).await,
            "the memory is held: the change waits"
        );
        assert!(
            state.try_lock().is_ok(),
            "the state is free while the change waits for memory"
        );
        drop(held);
        let (locked, (), _memory) = waiting.await.unwrap();
        assert_eq!(*locked, 1 << 20);
    }

    #[tokio::test]
    async fn a_change_that_grew_while_waiting_for_memory_is_refused() {
        let budget = DeployMemory::new(1 << 20);
        let state = Mutex::new(1u64);
        let held = budget.reserve(1 << 20, Duration::ZERO).await.unwrap();
        let pick = |size: &u64| Ok(((), *size));
        let waiting = budget.lock_reserved(&state, Duration::from_secs(60), pick);
        tokio::pin!(waiting);
        assert!(pending(waiting.as_mut()).await);
        *state.lock().await = 2 << 20;
        drop(held);
        let error = waiting.await.err().unwrap();
        assert!(matches!(error, ApiError::Conflict(_)), "{error}");
    }
}
