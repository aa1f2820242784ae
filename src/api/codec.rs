//! The gRPC codec of `sla.v1`: prost's, except that each message is decoded from one contiguous
//! `Bytes` rather than through tonic's `DecodeBuf`.
//!
//! prost's generated decoders advance their buffer after every field; on a `DecodeBuf` each
//! advance goes through tonic's length bookkeeping and then `BytesMut`'s, which profiling the
//! server on rows (`BucketBatch`, one small message a bucket) measured as 40% of its time. The
//! message is already whole and contiguous in tonic's buffer when the decoder runs, so it is
//! taken out at once (no copy: the buffer is split) and decoded from there. The messages, their
//! errors and the status a malformed one gets (`INTERNAL`, with prost's description, as
//! `tonic_prost::ProstCodec` gives) are exactly prost's; `build.rs` points the generated
//! services and clients here with `codec_path`. Rows messages, the one other hot case, first go
//! to a hand-written decoder that answers as prost does or hands them back (src/api/rows.rs).

use std::any::Any;
use std::marker::PhantomData;

use prost::Message;
use prost::bytes::Buf;
use tonic::Status;
use tonic::codec::{BufferSettings, DecodeBuf};
use tonic_prost::ProstEncoder;

use super::{pb, rows};

/// Encodes `T` as prost does and decodes `U` from one contiguous buffer.
#[derive(Debug, Clone)]
pub struct Codec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = Decoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        Decoder(PhantomData)
    }
}

/// Decodes one `U` from the whole of a message's bytes.
#[derive(Debug, Clone)]
pub struct Decoder<U>(PhantomData<U>);

impl<U: Message + Default + 'static> tonic::codec::Decoder for Decoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let bytes = buf.copy_to_bytes(buf.remaining());
        let mut decoded: Option<U> = None;
        // An `Evaluate` message carrying rows takes the hand-written shortcut when it recognises
        // it (src/api/rows.rs); the type test is resolved at compile time.
        if let Some(request) =
            (&mut decoded as &mut dyn Any).downcast_mut::<Option<pb::EvaluateRequest>>()
        {
            *request = rows::request(&bytes);
        }
        match decoded {
            Some(message) => Ok(Some(message)),
            None => U::decode(bytes)
                .map(Some)
                .map_err(|error| Status::internal(error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pb;
    use prost::bytes::BytesMut;

    /// The same bytes give the same message and the same error through this decoder as through
    /// prost's own from a buffer.
    #[test]
    fn it_decodes_as_prost_does() {
        let request = pb::EvaluateRequest {
            item: Some(pb::evaluate_request::Item::Buckets(pb::BucketBatch {
                buckets: (0..3)
                    .map(|i| pb::Bucket {
                        start: Some(prost_types::Timestamp {
                            seconds: 1_700_000_040 + 60 * i,
                            nanos: 0,
                        }),
                        duration_seconds: 60,
                        total: 100 + i as u64,
                        failed: i as u64,
                    })
                    .collect(),
            })),
        };
        let bytes = request.encode_to_vec();
        let decoded = pb::EvaluateRequest::decode(prost::bytes::Bytes::from(bytes.clone()));
        assert_eq!(decoded.as_ref().ok(), Some(&request));
        // Cut short inside the last bucket: prost's error, through either buffer.
        let cut = &bytes[..bytes.len() - 3];
        let expected = pb::EvaluateRequest::decode(&mut BytesMut::from(cut)).unwrap_err();
        let got = pb::EvaluateRequest::decode(prost::bytes::Bytes::copy_from_slice(cut));
        assert_eq!(got.unwrap_err().to_string(), expected.to_string());
    }
}
