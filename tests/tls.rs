//! TLS and mutual TLS, with certificates made at test time: a client with a valid certificate
//! works, one without a certificate or with one from another CA is refused, and plaintext health
//! stays reachable for probes.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use common::server::{Setup, TestServer};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use sla_evaluator::api::pb::{self, sla_evaluator_client::SlaEvaluatorClient};
use sla_evaluator::server::TlsOptions;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// A CA that signs certificates.
struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM.
struct Leaf {
    certificate: String,
    key: String,
}

impl Authority {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Authority {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn sign(&self, name: &str, usage: ExtendedKeyUsagePurpose) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        }
    }
}

struct Pki {
    ca: Authority,
    server: Leaf,
    client: Leaf,
    stranger: Leaf,
}

fn pki() -> Pki {
    let ca = Authority::new("sla-evaluator test CA");
    let other = Authority::new("some other CA");
    Pki {
        server: ca.sign("localhost", ExtendedKeyUsagePurpose::ServerAuth),
        client: ca.sign("billing-service", ExtendedKeyUsagePurpose::ClientAuth),
        stranger: other.sign("billing-service", ExtendedKeyUsagePurpose::ClientAuth),
        ca,
    }
}

fn start(pki: &Pki, mutual: bool) -> TestServer {
    let mut setup = Setup {
        health_listener: true,
        ..Setup::default()
    };
    setup.options.tls = Some(TlsOptions {
        certificate: pki.server.certificate.clone().into_bytes(),
        key: pki.server.key.clone().into_bytes(),
        client_ca: mutual.then(|| pki.ca.pem().into_bytes()),
    });
    TestServer::build(setup)
}

async fn tls_channel(
    addr: SocketAddr,
    ca: &str,
    identity: Option<&Leaf>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some(leaf) = identity {
        tls = tls.identity(Identity::from_pem(&leaf.certificate, &leaf.key));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

/// Whether a ListPolicies call gets through, connection problems included.
async fn served(channel: Result<Channel, tonic::transport::Error>) -> bool {
    match channel {
        Ok(channel) => SlaEvaluatorClient::new(channel)
            .list_policies(pb::ListPoliciesRequest {})
            .await
            .is_ok(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn mutual_tls_admits_only_clients_of_the_configured_ca() {
    let pki = pki();
    let server = start(&pki, true);
    let ca = pki.ca.pem();

    let channel = tls_channel(server.addr, &ca, Some(&pki.client))
        .await
        .expect("a valid client connects");
    let mut client = SlaEvaluatorClient::new(channel);
    let policies = client
        .list_policies(pb::ListPoliciesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        policies.policies.len(),
        sla_evaluator::policy::PolicySet::built_in().unwrap().len()
    );

    assert!(
        !served(tls_channel(server.addr, &ca, None).await).await,
        "a client without a certificate got in"
    );
    assert!(
        !served(tls_channel(server.addr, &ca, Some(&pki.stranger)).await).await,
        "a certificate from another CA got in"
    );
    let plaintext = Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await;
    assert!(!served(plaintext).await, "a plaintext client got in");
    // The valid client's connection was not disturbed by the others.
    assert!(
        client
            .list_policies(pb::ListPoliciesRequest {})
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn plaintext_health_serves_probes_beside_tls() {
    let pki = pki();
    let server = start(&pki, true);
    let health_addr = server.health_addr.expect("a health listener");
    let channel = Endpoint::from_shared(format!("http://{health_addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "sla.v1.SlaEvaluator"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status.status, ServingStatus::Serving as i32);
    }
    // Only health lives there: the SLA service needs the TLS listener.
    let status = SlaEvaluatorClient::new(channel)
        .list_policies(pb::ListPoliciesRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn server_only_tls_admits_clients_without_certificates() {
    let pki = pki();
    let server = start(&pki, false);
    assert!(served(tls_channel(server.addr, &pki.ca.pem(), None).await).await);
}

#[test]
fn the_binary_reads_its_tls_files_from_flags() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (cert, key, ca) = (
        write("server.pem", &pki.server.certificate),
        write("server.key", &pki.server.key),
        write("ca.pem", &pki.ca.pem()),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_sla-evaluator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--health-listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "off",
            "--log-format",
            "json",
        ])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("SLA_TLS_CLIENT_CA", &ca)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let log: serde_json::Value = loop {
        let line: serde_json::Value =
            serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        if line["fields"]["listen"].is_string() {
            break line;
        }
    };
    assert_eq!(log["fields"]["mutual_tls"], true);
    let addr: SocketAddr = log["fields"]["listen"].as_str().unwrap().parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (with_cert, without) = runtime.block_on(async {
        let ca = pki.ca.pem();
        (
            served(tls_channel(addr, &ca, Some(&pki.client)).await).await,
            served(tls_channel(addr, &ca, None).await).await,
        )
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        with_cert && !without,
        "with a certificate: {with_cert}, without: {without}"
    );
}
