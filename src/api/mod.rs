//! The gRPC layer: it converts and validates at the edge, calls the domain, and converts back.
//! Nothing in here decides an SLA question.

mod buffers;
pub mod codec;
pub mod columns;
mod error;
mod from_pb;
mod ingest;
mod quoted;
mod response;
mod rows;
mod service;
mod statements;
mod stream_evaluation;
mod to_pb;
mod upload;
mod work;

pub use error::{ApiError, At, ERROR_DOMAIN, field_name, log_refusal};
pub use ingest::Taken;
pub use quoted::{Quoted, shortened};
pub use response::{RESPONSE_AMPLIFICATION, ResponseMemory};
pub use service::{BucketCounter, SlaService, Uncounted};
pub use statements::{Statements, envelope};
pub use stream_evaluation::StreamEvaluation;
pub use upload::ClientGone;
pub use work::{Cancel, Work};

/// Code generated from `proto/sla/v1/sla.proto`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("sla.v1");

    pub use super::columns::BucketColumns;

    /// The encoded descriptors of `sla.v1` and its imports, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/sla_v1_descriptor.bin"));
}

/// A policy version as `GetPolicy` and `ListPolicies` show it, for the command line's tables.
pub fn policy_message(policy: &crate::policy::Policy) -> pb::Policy {
    to_pb::policy(policy)
}
