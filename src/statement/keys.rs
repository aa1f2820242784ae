//! Ed25519 keys as PKCS#8 PEM files, and their ids.
//!
//! A key's id is derived from the key, never configured: `sha256:` and the SHA-256 of its public
//! key's SubjectPublicKeyInfo in DER. Anyone holding the public key computes the same id with
//! `openssl pkey -pubin -in key.pub -outform DER | sha256sum`, no two keys share one, and rotating a
//! key changes its id by itself.

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Why a key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("{source_name}: {error}")]
    Read {
        /// The file.
        source_name: String,
        /// Why.
        error: std::io::Error,
    },
    /// The text is not an Ed25519 key in PKCS#8 (private) or SubjectPublicKeyInfo (public) PEM.
    #[error(
        "{source_name}: not an Ed25519 {kind} key in PEM ({error}); make one with `openssl genpkey \
         -algorithm ed25519 -out key.pem`"
    )]
    Format {
        /// The file, or what the text came from.
        source_name: String,
        /// `private` or `public`.
        kind: &'static str,
        /// What the decoder said.
        error: String,
    },
    /// The same key given twice.
    #[error("{source_name}: the key {keyid} was already given")]
    Repeated {
        /// The file given second.
        source_name: String,
        /// The key's id.
        keyid: String,
    },
}

/// A public key and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// `sha256:` and the SHA-256 of the key's SubjectPublicKeyInfo DER.
    pub keyid: String,
    /// The key.
    pub key: VerifyingKey,
    /// The key as SubjectPublicKeyInfo PEM, as GetSigningKeys hands it out.
    pub pem: String,
}

impl PublicKey {
    /// The public half of `key`, with its id.
    pub fn of(key: VerifyingKey) -> PublicKey {
        let der = key
            .to_public_key_der()
            .expect("an Ed25519 public key always encodes");
        let pem = key
            .to_public_key_pem(LineEnding::LF)
            .expect("an Ed25519 public key always encodes");
        let hex: String = Sha256::digest(der.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        PublicKey {
            keyid: format!("sha256:{hex}"),
            key,
            pem,
        }
    }

    /// A public key from PEM: a public key (`BEGIN PUBLIC KEY`), or a private key
    /// (`BEGIN PRIVATE KEY`) whose public half is taken. `source_name` names it in errors.
    pub fn from_pem(source_name: &str, pem: &str) -> Result<PublicKey, KeyError> {
        if pem.contains("PRIVATE KEY") {
            return private_key(source_name, pem).map(|key| PublicKey::of(key.verifying_key()));
        }
        VerifyingKey::from_public_key_pem(pem.trim())
            .map(PublicKey::of)
            .map_err(|error| KeyError::Format {
                source_name: source_name.to_string(),
                kind: "public",
                error: error.to_string(),
            })
    }

    /// [`PublicKey::from_pem`] on a file's text.
    pub fn from_file(path: &std::path::Path) -> Result<PublicKey, KeyError> {
        let name = path.display().to_string();
        PublicKey::from_pem(&name, &read(&name, path)?)
    }
}

fn read(name: &str, path: &std::path::Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|error| KeyError::Read {
        source_name: name.to_string(),
        error,
    })
}

fn private_key(source_name: &str, pem: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|error| KeyError::Format {
        source_name: source_name.to_string(),
        kind: "private",
        error: error.to_string(),
    })
}

/// The keys a process signs with, in the order given: every statement carries one signature of
/// each, so that during a rotation verifiers holding either the old or the new key accept it.
#[derive(Clone, Default)]
pub struct SigningKeys {
    keys: Vec<(SigningKey, PublicKey)>,
}

impl std::fmt::Debug for SigningKeys {
    /// The ids only: a private key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(_, public)| &public.keyid))
            .finish()
    }
}

impl SigningKeys {
    /// Keys from PKCS#8 PEM texts, each with a name for errors (its file).
    pub fn from_pems<'a>(
        pems: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<SigningKeys, KeyError> {
        let mut keys: Vec<(SigningKey, PublicKey)> = Vec::new();
        for (name, pem) in pems {
            let key = private_key(name, pem)?;
            let public = PublicKey::of(key.verifying_key());
            if keys.iter().any(|(_, known)| known.keyid == public.keyid) {
                return Err(KeyError::Repeated {
                    source_name: name.to_string(),
                    keyid: public.keyid,
                });
            }
            keys.push((key, public));
        }
        Ok(SigningKeys { keys })
    }

    /// Keys from PKCS#8 PEM files.
    pub fn from_files(paths: &[std::path::PathBuf]) -> Result<SigningKeys, KeyError> {
        let texts = paths
            .iter()
            .map(|path| {
                let name = path.display().to_string();
                read(&name, path).map(|text| (name, text))
            })
            .collect::<Result<Vec<_>, _>>()?;
        SigningKeys::from_pems(texts.iter().map(|(n, t)| (n.as_str(), t.as_str())))
    }

    /// No key: nothing is signed.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The public keys, in the order given.
    pub fn public(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.iter().map(|(_, public)| public)
    }

    /// One signature per key over `message`, with the key's id.
    pub(super) fn sign_all(&self, message: &[u8]) -> Vec<(String, Vec<u8>)> {
        self.keys
            .iter()
            .map(|(key, public)| (public.keyid.clone(), key.sign(message).to_bytes().to_vec()))
            .collect()
    }
}
