//! `sla-evaluator verify FILE`: checks that a saved response is a statement the holder of a key
//! signed, byte for byte: the envelope's signatures over its payload, and the payload against the
//! response it came with. It says which key signed, and fails loudly on any changed byte.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use prost::Message;
use serde_json::Value;

use super::fail;
use super::target::connect;
use crate::api::{envelope, pb};
use crate::input::protojson;
use crate::statement::{self, PAYLOAD_TYPE, PublicKey};

/// `verify`'s flags.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A saved response in protobuf's JSON mapping (what `evaluate --format json`, grpcurl and
    /// `statements show` print), or `-` for standard input; every evaluation of a
    /// multi-subscription document is checked.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A public key (PEM; a private key's public half is taken) the statement may be signed with;
    /// repeatable.
    #[arg(long, value_name = "PEM")]
    pub key: Vec<PathBuf>,
    /// Take the keys from the server at HOST:PORT (GetSigningKeys), besides any --key.
    #[arg(long, value_name = "HOST:PORT")]
    pub target: Option<String>,
}

/// Runs `verify`.
pub async fn run(args: VerifyArgs) -> ExitCode {
    let mut keys = Vec::new();
    for path in &args.key {
        match PublicKey::from_file(path) {
            Ok(key) => keys.push(key),
            Err(error) => return fail(&format!("--key {error}")),
        }
    }
    if let Some(target) = &args.target {
        match server_keys(target).await {
            Ok(found) => keys.extend(found),
            Err(message) => return fail(&message),
        }
    }
    if keys.is_empty() {
        clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "verify needs the keys to check against: --key PEM or --target HOST:PORT\n",
        )
        .exit()
    }
    let name = args.file.display().to_string();
    let responses = match read(&args.file) {
        Ok(responses) => responses,
        Err(message) => return fail(&format!("{name}: {message}")),
    };
    for (label, response) in &responses {
        match verify(response, &keys) {
            Ok(signed_by) => println!("{name}{label}: {signed_by}"),
            Err(message) => return fail(&format!("{name}{label}: NOT VERIFIED: {message}")),
        }
    }
    ExitCode::SUCCESS
}

/// The public keys a server signs with.
async fn server_keys(target: &str) -> Result<Vec<PublicKey>, String> {
    let mut client = connect(target).await?;
    let keys = client
        .get_signing_keys(pb::GetSigningKeysRequest {})
        .await
        .map_err(|status| {
            format!(
                "the server at {target} answered {:?}: {}",
                status.code(),
                status.message()
            )
        })?
        .into_inner()
        .keys;
    keys.iter()
        .map(|key| {
            let public = PublicKey::from_pem(
                &format!("the key {} of {target}", key.keyid),
                &key.public_key_pem,
            )
            .map_err(|error| error.to_string())?;
            // The id is derived from the key: a server naming another is not to be trusted.
            if public.keyid != key.keyid {
                return Err(format!(
                    "the server at {target} lists key {} whose public key has the id {}",
                    key.keyid, public.keyid
                ));
            }
            Ok(public)
        })
        .collect()
}

/// The responses a document holds, each with a label for messages (`[acme]` in a
/// multi-subscription document, empty for a single response).
fn read(path: &Path) -> Result<Vec<(String, pb::EvaluateResponse)>, String> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|error| error.to_string())?;
    let value: Value = serde_json::from_str(&text).map_err(|error| format!("not JSON: {error}"))?;
    let documents: Vec<(String, Value)> = match value {
        Value::Array(entries) => entries
            .into_iter()
            .map(|mut entry| {
                let name = entry
                    .get("subscription")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                (format!(" [{name}]"), entry["evaluation"].take())
            })
            .collect(),
        // A Statement from `statements show`: the response it holds.
        mut single if single.get("response").is_some() && single.get("hash").is_some() => {
            vec![(String::new(), single["response"].take())]
        }
        single => vec![(String::new(), single)],
    };
    documents
        .into_iter()
        .map(|(label, value)| {
            protojson::from_value::<pb::EvaluateResponse>(value, "EvaluateResponse")
                .map(|response| (label, response))
        })
        .collect()
}

/// Which keys signed `response`, and that it is the response they signed.
fn verify(response: &pb::EvaluateResponse, keys: &[PublicKey]) -> Result<String, String> {
    let Some(message) = &response.statement else {
        return Err("it carries no signed statement (the server had no --signing-key)".into());
    };
    if message.payload_type != PAYLOAD_TYPE {
        return Err(format!(
            "its statement's payload type is '{}', not '{PAYLOAD_TYPE}'",
            message.payload_type
        ));
    }
    let signed_by =
        statement::verify(&envelope(message), keys).map_err(|error| error.to_string())?;
    let signed = pb::EvaluateResponse::decode(message.payload.as_slice())
        .map_err(|error| format!("its signed payload is not an EvaluateResponse: {error}"))?;
    let mut outside = response.clone();
    outside.statement = None;
    if signed != outside {
        return Err(format!(
            "the response differs from the statement signed with it: {}",
            first_difference(&outside, &signed)
        ));
    }
    let ids: Vec<&str> = signed_by.iter().map(|key| key.keyid.as_str()).collect();
    let record = match &signed.record {
        Some(record) => format!(", statement {}", record.id),
        None => String::new(),
    };
    let whose = if signed.subscription.is_empty() {
        String::new()
    } else {
        format!(" for {}", signed.subscription)
    };
    Ok(format!(
        "verified: signed by {}{record}{whose}; every byte of the response is the one signed",
        ids.join(", ")
    ))
}

/// The first field where the two responses differ, as a JSON path with both values.
fn first_difference(file: &pb::EvaluateResponse, signed: &pb::EvaluateResponse) -> String {
    let json = |response: &pb::EvaluateResponse| -> Value {
        serde_json::from_str(&protojson::to_json(response, "EvaluateResponse", false))
            .unwrap_or(Value::Null)
    };
    match difference(&json(file), &json(signed), String::new()) {
        Some((path, ours, theirs)) => {
            format!("{path}: the file says {ours}, the signed statement {theirs}")
        }
        None => "in a value JSON does not show".into(),
    }
}

fn difference(a: &Value, b: &Value, path: String) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|key| {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                difference(
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                    at,
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(index, (a, b))| difference(a, b, format!("{path}[{index}]"))),
        _ if a == b => None,
        _ => Some((
            if path.is_empty() {
                "the response".into()
            } else {
                path
            },
            a.to_string(),
            b.to_string(),
        )),
    }
}
