//! Where the service's CPU work runs: off the threads that serve connections, a bounded number at
//! once, and stopped when its call ends.
//!
//! A call's work (classifying outages, folding a message into an evaluation, building a report)
//! could take seconds of CPU (a ClassifyOutages with a calendar of every day off for centuries
//! walks every one of its days for each outage). On the async threads, two such calls on a
//! two-core machine held every thread: health probes and small calls waited behind them, and the
//! call timeout could not stop them (it can only drop a future when it is polled). Here each
//! piece of work runs on a blocking thread, at most one per core at once (first come, first
//! served, so heavy calls take turns with light ones), and learns through [`Cancel`] when its
//! call is over (its deadline passed, or its client went away) so that it stops instead of
//! finishing for no one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Semaphore;

/// Set once the call that asked for a piece of work is over: long loops look at it between items
/// and stop.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// True once the call is over.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Sets its [`Cancel`] when dropped: when the future waiting for the work is dropped, the call is
/// over.
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// The threads CPU work runs on.
#[derive(Clone, Debug)]
pub struct Work {
    slots: Arc<Semaphore>,
    threads: usize,
}

impl Work {
    /// At most `threads` pieces of work at once.
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        Work {
            slots: Arc::new(Semaphore::new(threads)),
            threads,
        }
    }

    /// One piece of work at once per core the process may use.
    pub fn per_core() -> Self {
        Work::new(std::thread::available_parallelism().map_or(2, |cores| cores.get()))
    }

    /// How many pieces of work run at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` on a blocking thread once one of the slots is free, and waits for it. Dropping
    /// the returned future (the call's deadline passed, or its client went away) sets the
    /// [`Cancel`] `work` is given; the slot is held until `work` returns.
    pub async fn run<T, F>(&self, work: F) -> T
    where
        F: FnOnce(&Cancel) -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the work slots are never closed");
        let cancel = Cancel::default();
        let _cancel_on_drop = CancelOnDrop(cancel.clone());
        let done = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work(&cancel)
        });
        match done.await {
            Ok(value) => value,
            // The work panicked: the call fails as it would have had it run here.
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn work_runs_a_few_at_once_and_stops_when_its_call_is_dropped() {
        let work = Work::new(1);
        assert_eq!(work.run(|_| 7).await, 7);
        let (stopped_tx, stopped_rx) = std::sync::mpsc::channel();
        let long = work.run(move |cancel| {
            while !cancel.is_set() {
                std::thread::sleep(Duration::from_millis(1));
            }
            stopped_tx.send(()).unwrap();
        });
        // The call is over before its work is: the work is told, and stops.
        let _ = tokio::time::timeout(Duration::from_millis(50), long).await;
        tokio::task::spawn_blocking(move || stopped_rx.recv_timeout(Duration::from_secs(5)))
            .await
            .unwrap()
            .unwrap();
        // Its slot came back.
        assert_eq!(work.run(|_| 8).await, 8);
    }
}
