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

/// A JSON value whose objects name each key once. serde_json keeps the last of a repeated key,
/// other parsers the first: a file relying on either would be read as a guess, so a repeated key
/// is refused, as a CSV header naming a column twice is.
#[derive(Debug)]
pub struct Strict(pub serde_json::Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::new();
        while let Some(Strict(value)) = seq.next_element()? {
            values.push(value);
        }
        Ok(serde_json::Value::Array(values))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the object names `{}` twice",
                    super::shown(key.as_bytes())
                )));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
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

    #[test]
    fn strict_values_refuse_a_repeated_key_at_any_depth() {
        let read = |text: &str| serde_json::from_str::<Strict>(text).map(|s| s.0);
        assert_eq!(
            read(r#"{"a": [1, {"b": null}], "c": "x"}"#).unwrap(),
            serde_json::json!({"a": [1, {"b": null}], "c": "x"})
        );
        for text in [r#"{"a": 1, "a": 2}"#, r#"[{"x": {"b": 1, "b": 1}}]"#] {
            let error = read(text).unwrap_err().to_string();
            assert!(error.contains("twice"), "{text}: {error}");
        }
    }
}
