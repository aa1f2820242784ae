//! What `sla-load` puts on the wire: rows messages written by hand, everything else by prost.
//!
//! prost writes every varint through `BufMut`, a byte at a time, and walks each row three times
//! for its lengths: perf of a rows run put 43% of the client's time in `encode_varint` alone, and
//! the client cost 49-54 ns of CPU a bucket against the server's 31-35. On the 2-core machine
//! the benchmarks run on, the client shares the cores with the server it measures, so that CPU
//! was taken from the server. The rows written here are the bytes prost writes, byte for byte (a
//! property test holds them to that), so the server's work is exactly what a prost client gives
//! it; only the client's own cost goes down.

use prost::bytes::BufMut;
use sla_evaluator::api::codec;
use sla_evaluator::api::pb;
use tokio_stream::Stream;
use tonic::client::Grpc;
use tonic::codec::{BufferSettings, Codec, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// One message of an `Evaluate` stream.
pub(crate) enum Outgoing {
    /// Encoded by prost as it goes out. Boxed: a spec makes the message ten times the size of a
    /// vector.
    Message(Box<pb::EvaluateRequest>),
    /// Already encoded (see [`rows`]).
    Encoded(Vec<u8>),
}

impl Outgoing {
    /// The message's bytes, as they travel inside a gRPC frame.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        match self {
            Outgoing::Message(message) => prost::Message::encode_to_vec(message),
            Outgoing::Encoded(bytes) => bytes.clone(),
        }
    }
}

/// Field keys (field number << 3 | wire type): `EvaluateRequest.buckets`, `BucketBatch.buckets`,
/// then `Bucket`'s fields and `Timestamp.seconds`.
const KEY_BATCH: u8 = 2 << 3 | 2;
const KEY_ROW: u8 = 1 << 3 | 2;
const KEY_START: u8 = 1 << 3 | 2;
const KEY_DURATION: u8 = 2 << 3;
const KEY_TOTAL: u8 = 3 << 3;
const KEY_FAILED: u8 = 4 << 3;
const KEY_SECONDS: u8 = 1 << 3;

/// The `EvaluateRequest` carrying these rows as a `BucketBatch`: row i starts at `starts[i]`
/// (a whole second), lasts `duration_seconds` and counts `totals[i]` and `failed[i]`. The
/// columns have equal lengths.
pub(crate) fn rows(
    starts: &[i64],
    duration_seconds: u32,
    totals: &[u64],
    failed: &[u64],
) -> Vec<u8> {
    debug_assert!(starts.len() == totals.len() && totals.len() == failed.len());
    let rows = || starts.iter().zip(totals).zip(failed);
    // Lengths first, as protobuf puts them before what they measure.
    let batch: usize = rows()
        .map(|((&start, &total), &failed)| {
            let row = row_length(start, duration_seconds, total, failed);
            1 + varint_length(row as u64) + row
        })
        .sum();
    let mut out = Vec::with_capacity(1 + varint_length(batch as u64) + batch);
    out.push(KEY_BATCH);
    put_varint(&mut out, batch as u64);
    for ((&start, &total), &failed) in rows() {
        // Each row is put together on the stack and copied in once.
        let mut row = Row::new();
        row.key(KEY_ROW);
        row.varint(row_length(start, duration_seconds, total, failed) as u64);
        row.key(KEY_START);
        row.varint(timestamp_length(start) as u64);
        // proto3 leaves out fields that hold their default, and prost does too.
        if start != 0 {
            row.key(KEY_SECONDS);
            row.varint(start as u64);
        }
        for (key, value) in [
            (KEY_DURATION, u64::from(duration_seconds)),
            (KEY_TOTAL, total),
            (KEY_FAILED, failed),
        ] {
            if value != 0 {
                row.key(key);
                row.varint(value);
            }
        }
        out.extend_from_slice(row.bytes());
    }
    debug_assert_eq!(out.len(), out.capacity());
    out
}

/// The bytes of one `Bucket`, its key and length included: at most 43 (a key and a byte of
/// length for the row and for its start, then a key and at most ten bytes for each of the
/// seconds, the total and the failures, and five for the duration).
struct Row {
    bytes: [u8; 48],
    length: usize,
}

impl Row {
    fn new() -> Self {
        Row {
            bytes: [0; 48],
            length: 0,
        }
    }

