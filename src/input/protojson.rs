//! `sla.v1` messages in protobuf's canonical JSON mapping, the form grpcurl shows and takes:
//! lowerCamelCase names (the proto's own names accepted too), 64-bit integers as strings, enums by
//! name, defaults omitted. Done by `prost-reflect` from the descriptors the binary already embeds
//! for reflection, so the command line's JSON and the server's (through grpcurl) are one schema.

use std::sync::OnceLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde::Serialize;

use crate::api::pb;

/// The descriptors of `sla.v1` and its imports.
fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set compiled into the binary decodes")
    })
}

/// The descriptor of a message of `sla.v1`, e.g. `EvaluateResponse`.
pub fn descriptor(name: &str) -> MessageDescriptor {
    pool()
        .get_message_by_name(&format!("sla.v1.{name}"))
        .unwrap_or_else(|| panic!("sla.v1.{name} is in the compiled descriptor set"))
}

/// A generated message as its dynamic twin, which serializes to canonical JSON.
pub fn dynamic<M: Message>(message: &M, name: &str) -> DynamicMessage {
    DynamicMessage::decode(descriptor(name), message.encode_to_vec().as_slice())
        .expect("a message encoded by prost decodes under its own descriptor")
}

/// A message as canonical JSON; `pretty` indents it by two spaces, as grpcurl does.
pub fn to_json<M: Message>(message: &M, name: &str, pretty: bool) -> String {
    let dynamic = dynamic(message, name);
    let mut bytes = Vec::new();
    let options = SerializeOptions::new();
    let written = if pretty {
        let mut serializer = serde_json::Serializer::pretty(&mut bytes);
        dynamic.serialize_with_options(&mut serializer, &options)
    } else {
        let mut serializer = serde_json::Serializer::new(&mut bytes);
        dynamic.serialize_with_options(&mut serializer, &options)
    };
    written.expect("a dynamic message serializes to JSON in memory");
    String::from_utf8(bytes).expect("serde_json writes UTF-8")
}

/// A value that serializes as the message's canonical JSON, to embed in larger documents.
pub struct Json(pub DynamicMessage);

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_with_options(serializer, &SerializeOptions::new())
    }
}

/// A message from a JSON value in the canonical mapping (unknown fields refused).
pub fn from_value<M: Message + Default>(value: serde_json::Value, name: &str) -> Result<M, String> {
    let dynamic =
        DynamicMessage::deserialize(descriptor(name), value).map_err(|error| error.to_string())?;
    dynamic
        .transcode_to::<M>()
        .map_err(|error| format!("cannot be read as sla.v1.{name}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_grpcurl_shows_and_reads_both_names() {
        let spec = pb::EvaluationSpec {
            policy_id: "tencent-trtc".into(),
            as_of: Some(prost_types::Timestamp {
                seconds: 1_554_076_800,
                nanos: 0,
            }),
            expected_buckets: Some(7),
            ..pb::EvaluationSpec::default()
        };
        let json = to_json(&spec, "EvaluationSpec", false);
        assert_eq!(
            json,
            r#"{"policyId":"tencent-trtc","asOf":"2019-04-01T00:00:00Z","expectedBuckets":"7"}"#
        );
        let read: pb::EvaluationSpec = from_value(
            serde_json::json!({"policy_id": "tencent-trtc", "asOf": "2019-04-01T00:00:00Z",
                               "expected_buckets": 7}),
            "EvaluationSpec",
        )
        .unwrap();
        assert_eq!(read, spec);
        let unknown = from_value::<pb::EvaluationSpec>(
            serde_json::json!({"polcy_id": "x"}),
            "EvaluationSpec",
        );
        assert!(unknown.unwrap_err().contains("polcy_id"));
    }
}
