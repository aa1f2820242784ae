//! How a PostgreSQL URL asks to be reached: in the clear, or over TLS with the server's
//! certificate verified.
//!
//! tokio-postgres reads `sslmode` as `disable`, `prefer` or `require`, and knows neither libpq's
//! `verify-ca`/`verify-full` nor `sslrootcert`; so both are read here and taken out of the URL it
//! is given. With TLS the server's certificate is always verified, chain and host name, against
//! `sslrootcert` (a PEM file of CA certificates) or, without it, the public web roots: a ledger of
//! money owed is not written to a server that could be anyone. `prefer` and `allow` are read as
//! `disable`, since a TLS that falls back in silence protects nothing; name `require` for TLS.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// A PostgreSQL URL taken apart: what tokio-postgres is given, and the TLS to reach it with.
pub(super) struct Target {
    /// The URL without `sslrootcert`, its `sslmode` one tokio-postgres reads.
    pub(super) url: String,
    /// The TLS client, when the URL asks for TLS.
    pub(super) tls: Option<ClientConfig>,
}

/// The URL's TLS settings, or why they cannot be used.
pub(super) fn target(url: &str) -> Result<Target, String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(Target {
            url: url.to_string(),
            tls: None,
        });
    };
    let mut mode = None;
    let mut root_file = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = Some(value.to_string()),
            "sslrootcert" => {
                root_file = Some(
                    percent_encoding::percent_decode_str(value)
                        .decode_utf8()
                        .map_err(|_| format!("sslrootcert '{value}' is not UTF-8"))?
                        .into_owned(),
                );
            }
            _ => kept.push(pair.to_string()),
        }
    }
    let tls = match mode.as_deref() {
        None | Some("disable" | "allow" | "prefer") => false,
        Some("require" | "verify-ca" | "verify-full") => true,
        Some(other) => {
            return Err(format!(
                "sslmode '{other}' is none of disable, allow, prefer, require, verify-ca, \
                 verify-full"
            ));
        }
    };
    kept.push(format!(
        "sslmode={}",
        if tls { "require" } else { "disable" }
    ));
    let tls = match (tls, root_file) {
        (false, Some(_)) => {
            return Err("sslrootcert needs sslmode=require or verify-full".to_string());
        }
        (false, None) => None,
        (true, root_file) => Some(client_config(root_file.as_deref())?),
    };
    Ok(Target {
        url: format!("{base}?{}", kept.join("&")),
        tls,
    })
}

/// A TLS client that trusts the CA certificates in `root_file`, or the public web roots.
fn client_config(root_file: Option<&str>) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    match root_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|error| format!("sslrootcert '{path}' cannot be read: {error}"))?;
            for certificate in CertificateDer::pem_slice_iter(&pem) {
                let certificate = certificate.map_err(|error| {
                    format!("sslrootcert '{path}' is not a PEM certificate file: {error}")
                })?;
                roots.add(certificate).map_err(|error| {
                    format!("sslrootcert '{path}' holds a certificate that cannot be used: {error}")
                })?;
            }
            if roots.is_empty() {
                return Err(format!("sslrootcert '{path}' holds no certificate"));
            }
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_tls_settings_goes_in_the_clear() {
        let plain = target("postgres://u@h/db").unwrap();
        assert_eq!(plain.url, "postgres://u@h/db");
        assert!(plain.tls.is_none());
        let prefer = target("postgres://u@h/db?sslmode=prefer&application_name=x").unwrap();
        assert_eq!(
            prefer.url,
            "postgres://u@h/db?application_name=x&sslmode=disable"
        );
        assert!(prefer.tls.is_none());
    }

    #[test]
    fn require_and_verify_full_verify_against_the_web_roots() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let tls = target(&format!("postgres://u@h/db?sslmode={mode}")).unwrap();
            assert_eq!(tls.url, "postgres://u@h/db?sslmode=require");
            assert!(tls.tls.is_some());
        }
    }

    #[test]
    fn mistakes_are_named() {
        let error = |url: &str| target(url).err().unwrap();
        assert!(error("postgres://h/db?sslmode=always").contains("sslmode 'always'"));
        assert!(error("postgres://h/db?sslrootcert=/ca.pem").contains("needs sslmode=require"));
        assert!(
            error("postgres://h/db?sslmode=require&sslrootcert=/nonexistent%20ca.pem")
                .contains("sslrootcert '/nonexistent ca.pem' cannot be read")
        );
    }
}
