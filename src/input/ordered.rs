//! Work on every core, results in input order.
//!
//! Parsing is what costs (an order of magnitude more than evaluating what was parsed), so blocks
//! are parsed in parallel; but each result is applied strictly in the order of its block, by the
//! thread that parsed it once its turn comes. Applying in order keeps the messages of every
//! subscription, and so every response and the first error reported, the same on any number of
//! cores. At most `threads` items are in flight, plus one waiting in the queue, which bounds
//! memory whatever the input's size.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Condvar, Mutex, PoisonError};

/// Whether to go on after applying a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop: read no more items; results already being worked on are dropped.
    Stop,
}

/// Runs `work` on each item of `items` on `threads` threads and passes the results to `apply` in
/// the items' order. `items` is drawn on the calling thread (it may read a file); `apply` runs on
/// the worker threads, one call at a time. Stops early when `apply` says so.
pub fn run<T, R, A>(
    items: impl Iterator<Item = T>,
    threads: usize,
    work: impl Fn(T) -> R + Sync,
    apply: A,
) where
    T: Send,
    R: Send,
    A: FnMut(R) -> Flow + Send,
{
    let threads = threads.max(1);
    let turn = Turn {
        state: Mutex::new((0, apply)),
        changed: Condvar::new(),
    };
    let stopped = AtomicBool::new(false);
    let (send, receive) = sync_channel::<(u64, T)>(1);
    let receive = Mutex::new(receive);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    // The lock is held only to take an item, never while working on one.
                    let next = receive
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .recv();
                    let Ok((index, item)) = next else { break };
                    // Once stopped, items are drained unread so that the sender never blocks.
                    if !stopped.load(Ordering::Relaxed) {
                        turn.apply(index, work(item), &stopped);
                    }
                }
            });
        }
        for (index, item) in (0u64..).zip(items) {
            if stopped.load(Ordering::Relaxed) || send.send((index, item)).is_err() {
                break;
            }
        }
        drop(send);
    });
}

/// Whose turn it is to apply, and the applying function.
struct Turn<A> {
    state: Mutex<(u64, A)>,
    changed: Condvar,
}

impl<A> Turn<A> {
    fn apply<R>(&self, index: u64, result: R, stopped: &AtomicBool)
    where
        A: FnMut(R) -> Flow,
    {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.0 != index && !stopped.load(Ordering::Relaxed) {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let flow = if stopped.load(Ordering::Relaxed) {
            Flow::Stop
        } else {
            (state.1)(result)
        };
        if flow == Flow::Stop {
            stopped.store(true, Ordering::Relaxed);
        }
        state.0 += 1;
        drop(state);
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_in_input_order_whatever_finishes_first() {
        let mut applied = Vec::new();
        run(
            0..200u64,
            4,
            |i| {
                // Early items take longest.
                std::thread::sleep(std::time::Duration::from_micros(200 - i));
                i
            },
            |i| {
                applied.push(i);
                Flow::Continue
            },
        );
        assert_eq!(applied, (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn stops_when_told() {
        let mut seen = Vec::new();
        run(
            0..1000u64,
            3,
            |i| i,
            |i| {
                seen.push(i);
                if i == 10 { Flow::Stop } else { Flow::Continue }
            },
        );
        assert_eq!(seen, (0..=10).collect::<Vec<_>>());
    }
}
