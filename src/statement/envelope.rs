//! The DSSE envelope (github.com/secure-systems-lab/dsse, the envelope in-toto and Sigstore use):
//! the signed payload travels as bytes inside the envelope, so a verifier checks the signature on
//! exactly those bytes and needs no canonical re-encoding of anything.

use ed25519_dalek::Signature as Ed25519Signature;

use super::keys::{PublicKey, SigningKeys};

/// What every statement's payload is: an `sla.v1.EvaluateResponse`, every field but `statement`,
/// encoded as protobuf.
pub const PAYLOAD_TYPE: &str = "application/vnd.sla.v1.EvaluateResponse+protobuf";

/// A signed payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// What the payload is.
    pub payload_type: String,
    /// The signed bytes.
    pub payload: Vec<u8>,
    /// One per signing key.
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The signing key's id (a hint: the signature is what counts).
    pub keyid: String,
    /// The Ed25519 signature over [`pae`] of the payload.
    pub sig: Vec<u8>,
}

/// DSSE's pre-authentication encoding, what is actually signed:
/// `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal. Binding the type
/// to the bytes keeps a signature on one kind of payload from passing for another.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

impl SigningKeys {
    /// `payload` signed with every key.
    pub fn sign(&self, payload_type: &str, payload: Vec<u8>) -> Envelope {
        let signatures = self
            .sign_all(&pae(payload_type, &payload))
            .into_iter()
            .map(|(keyid, sig)| Signature { keyid, sig })
            .collect();
        Envelope {
            payload_type: payload_type.to_string(),
            payload,
            signatures,
        }
    }
}

/// Why an envelope does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Nothing signed it.
    #[error("the envelope carries no signature")]
    Unsigned,
    /// A signature by a known key does not match the payload: a byte was changed.
    #[error(
        "the signature of key {keyid} does not match the payload: the statement was changed after \
         it was signed, or was not signed by this key"
    )]
    BadSignature {
        /// The key whose signature fails.
        keyid: String,
    },
    /// No signature is by a key the verifier holds.
    #[error(
        "no signature is by a key given (signed by {}; keys given: {})",
        signed.join(", "), known.join(", ")
    )]
    UnknownKeys {
        /// The ids the signatures name.
        signed: Vec<String>,
        /// The ids of the keys given.
        known: Vec<String>,
    },
}

/// The keys among `keys` whose signatures on `envelope` verify; refused when none does, or when a
/// signature naming one of them fails, so that a changed byte is never passed over in silence.
pub fn verify<'k>(
    envelope: &Envelope,
    keys: &'k [PublicKey],
) -> Result<Vec<&'k PublicKey>, VerifyError> {
    if envelope.signatures.is_empty() {
        return Err(VerifyError::Unsigned);
    }
    let message = pae(&envelope.payload_type, &envelope.payload);
    let mut verified = Vec::new();
    for signature in &envelope.signatures {
        let Some(key) = keys.iter().find(|key| key.keyid == signature.keyid) else {
            continue;
        };
        let good = Ed25519Signature::from_slice(&signature.sig)
            .is_ok_and(|sig| key.key.verify_strict(&message, &sig).is_ok());
        if !good {
            return Err(VerifyError::BadSignature {
                keyid: key.keyid.clone(),
            });
        }
        if !verified.contains(&key) {
            verified.push(key);
        }
    }
    if verified.is_empty() {
        return Err(VerifyError::UnknownKeys {
            signed: envelope
                .signatures
                .iter()
                .map(|s| s.keyid.clone())
                .collect(),
            known: keys.iter().map(|k| k.keyid.clone()).collect(),
        });
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with `openssl genpkey -algorithm ed25519`.
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIHYBjP6zr676VkCjcYMQXrqUlfadDjWqx3h7WkXt3di0\n\
        -----END PRIVATE KEY-----\n";

    #[test]
    fn pae_is_dsse_s() {
        // The example of the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn a_signed_envelope_verifies_and_a_changed_byte_does_not() {
        let keys = SigningKeys::from_pems([("key.pem", KEY)]).unwrap();
        let public: Vec<PublicKey> = keys.public().cloned().collect();
        let envelope = keys.sign(PAYLOAD_TYPE, b"the payload".to_vec());
        assert_eq!(verify(&envelope, &public).unwrap(), vec![&public[0]]);
        let mut changed = envelope.clone();
        changed.payload[0] ^= 1;
        assert_eq!(
            verify(&changed, &public),
            Err(VerifyError::BadSignature {
                keyid: public[0].keyid.clone()
            })
        );
        let mut retyped = envelope;
        retyped.payload_type = "text/plain".into();
        assert!(verify(&retyped, &public).is_err());
    }
}
