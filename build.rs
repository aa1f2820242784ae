//! Generates the gRPC code from `proto/` without a system `protoc`: protox parses the files in pure
//! Rust, tonic-prost-build generates from the parsed descriptors, and the encoded descriptor set is
//! kept for server reflection.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["sla/v1/sla.proto"], ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("sla_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        // prost's codec, decoding each message from one contiguous buffer (src/api/codec.rs).
        .codec_path("crate::api::codec::Codec")
        // The hot message has a hand-written codec (src/api/columns.rs); the rest is generated.
        .extern_path(
            ".sla.v1.BucketColumns",
            "crate::api::columns::BucketColumns",
        )
        .compile_fds(descriptors)?;
    Ok(())
}
