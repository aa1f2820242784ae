//! Signed statements and the SQLite ledger, through the real binary: a statement verified by our
//! `verify` and by an independent Python verifier, a changed amount caught by both; restatements
//! compared with the ledger; the chain walked by `verify-store`, and rows changed, removed and
//! reordered behind the server's back caught; an older store upgraded, a newer one refused.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use base64::Engine;
use prost::Message;
use sla_evaluator::api::pb;
use sla_evaluator::store::schema::MIGRATIONS;

use common::cli::{Files, arg, refused, sla, stdout};
use common::process::Binary;
use common::requests::error_info;
use common::statements::{acme_week, client, evaluate, json, key_pair, keyid_by_openssl};
use common::tools::{run, tool};

/// The README's acme week as it was (15,120 failures: tier 1, 850.00 CNY).
const AS_MEASURED: u64 = 14_410;
/// The same week once late data arrived: 30,000 more failures on the Wednesday.
const WITH_LATE_DATA: u64 = 44_410;

fn python_verifier(response: &Path, public: &Path) -> std::process::Output {
    let mut command = tool("python");
    command.args([
        "tests/python/verify_statement.py",
        arg(response),
        arg(public),
        "proto",
    ]);
    run(command, "")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_answer_verifies_here_and_with_python_and_a_changed_amount_does_not() {
    let files = Files::new();
    let (private, public) = key_pair(files.dir(), "signer");
    let (_, other) = key_pair(files.dir(), "other");
    let signing = Binary::start(&["--signing-key", arg(&private)]);
    let plain = Binary::start(&[]);

    // GetSigningKeys: the key, under the id openssl's DER gives.
    let mut signer = client(signing.endpoint()).await;
    let keys = signer
        .get_signing_keys(pb::GetSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let keyid = keyid_by_openssl(&public);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].keyid, keyid);
    assert_eq!(keys[0].algorithm, "ed25519");
    assert_eq!(
        keys[0].public_key_pem.trim(),
        std::fs::read_to_string(&public).unwrap().trim()
    );

    // Signed, the answer is the unsigned one plus its envelope, whose payload is that answer.
    let mut signed = evaluate(&mut signer, acme_week("", AS_MEASURED, None))
        .await
        .unwrap();
    let unsigned = evaluate(
        &mut client(plain.endpoint()).await,
        acme_week("", AS_MEASURED, None),
    )
    .await
    .unwrap();
    assert!(unsigned.statement.is_none() && unsigned.record.is_none());
    let envelope = signed.statement.clone().unwrap();
    assert_eq!(
        envelope.payload_type,
        "application/vnd.sla.v1.EvaluateResponse+protobuf"
    );
    assert_eq!(envelope.signatures.len(), 1);
    assert_eq!(envelope.signatures[0].keyid, keyid);
    signed.statement = None;
    assert_eq!(signed.encode_to_vec(), unsigned.encode_to_vec());
    assert_eq!(envelope.payload, unsigned.encode_to_vec());
    assert_eq!(signed.months[0].compensation_amount, "850.00");

    let saved = files.write(
        "response.json",
        &json(&pb::EvaluateResponse {
            statement: Some(envelope.clone()),
            ..signed.clone()
        }),
    );
    for keys in [
        vec!["--key", arg(&public)],
        vec!["--target", &signing.addr.to_string()],
    ] {
        let mut args = vec!["verify", arg(&saved)];
        args.extend(keys);
        let said = stdout(sla(&args));
        assert!(
            said.contains(&format!("verified: signed by {keyid}")),
            "{said}"
        );
    }
    let python = python_verifier(&saved, &public);
    assert!(
        python.status.success(),
        "{}{}",
        String::from_utf8_lossy(&python.stdout),
        String::from_utf8_lossy(&python.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&python.stdout).trim(),
        format!("verified {keyid}")
    );

    // A changed amount: the response is no longer the one signed.
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    document["months"][0]["compensationAmount"] = "900.00".into();
    let changed = files.write("changed.json", &document.to_string());
    let said = refused(sla(&["verify", arg(&changed), "--key", arg(&public)]), 1);
    assert!(
        said.contains("NOT VERIFIED")
            && said.contains(
                "months[0].compensationAmount: the file says \"900.00\", the signed \
                              statement \"850.00\""
            ),
        "{said}"
    );
    let python = python_verifier(&changed, &public);
    assert_eq!(python.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&python.stdout).contains("not the one signed"));

    // A changed byte of the payload itself: the signature no longer matches.
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let engine = base64::engine::general_purpose::STANDARD;
    let mut payload = engine
        .decode(document["statement"]["payload"].as_str().unwrap())
        .unwrap();
    let at = payload.len() / 2;
    payload[at] ^= 0x01;
    document["statement"]["payload"] = engine.encode(&payload).into();
    let forged = files.write("forged.json", &document.to_string());
    let said = refused(sla(&["verify", arg(&forged), "--key", arg(&public)]), 1);
    assert!(said.contains("does not match the payload"), "{said}");
    let python = python_verifier(&forged, &public);
    assert_eq!(python.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&python.stdout).contains("does not match the payload"));

    // A key that did not sign it.
    let said = refused(sla(&["verify", arg(&saved), "--key", arg(&other)]), 1);
    assert!(said.contains("no signature is by a key given"), "{said}");
    // An unsigned answer has nothing to verify.
    let bare = files.write("unsigned.json", &json(&unsigned));
    let said = refused(sla(&["verify", arg(&bare), "--key", arg(&public)]), 1);
    assert!(said.contains("carries no signed statement"), "{said}");
}

