//! gRPC message boundaries in a byte stream that arrives in pieces of any size.
//!
//! Every gRPC message travels as a five-byte prefix (a compression flag and a big-endian 32-bit
//! length) and then its bytes. Knowing where each message starts lets the edge of the server count
//! messages and reserve memory for one before the gRPC library buffers and decodes it.

/// What a message's prefix says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Prefix {
    /// The message is compressed (gzip or zstd, as the call's `grpc-encoding` says).
    pub(super) compressed: bool,
    /// Its length on the wire.
    pub(super) length: u32,
}

/// The state of a stream of length-prefixed messages.
#[derive(Debug, Default)]
pub(super) struct Frames {
    header: [u8; 5],
    have: usize,
    /// Bytes of the current message not seen yet.
    remaining: u64,
}

impl Frames {
    /// Reads `bytes` and calls `on_message` with every message whose prefix they complete, in
    /// order. Stops early, returning the error, when `on_message` refuses one.
    pub(super) fn feed<E>(
        &mut self,
        mut bytes: &[u8],
        mut on_message: impl FnMut(Prefix) -> Result<(), E>,
    ) -> Result<(), E> {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let skip = self.remaining.min(bytes.len() as u64);
                self.remaining -= skip;
                bytes = &bytes[skip as usize..];
                continue;
            }
            let take = (5 - self.have).min(bytes.len());
            self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if self.have == 5 {
                self.have = 0;
                let length = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]);
                self.remaining = u64::from(length);
                on_message(Prefix {
                    compressed: self.header[0] == 1,
                    length,
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(length: u32) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend(length.to_be_bytes());
        bytes.extend(std::iter::repeat_n(7, length as usize));
        bytes
    }

    #[test]
    fn messages_are_found_whatever_the_pieces() {
        let stream: Vec<u8> = [message(3), message(0), message(300)].concat();
        for piece in [1, 2, 5, 7, 1000] {
            let mut frames = Frames::default();
            let mut lengths = Vec::new();
            for chunk in stream.chunks(piece) {
                frames
                    .feed(chunk, |prefix| {
                        lengths.push(prefix.length);
                        Ok::<(), ()>(())
                    })
                    .unwrap();
            }
            assert_eq!(lengths, [3, 0, 300], "pieces of {piece}");
        }
    }
}
