//! Every response the service sends is bounded and its memory reserved, as requests' are: its
//! encoded size is checked against the server's limit and reserved in the memory budget before
//! the gRPC library encodes it, and the reservation is held until its last byte is sent.

use std::sync::Arc;

use prost::Message;
use tonic::Response;

use super::error::ApiError;
use crate::memory::Reservation;

/// Bytes of memory one encoded byte of a response may hold at once: the message itself (its
/// strings, vectors and structures, measured at up to about three times its encoded size for a
/// month's evidence), its encoding, a compressed copy when the client asked for one, and the
/// part HTTP/2 has not sent yet.
pub const RESPONSE_AMPLIFICATION: u64 = 6;

/// A response's share of the memory budget, in its extensions: the server's edge takes it and
/// holds it until the response's last byte is sent.
#[derive(Clone, Debug)]
pub struct ResponseMemory(Arc<Reservation>);

impl ResponseMemory {
    /// Bytes reserved.
    pub fn bytes(&self) -> u64 {
        self.0.bytes()
    }
}

/// `message` as a response, if it fits: no larger than `max_bytes` encoded, and its memory
/// reserved in `memory` (which may already hold what built it; it is set to the response's
/// share).
pub(super) fn bounded<T: Message>(
    message: T,
    mut memory: Reservation,
    max_bytes: u64,
) -> Result<Response<T>, ApiError> {
    let bytes = message.encoded_len() as u64;
    if bytes > max_bytes {
        return Err(ApiError::LimitExceeded {
            subject: "response size in bytes".into(),
            message: format!(
                "the response would be {bytes} bytes, over the server's limit of {max_bytes} \
                 (--max-response-bytes); split the term over several calls, or ask for fewer \
                 intervals (spec.max_intervals)"
            ),
        });
    }
    memory.set(bytes.saturating_mul(RESPONSE_AMPLIFICATION))?;
    let mut response = Response::new(message);
    response
        .extensions_mut()
        .insert(ResponseMemory(Arc::new(memory)));
    Ok(response)
}
