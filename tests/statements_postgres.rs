//! The statement ledger on a real PostgreSQL, started by the test: two servers writing one chain
//! at once (and starting, so migrating, at once), a row edited behind their backs caught by
//! `verify-store`, and an answer that cannot be recorded refused with UNAVAILABLE.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::cli::{Files, arg, refused, sla, stdout};
use common::postgres::Postgres;
use common::process::Binary;
use common::requests::error_info;
use common::statements::{acme_week, client, evaluate, key_pair};

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_writing_one_postgresql_at_once_keep_one_chain() {
    let files = Files::new();
    let (private, public) = key_pair(files.dir(), "fleet");
    let postgres = Postgres::start();
    postgres.create("ledger");
    let url = postgres.url("ledger");
    // Both start at once: the migration runs once, under its advisory lock.
    let starting: Vec<_> = (0..2)
        .map(|_| {
            let (url, key) = (url.clone(), arg(&private).to_string());
            std::thread::spawn(move || {
                Binary::start(&["--statement-store", &url, "--signing-key", &key])
            })
        })
        .collect();
    let servers: Vec<Binary> = starting.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        postgres.sql("ledger", "SELECT max(version) FROM sla_schema"),
        ["2"]
    );

    // 2 × 15 calls at once, alternating servers.
    let mut calls = Vec::new();
    for i in 0..30 {
        let endpoint = servers[i % 2].endpoint();
        calls.push(tokio::spawn(async move {
            let mut client = client(endpoint).await;
            evaluate(
                &mut client,
                acme_week(&format!("sub-{}", i % 6), 14_410 + i as u64, None),
            )
            .await
            .unwrap()
        }));
    }
    let mut ids = BTreeSet::new();
    for call in calls {
        let answer = call.await.unwrap();
        assert!(answer.statement.is_some());
        assert!(
            ids.insert(answer.record.unwrap().id),
            "an id was given twice"
        );
    }
    assert_eq!(ids, (1..=30).collect::<BTreeSet<u64>>());
    let said = stdout(sla(&["verify-store", &url, "--key", arg(&public)]));
    assert!(
        said.contains("30 statements, chain intact")
            && said.contains("30 signed statements verified"),
        "{said}"
    );
    // Either replica lists what the other recorded.
    let listed = client(servers[0].endpoint())
        .await
        .list_statements(sla_evaluator::api::pb::ListStatementsRequest {
            subscription: "sub-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<u64> = listed.statements.iter().map(|s| s.id).collect();
    assert_eq!(listed.len(), 5);
    assert!(
        listed.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {listed:?}"
    );

    // The table refuses changes itself...
    for sql in [
        "UPDATE sla_statements SET restatement_reason = 'x' WHERE id = 7",
        "DELETE FROM sla_statements WHERE id = 30",
        "TRUNCATE sla_statements",
    ] {
        let refusal = postgres.try_sql("ledger", sql).unwrap_err();
        assert!(
            refusal.contains("sla_statements is append-only"),
            "{sql}: {refusal}"
        );
    }
    // ...and a row edited behind the servers' backs, guards disabled, is caught.
    postgres.sql(
        "ledger",
        "ALTER TABLE sla_statements DISABLE TRIGGER USER; \
         UPDATE sla_statements SET policy_id = 'tencent-im' WHERE id = 7; \
         ALTER TABLE sla_statements ENABLE TRIGGER USER",
    );
    let said = refused(sla(&["verify-store", &url]), 1);
    assert!(
        said.contains("BROKEN: statement 7 was changed after it was recorded"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_the_ledger_cannot_record_is_refused_unavailable() {
    let mut postgres = Postgres::start();
    postgres.create("ledger");
    let server = Binary::start(&["--statement-store", &postgres.url("ledger")]);
    let mut service = client(server.endpoint()).await;
    let recorded = evaluate(&mut service, acme_week("acme", 14_410, None))
        .await
        .unwrap();
    assert_eq!(recorded.record.unwrap().id, 1);

    postgres.stop();
    let refused = evaluate(&mut service, acme_week("acme", 14_410, None))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::Unavailable,
        "{}",
        refused.message()
    );
    assert_eq!(error_info(&refused).0, "STATEMENT_STORE_UNAVAILABLE");
    assert!(
        refused.message().contains("nothing was answered"),
        "{}",
        refused.message()
    );
    // What needs no record is still answered.
    let unrecorded = evaluate(&mut service, acme_week("", 14_410, None))
        .await
        .unwrap();
    assert!(unrecorded.record.is_none());
    let listing = service
        .list_statements(sla_evaluator::api::pb::ListStatementsRequest {
            subscription: "acme".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(listing.code(), tonic::Code::Unavailable);
}
