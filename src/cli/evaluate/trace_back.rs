//! The last batches sent to a server, so that a refusal it sends back (batch 7, row 12, counted
//! as the API documents and read from the status's metadata) can be traced to its file and line. The server reads in order and stops
//! at the first refusal, so the refused batch is among the last few in flight.

use std::collections::VecDeque;

use crate::input::{Origin, Place};

/// Batches remembered per stream: more than can be in flight (the queue, HTTP/2's window, the
/// message being decoded).
const REMEMBERED: usize = 64;

/// Where a batch's rows came from.
#[derive(Debug)]
enum Places {
    /// Consecutive places from `first` (a file grouped by subscription): nothing to keep per row.
    Run { first: u32 },
    /// Anything else.
    List(Vec<u32>),
}

/// One stream's recent batches.
#[derive(Debug, Default)]
pub(super) struct TraceBack {
    batches: u64,
    recent: VecDeque<(u64, String, Origin, Places)>,
}

impl TraceBack {
    /// Counts the next batch without remembering it (its refusal comes back at once), and
    /// returns its number.
    pub(super) fn count(&mut self) -> u64 {
        self.batches += 1;
        self.batches - 1
    }

    /// Notes the next batch, read from `source` at `origin` with these row places, and returns
    /// its number.
    pub(super) fn note(&mut self, source: &str, origin: Origin, places: &[u32]) -> u64 {
        let first = places.first().copied().unwrap_or_default();
        let consecutive = places.iter().enumerate().all(|(i, &place)| {
            u32::try_from(i).ok().and_then(|i| first.checked_add(i)) == Some(place)
        });
        let places = if consecutive {
            Places::Run { first }
        } else {
            Places::List(places.to_vec())
        };
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent
            .push_back((self.batches, source.to_string(), origin, places));
        self.count()
    }

    /// The file and place of row `row` of batch `batch`, if it is remembered.
    pub(super) fn find(&self, batch: u64, row: usize) -> Option<(String, Place)> {
        let (_, source, origin, places) = self.recent.iter().find(|(b, ..)| *b == batch)?;
        let place = match places {
            Places::Run { first } => {
                let place = first.checked_add(u32::try_from(row).ok()?)?;
                origin.place(&[place], 0)
            }
            Places::List(places) => origin.place(places, row),
        };
        Some((source.clone(), place))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rows_of_recent_batches() {
        let mut trace_back = TraceBack::default();
        assert_eq!(
            trace_back.note("a.csv", Origin::Lines { before: 100 }, &[2, 3, 4]),
            0
        );
        assert_eq!(
            trace_back.note("a.csv", Origin::Lines { before: 100 }, &[5, 9]),
            1
        );
        assert_eq!(
            trace_back.find(0, 2),
            Some(("a.csv".into(), Place::Line(104)))
        );
        assert_eq!(
            trace_back.find(1, 1),
            Some(("a.csv".into(), Place::Line(109)))
        );
        assert_eq!(trace_back.find(2, 0), None);
        // A batch counted but not remembered takes its number, and is not found.
        assert_eq!(trace_back.count(), 2);
        assert_eq!(trace_back.find(2, 0), None);
    }
}