fn reason(status: &tonic::Status) -> String {
    error_info(status).0
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_records_restatements_and_verify_store_catches_every_tampering() {
    let files = Files::new();
    let (private, public) = key_pair(files.dir(), "signer");
    let db = files.path("ledger.db");
    let url = format!("sqlite:{}", arg(&db));
    let server = Binary::start(&["--signing-key", arg(&private), "--statement-store", &url]);
    let mut service = client(server.endpoint()).await;

    let first = evaluate(&mut service, acme_week("acme", AS_MEASURED, None))
        .await
        .unwrap();
    assert_eq!(first.subscription, "acme");
    assert_eq!(first.record.as_ref().unwrap().id, 1);
    assert!(first.statement.is_some());
    // Without a subscription: signed, not recorded.
    let anonymous = evaluate(&mut service, acme_week("", AS_MEASURED, None))
        .await
        .unwrap();
    assert!(anonymous.record.is_none() && anonymous.statement.is_some());
    let globex = evaluate(&mut service, acme_week("globex", AS_MEASURED, None))
        .await
        .unwrap();
    assert_eq!(globex.record.unwrap().id, 2);
    // The subscription enters the digest.
    assert_ne!(
        first.provenance.as_ref().unwrap().input_digest,
        anonymous.provenance.as_ref().unwrap().input_digest
    );

    // Late data: statement 1 restated, and what changed in the month.
    let reason_text = "late data from the Frankfurt probes";
    let restated = evaluate(
        &mut service,
        acme_week("acme", WITH_LATE_DATA, Some(("1", reason_text))),
    )
    .await
    .unwrap();
    assert_eq!(restated.record.as_ref().unwrap().id, 3);
    let restatement = restated.restatement.clone().unwrap();
    assert_eq!(
        (
            restatement.restates.as_str(),
            restatement.reason.as_str(),
            restatement.earlier_statement_id
        ),
        ("1", reason_text, 1)
    );
    assert_eq!(
        restatement.earlier_input_digest,
        first.provenance.as_ref().unwrap().input_digest
    );
    let month = &restated.months[0];
    let changes = month.restatement.as_ref().unwrap();
    assert_eq!(
        changes.changed,
        [
            pb::MonthFigure::Availability as i32,
            pb::MonthFigure::Tier as i32,
            pb::MonthFigure::Amount as i32
        ]
    );
    let earlier = changes.earlier.as_ref().unwrap();
    assert_eq!(
        (
            earlier.availability_percent.as_str(),
            earlier.tier,
            earlier.compensation_amount.as_str()
        ),
        ("99.3968", 1, "850.00")
    );
    assert_eq!(
        (month.tier, month.compensation_amount.as_str()),
        (2, "2550.00")
    );
    let note = month
        .notes
        .iter()
        .find(|n| n.kind == pb::NoteKind::Restated as i32)
        .unwrap();
    assert_eq!(
        note.text,
        format!(
            "Restates statement 1: {reason_text}. Availability 99.3968% → {}%, tier 1 → 2, amount \
             850.00 → 2550.00.",
            month.availability_percent
        )
    );
    // By input digest, too.
    let digest = first.provenance.as_ref().unwrap().input_digest.clone();
    let by_digest = evaluate(
        &mut service,
        acme_week(
            "acme",
            WITH_LATE_DATA,
            Some((&digest, "the same, by digest")),
        ),
    )
    .await
    .unwrap();
    assert_eq!(by_digest.restatement.unwrap().earlier_statement_id, 1);

    // Refusals.
    let unknown = evaluate(
        &mut service,
        acme_week("acme", AS_MEASURED, Some(("99", "why"))),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (unknown.code(), reason(&unknown)),
        (tonic::Code::NotFound, "STATEMENT_NOT_FOUND".into())
    );
    let other = evaluate(
        &mut service,
        acme_week("acme", AS_MEASURED, Some(("2", "why"))),
    )
    .await
    .unwrap_err();
    assert_eq!(other.code(), tonic::Code::InvalidArgument);
    assert!(
        other.message().contains("made for subscription 'globex'"),
        "{}",
        other.message()
    );
    let unexplained = evaluate(
        &mut service,
        acme_week("acme", AS_MEASURED, Some(("1", ""))),
    )
    .await
    .unwrap_err();
    assert_eq!(unexplained.code(), tonic::Code::InvalidArgument);
    assert!(
        unexplained
            .message()
            .contains("spec.restatement_reason is empty")
    );

    // ListStatements: newest first, paged; GetStatement: the answer as it was given.
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = service
            .list_statements(pb::ListStatementsRequest {
                subscription: "acme".into(),
                page_size: 2,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        ids.extend(page.statements.iter().map(|s| s.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(ids, [4, 3, 1]);
    let got = service
        .get_statement(pb::GetStatementRequest { id: 1 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.response.as_ref(), Some(&first));
    assert_eq!(got.months[0].compensation_amount, "850.00");
    assert_eq!(got.keyids, [keyid_by_openssl(&public)]);
    let missing = service
        .get_statement(pb::GetStatementRequest { id: 40 })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // The month's history on the command line, from the server and from the file alike.
    let history = |source: [&str; 2]| {
        stdout(sla(&[
            "statements",
            "list",
            "--subscription",
            "acme",
            "--month",
            "2026-03",
            "--format",
            "table",
            source[0],
            source[1],
        ]))
    };
    let table = history(["--target", &server.addr.to_string()]);
    assert_eq!(table, history(["--statement-store", &url]));
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].starts_with("statement"), "{table}");
    assert!(
        rows[1].starts_with("4 ") && rows[1].contains("no figure changed"),
        "{table}"
    );
    assert!(
        rows[2].starts_with("3 ")
            && rows[2].contains("tier 1 → 2, amount 850.00 → 2550.00")
            && rows[2].contains(&format!("statement 1: {reason_text}")),
        "{table}"
    );
    assert!(
        rows[3].starts_with("1 ") && rows[3].contains("first statement"),
        "{table}"
    );
    let shown = stdout(sla(&[
        "statements",
        "show",
        "3",
        "--target",
        &server.addr.to_string(),
    ]));
    let shown_path = files.write("statement-3.json", &shown);
    let said = stdout(sla(&["verify", arg(&shown_path), "--key", arg(&public)]));
    assert!(said.contains("statement 3 for acme"), "{said}");

    // The claim report and the table say what was restated, and why.
    let restated_path = files.write("restated.json", &json(&restated));
    let page = stdout(sla(&["render", arg(&restated_path)]));
    assert!(
        page.contains("Restates") && page.contains(reason_text),
        "no restatement in the page"
    );
    assert!(page.contains("850.00 → 2550.00"));

    // The chain is whole, and every signature holds.
    let said = stdout(sla(&["verify-store", &url, "--key", arg(&public)]));
    assert!(
        said.contains("4 statements, chain intact")
            && said.contains("4 signed statements verified"),
        "{said}"
    );

    // The store refuses changes itself...
    let ledger = rusqlite::Connection::open(&db).unwrap();
    let refused_update = ledger
        .execute(
            "UPDATE sla_statements SET restatement_reason = 'x' WHERE id = 3",
            [],
        )
        .unwrap_err();
    assert!(
        refused_update.to_string().contains("append-only"),
        "{refused_update}"
    );
    // ...and whatever gets past that is caught: each on a copy of the ledger.
    let tampered = |name: &str, sql: &str| -> String {
        let copy = files.path(name);
        ledger.execute("VACUUM INTO ?1", [arg(&copy)]).unwrap();
        let connection = rusqlite::Connection::open(&copy).unwrap();
        connection
            .execute_batch(&format!(
                "DROP TRIGGER sla_statements_no_update; DROP TRIGGER sla_statements_no_delete; {sql}"
            ))
            .unwrap();
        drop(connection);
        refused(sla(&["verify-store", &format!("sqlite:{}", arg(&copy))]), 1)
    };
    let said = tampered(
        "changed.db",
        "UPDATE sla_statements SET response = CAST(replace(CAST(response AS TEXT), '850.00', \
         '950.00') AS BLOB) WHERE id = 1",
    );
    assert!(
        said.contains("statement 1 was changed after it was recorded"),
        "{said}"
    );
    let said = tampered("removed.db", "DELETE FROM sla_statements WHERE id = 2");
    assert!(said.contains("statement 2 is missing"), "{said}");
    let said = tampered(
        "reordered.db",
        "UPDATE sla_statements SET id = -2 WHERE id = 2; \
         UPDATE sla_statements SET id = 2 WHERE id = 3; \
         UPDATE sla_statements SET id = 3 WHERE id = -2",
    );
    assert!(said.contains("statement 2 was changed"), "{said}");
    let said = tampered("truncated.db", "DELETE FROM sla_statements WHERE id = 4");
    assert!(
        said.contains("the chain ends at statement 3 but its head names statement 4"),
        "{said}"
    );

    // A row edited behind the running server's back, in the ledger it writes.
    ledger
        .execute_batch(
            "DROP TRIGGER sla_statements_no_update; \
             UPDATE sla_statements SET subscription = 'acme-2' WHERE id = 2",
        )
        .unwrap();
    let said = refused(sla(&["verify-store", &url]), 1);
    assert!(said.contains("BROKEN: statement 2 was changed"), "{said}");
    // The server goes on appending after it (the chain's check is verify-store's job).
    let after = evaluate(&mut service, acme_week("acme", AS_MEASURED, None))
        .await
        .unwrap();
    assert_eq!(after.record.unwrap().id, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_store_is_upgraded_and_a_newer_one_refused_with_its_versions() {
    let files = Files::new();
    // A store as version 1 wrote it.
    let old = files.path("v1.db");
    let connection = rusqlite::Connection::open(&old).unwrap();
    connection
        .execute_batch(&format!(
            "CREATE TABLE sla_schema (version INTEGER NOT NULL); INSERT INTO sla_schema VALUES (1); {}",
            MIGRATIONS[0].sqlite
        ))
        .unwrap();
    drop(connection);
    let url = format!("sqlite:{}", arg(&old));
    let server = Binary::start(&["--statement-store", &url]);
    server.log_line(|line| {
        line.contains("statement store upgraded") && line.contains("\"version\":2")
    });
    let answer = evaluate(
        &mut client(server.endpoint()).await,
        acme_week("acme", AS_MEASURED, None),
    )
    .await
    .unwrap();
    assert_eq!(answer.record.unwrap().id, 1);
    let connection = rusqlite::Connection::open(&old).unwrap();
    let versions: Vec<u32> = connection
        .prepare("SELECT version FROM sla_schema ORDER BY version")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, [1, 2]);
    let guarded = connection
        .execute("DELETE FROM sla_statements", [])
        .unwrap_err();
    assert!(guarded.to_string().contains("append-only"));
    let said = stdout(sla(&["verify-store", &url]));
    assert!(said.contains("1 statements, chain intact"), "{said}");

    // A store from a newer sla-evaluator: the server does not start, and says why.
    connection
        .execute("INSERT INTO sla_schema VALUES (99)", [])
        .unwrap();
    drop(connection);
    let output = common::cli::output(sla(&[
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "off",
        "--statement-store",
        &url,
    ]));
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("has schema version 99, newer than the 2 this sla-evaluator"),
        "{said}"
    );
    let said = refused(sla(&["verify-store", &url]), 1);
    assert!(said.contains("schema version 99"), "{said}");
}

#[test]
fn evaluate_in_process_signs_and_records_each_subscription_under_its_name() {
    let files = Files::new();
    let (private, public) = key_pair(files.dir(), "cli");
    let buckets = files.write(
        "buckets.csv",
        "subscription,start,duration_seconds,total,failed\n\
         acme,2026-03-02T00:00:00+08:00,86400,412000,180\n\
         globex,2026-03-02T00:00:00+08:00,86400,52300,4\n",
    );
    let url = format!("sqlite:{}", arg(&files.path("cli.db")));
    let evaluated = stdout(sla(&[
        "evaluate",
        "--policy",
        "tencent-ccc-cn",
        "--term",
        "2026-03-02..2026-03-08",
        "--as-of",
        "2026-04-01T00:00:00Z",
        "--statement-store",
        &url,
        "--signing-key",
        arg(&private),
        "--format",
        "json",
        arg(&buckets),
    ]));
    let saved = files.write("evaluated.json", &evaluated);
    let said = stdout(sla(&["verify", arg(&saved), "--key", arg(&public)]));
    assert!(
        said.contains("[acme]: verified") && said.contains("[globex]: verified"),
        "{said}"
    );
    for (subscription, id) in [("acme", "1"), ("globex", "2")] {
        let listed = stdout(sla(&[
            "statements",
            "list",
            "--subscription",
            subscription,
            "--statement-store",
            &url,
            "--format",
            "jsonl",
        ]));
        let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(listed["statements"][0]["id"], id, "{listed}");
        assert_eq!(listed["statements"][0]["subscription"], subscription);
    }
    let said = stdout(sla(&["verify-store", &url, "--key", arg(&public)]));
    assert!(said.contains("2 statements, chain intact"), "{said}");
    // --target answers on a server, which signs and records with its own.
    let said = refused(
        sla(&[
            "evaluate",
            "--target",
            "127.0.0.1:1",
            "--statement-store",
            &url,
            arg(&buckets),
        ]),
        2,
    );
    assert!(said.contains("cannot be used with"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_ledger_a_restatement_is_echoed_unchecked_and_malformed_ones_are_refused() {
    let server = common::server::TestServer::start();
    let answer = common::requests::evaluate(
        &server,
        acme_week("acme", WITH_LATE_DATA, Some(("41", "late data"))),
    )
    .await
    .unwrap();
    assert!(answer.record.is_none() && answer.statement.is_none());
    assert_eq!(answer.subscription, "acme");
    let restatement = answer.restatement.unwrap();
    assert_eq!(
        (
            restatement.restates.as_str(),
            restatement.earlier_statement_id
        ),
        ("41", 0)
    );
    let month = &answer.months[0];
    let changes = month.restatement.as_ref().unwrap();
    assert!(changes.earlier.is_none() && changes.changed.is_empty());
    assert!(
        month
            .notes
            .iter()
            .any(|n| n.kind == pb::NoteKind::Restated as i32
                && n.text
                    == "Restates statement 41: late data. The earlier statement is not in this \
                     server's ledger, so its figures are not compared.")
    );

    let mut client = server.client().await;
    let keys = client
        .get_signing_keys(pb::GetSigningKeysRequest {})
        .await
        .unwrap();
    assert!(keys.into_inner().keys.is_empty());
    let listing = client
        .list_statements(pb::ListStatementsRequest {
            subscription: "acme".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (listing.code(), reason(&listing)),
        (tonic::Code::FailedPrecondition, "NO_STATEMENT_STORE".into())
    );

    for (subscription, restates, why, field) in [
        ("acme\nprod", "", "", "spec.subscription"),
        ("acme", "sha256:xyz", "late data", "spec.restates"),
        ("acme", "041", "late data", "spec.restates"),
        ("acme", "", "late data", "spec.restatement_reason"),
    ] {
        let mut messages = acme_week(subscription, AS_MEASURED, None);
        if let Some(pb::evaluate_request::Item::Spec(spec)) = &mut messages[0].item {
            spec.restates = restates.into();
            spec.restatement_reason = why.into();
        }
        let refused = common::requests::evaluate(&server, messages)
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            tonic::Code::InvalidArgument,
            "{}",
            refused.message()
        );
        assert_eq!(
            error_info(&refused).1["field"],
            field,
            "{}",
            refused.message()
        );
    }
}
