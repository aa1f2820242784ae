//! A deliberately minimal HTTP/2 peer over a plain socket, for testing how the server treats
//! clients that break the protocol (which no real client library will do on purpose).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use prost::Message;

pub(crate) const DATA: u8 = 0x0;
pub(crate) const HEADERS: u8 = 0x1;
pub(crate) const RST_STREAM: u8 = 0x3;
pub(crate) const SETTINGS: u8 = 0x4;
pub(crate) const PING: u8 = 0x6;
pub(crate) const GOAWAY: u8 = 0x7;

pub(crate) const END_STREAM: u8 = 0x1;
pub(crate) const ACK: u8 = 0x1;
pub(crate) const END_HEADERS: u8 = 0x4;

/// ENHANCE_YOUR_CALM, the GOAWAY code of h2's reset-flood guard.
pub(crate) const ENHANCE_YOUR_CALM: u32 = 0xb;
/// NO_ERROR, the code of a graceful GOAWAY.
pub(crate) const NO_ERROR: u32 = 0x0;

#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) stream: u32,
    pub(crate) payload: Vec<u8>,
}

impl Frame {
    /// A GOAWAY's last stream id: the highest stream the server took.
    pub(crate) fn last_stream(&self) -> u32 {
        u32::from_be_bytes(self.payload[0..4].try_into().unwrap()) & 0x7FFF_FFFF
    }

    /// A GOAWAY's error code.
    pub(crate) fn error_code(&self) -> u32 {
        u32::from_be_bytes(self.payload[4..8].try_into().unwrap())
    }
}

pub(crate) struct RawH2 {
    socket: TcpStream,
}

impl RawH2 {
    /// Connects, sends the preface and empty SETTINGS.
    pub(crate) fn connect(addr: SocketAddr) -> Self {
        let socket = TcpStream::connect(addr).expect("connect");
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut peer = RawH2 { socket };
        peer.socket
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .unwrap();
        peer.send(SETTINGS, 0, 0, &[]);
        peer
    }

    pub(crate) fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut frame = Vec::with_capacity(9 + payload.len());
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        frame.push(kind);
        frame.push(flags);
        frame.extend_from_slice(&stream.to_be_bytes());
        frame.extend_from_slice(payload);
        // The server may already have closed the connection; the reads will tell.
        let _ = self.socket.write_all(&frame);
    }

    /// A request's HEADERS, each field a literal without indexing (HPACK's simplest form).
    pub(crate) fn headers(&mut self, stream: u32, fields: &[(&str, &str)], flags: u8) {
        let mut block = Vec::new();
        for (name, value) in fields {
            // 0x00: literal without indexing, new name; then the name and value strings, each a
            // one-byte length (no Huffman coding) and the bytes.
            block.push(0);
            for text in [name, value] {
                assert!(text.len() < 127, "one-byte lengths only");
                block.push(text.len() as u8);
                block.extend_from_slice(text.as_bytes());
            }
        }
        self.send(HEADERS, flags, stream, &block);
    }

    /// The next frame, or `None` once the server has closed the connection. A server that sends
    /// nothing for 10 s fails the test: silence is not a close.
    pub(crate) fn read(&mut self) -> Option<Frame> {
        let mut head = [0u8; 9];
        self.read_exact(&mut head)?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0; len];
        self.read_exact(&mut payload)?;
        Some(Frame {
            kind: head[3],
            flags: head[4],
            stream: u32::from_be_bytes(head[5..9].try_into().unwrap()) & 0x7FFF_FFFF,
            payload,
        })
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Option<()> {
        use std::io::ErrorKind;
        match self.socket.read_exact(buf) {
            Ok(()) => Some(()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the server sent nothing for 10 s and did not close the connection")
            }
            Err(_) => None,
        }
    }
}

/// A message as gRPC frames it: uncompressed, its length, its bytes.
pub(crate) fn grpc_message(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut framed = vec![0];
    framed.extend((body.len() as u32).to_be_bytes());
    framed.extend(body);
    framed
}

/// A call's request HEADERS on a raw connection.
pub(crate) fn call(peer: &mut RawH2, stream: u32, path: &str) {
    peer.headers(
        stream,
        &[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "sla"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ],
        END_HEADERS,
    );
}

/// The next frame, acknowledging the server's SETTINGS and PINGs on the way; a GOAWAY or the
/// connection's end fails the test, naming what the server said.
pub(crate) fn next_frame(peer: &mut RawH2) -> Frame {
    loop {
        let frame = peer
            .read()
            .expect("the server closed a connection carrying a good call");
        match frame.kind {
            SETTINGS if frame.flags & ACK == 0 => {
                peer.send(SETTINGS, ACK, 0, &[]);
            }
            PING if frame.flags & ACK == 0 => {
                peer.send(PING, ACK, 0, &frame.payload);
            }
            GOAWAY => panic!(
                "the server sent GOAWAY (code {}, {:?}) on a connection carrying a good call",
                frame.error_code(),
                String::from_utf8_lossy(&frame.payload[8..])
            ),
            _ => return frame,
        }
    }
}

/// True once the server has closed `socket` (a read returns end of file or an error), false when
/// it is still open after `patience`.
pub(crate) fn closed_within(socket: &mut TcpStream, patience: Duration) -> bool {
    socket.set_read_timeout(Some(patience)).unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match socket.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}