    fn key(&mut self, key: u8) {
        self.bytes[self.length] = key;
        self.length += 1;
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes[self.length] = value as u8 | 0x80;
            self.length += 1;
            value >>= 7;
        }
        self.bytes[self.length] = value as u8;
        self.length += 1;
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.length]
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Bytes of a varint: seven bits a byte, and at least one byte.
fn varint_length(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// A field's key and varint, or nothing when it holds 0.
fn scalar_length(value: u64) -> usize {
    if value == 0 {
        0
    } else {
        1 + varint_length(value)
    }
}

fn timestamp_length(seconds: i64) -> usize {
    scalar_length(seconds as u64)
}

/// A `Bucket`'s bytes after its own key and length.
fn row_length(start: i64, duration_seconds: u32, total: u64, failed: u64) -> usize {
    let timestamp = timestamp_length(start);
    1 + varint_length(timestamp as u64)
        + timestamp
        + scalar_length(u64::from(duration_seconds))
        + scalar_length(total)
        + scalar_length(failed)
}

/// One `Evaluate` call: sends `messages` and waits for the answer. Messages of up to 64 MiB go
/// either way, as the service's own limits are what a run measures.
pub(crate) async fn evaluate(
    channel: Channel,
    messages: impl Stream<Item = Outgoing> + Send + 'static,
) -> Result<pb::EvaluateResponse, Status> {
    let mut grpc = Grpc::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    grpc.ready()
        .await
        .map_err(|error| Status::unknown(format!("the service was not ready: {error}")))?;
    let path = PathAndQuery::from_static("/sla.v1.SlaEvaluator/Evaluate");
    let response = grpc
        .client_streaming(Request::new(messages), path, Wire::default())
        .await?;
    Ok(response.into_inner())
}

/// The `Evaluate` call's codec: [`Outgoing`] out, the service's own decoder for the answer.
#[derive(Default)]
pub(crate) struct Wire(codec::Codec<pb::EvaluateRequest, pb::EvaluateResponse>);

impl Codec for Wire {
    type Encode = Outgoing;
    type Decode = pb::EvaluateResponse;
    type Encoder = WireEncoder;
    type Decoder = <codec::Codec<pb::EvaluateRequest, pb::EvaluateResponse> as Codec>::Decoder;

    fn encoder(&mut self) -> WireEncoder {
        WireEncoder(self.0.encoder())
    }

    fn decoder(&mut self) -> Self::Decoder {
        self.0.decoder()
    }
}

/// Writes an [`Outgoing`] into the call's buffer.
pub(crate) struct WireEncoder(
    <codec::Codec<pb::EvaluateRequest, pb::EvaluateResponse> as Codec>::Encoder,
);

impl Encoder for WireEncoder {
    type Item = Outgoing;
    type Error = Status;

    fn encode(&mut self, item: Outgoing, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        match item {
            Outgoing::Message(message) => self.0.encode(*message, dst),
            Outgoing::Encoded(bytes) => {
                dst.put_slice(&bytes);
                Ok(())
            }
        }
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The bytes are prost's: any starts, durations and counts, zeros included.
        #[test]
        fn rows_are_the_bytes_prost_writes(
            rows_in in prop::collection::vec(
                (
                    prop_oneof![Just(0i64), 0i64..4_000_000_000, any::<i64>()],
                    prop_oneof![0u64..200, any::<u64>()],
                    prop_oneof![Just(0u64), 0u64..20, any::<u64>()],
                ),
                0..300,
            ),
            duration_seconds in prop_oneof![Just(0u32), Just(60u32), any::<u32>()],
        ) {
            let starts: Vec<i64> = rows_in.iter().map(|r| r.0).collect();
            let totals: Vec<u64> = rows_in.iter().map(|r| r.1).collect();
            let failed: Vec<u64> = rows_in.iter().map(|r| r.2).collect();
            let message = pb::EvaluateRequest {
                item: Some(pb::evaluate_request::Item::Buckets(pb::BucketBatch {
                    buckets: rows_in
                        .iter()
                        .map(|&(start, total, failed)| pb::Bucket {
                            start: Some(prost_types::Timestamp { seconds: start, nanos: 0 }),
                            duration_seconds,
                            total,
                            failed,
                        })
                        .collect(),
                })),
            };
            prop_assert_eq!(
                rows(&starts, duration_seconds, &totals, &failed),
                prost::Message::encode_to_vec(&message)
            );
        }
    }
}
