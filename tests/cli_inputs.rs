//! Careless and hostile files given to `sla-evaluator` as a process: a line with no end, values
//! of a megabyte, a Parquet file claiming gigabytes it does not hold, dates where instants were
//! expected, JSON naming a key twice, and policy files too long to print. Each is refused at once,
//! with its place and a short message, or read as documented; none is read as something else.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::cli::{Files, arg, refused, sla, stdout};
use common::process::Binary;
use common::tools::{succeed, venv};
use serde_json::Value;

const IM_MARCH: [&str; 6] = [
    "--policy",
    "tencent-im",
    "--term",
    "2026-03-02..2026-04-01",
    "--as-of",
    "2026-04-10T00:00:00Z",
];

fn evaluate(extra: &[&str]) -> Command {
    let mut args = vec!["evaluate"];
    args.extend(IM_MARCH);
    args.extend(extra);
    sla(&args)
}

/// A line with no newline is refused once it passes 1 MiB, with its line number, without the
/// rest of it being read: the writer finds the pipe closed long before its 64 MiB are written.
#[test]
fn a_line_past_the_limit_is_refused_at_once_with_its_number() {
    for (format, head) in [
        ("csv", "start,total,failed\n1772416800,5,0\n"),
        (
            "jsonl",
            "{\"start\": 1772416800, \"total\": 5, \"failed\": 0}\n\n",
        ),
    ] {
        let mut child = evaluate(&["--input-format", format, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            let mut written = 0usize;
            if stdin.write_all(head.as_bytes()).is_err() {
                return written;
            }
            let block = vec![b'7'; 64 << 10];
            while written < 64 << 20 {
                if stdin.write_all(&block).is_err() {
                    break;
                }
                written += block.len();
            }
            written
        });
        let output = child.wait_with_output().unwrap();
        let written = writer.join().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{format}: {stderr}");
        assert!(output.stdout.is_empty());
        assert!(
            stderr.contains("-:3: the line runs past 1 MiB"),
            "{format}: {stderr}"
        );
        assert!(stderr.len() < 400, "{format}: {} bytes", stderr.len());
        assert!(
            written < 16 << 20,
            "{format}: {} MiB were read before the refusal",
            written >> 20
        );
    }

    // The same in a file, on the header line.
    let files = Files::new();
    let long = files.write("long.csv", &"x".repeat(3 << 20));
    let stderr = refused(evaluate(&[arg(&long)]), 1);
    assert!(
        stderr.contains("long.csv:1: the line runs past 1 MiB"),
        "{stderr}"
    );
}

/// What a message repeats of a value is at most 128 characters, with how long the value was.
#[test]
fn echoed_values_are_cut() {
    let files = Files::new();
    let big = "y".repeat(900_000);
    let cases = [
        ("header.csv", format!("{big}\n1772416800,5,0\n")),
        (
            "start.csv",
            format!("start,total,failed\n2026-03-02T{big},5,0\n"),
        ),
        (
            "key.jsonl",
            format!("{{\"start\": 1772416800, \"{big}\": 5}}\n"),
        ),
        (
            "value.jsonl",
            format!("{{\"start\": 1772416800, \"total\": \"{big}\", \"failed\": 0}}\n"),
        ),
        (
            "name.csv",
            format!("subscription,start,total,failed\n{big},1772416800,5,9\n"),
        ),
    ];
    for (name, text) in cases {
        let path = files.write(name, &text);
        let stderr = refused(evaluate(&[arg(&path)]), 1);
        assert!(
            stderr.len() < 1_000,
            "{name}: {} bytes: {stderr}",
            stderr.len()
        );
        assert!(stderr.contains(&format!("{name}:")), "{name}: {stderr}");
        assert!(stderr.contains("characters in all"), "{name}: {stderr}");
    }
}

/// Thrift's compact encoding, enough to write a Parquet footer and page headers by hand: every
/// field in its long form (type, then its id), so no field order needs tracking.
#[derive(Default)]
struct Thrift(Vec<u8>);

impl Thrift {
    fn varint(&mut self, mut value: u64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }
    fn zigzag(&mut self, value: i64) {
        self.varint(((value << 1) ^ (value >> 63)) as u64);
    }
    fn field(&mut self, kind: u8, id: i16) -> &mut Self {
        self.0.push(kind);
        self.zigzag(i64::from(id));
        self
    }
    fn i32(&mut self, id: i16, value: i32) -> &mut Self {
        self.field(5, id).zigzag(i64::from(value));
        self
    }
    fn i64(&mut self, id: i16, value: i64) -> &mut Self {
        self.field(6, id).zigzag(value);
        self
    }
    fn string(&mut self, id: i16, value: &str) -> &mut Self {
        self.field(8, id).varint(value.len() as u64);
        self.0.extend_from_slice(value.as_bytes());
        self
    }
    /// A list of `count` elements of compact type `kind`, written next.
    fn list(&mut self, id: i16, kind: u8, count: usize) -> &mut Self {
        self.field(9, id);
        self.0.push(0xf0 | kind);
        self.varint(count as u64);
        self
    }
    fn begin(&mut self, id: i16) -> &mut Self {
        self.field(12, id)
    }
    fn stop(&mut self) -> &mut Self {
        self.0.push(0);
        self
    }
}

/// What a hand-made Parquet file claims about its `start` column.
#[derive(Clone, Copy)]
struct Claims {
    /// The page's size once decompressed, in its header.
    uncompressed: Option<i32>,
    /// The column chunk's compressed size, in the footer.
    chunk: Option<i64>,
}

/// A one-row Parquet file of required INT64 columns start, total and failed, each one Snappy page
/// of PLAIN values; `claims` overrides what the start column's headers say about its sizes.
fn parquet_by_hand(claims: Claims) -> Vec<u8> {
    let values: [(&str, i64); 3] = [("start", 1_772_416_800), ("total", 5), ("failed", 5)];
    let mut file = b"PAR1".to_vec();
    let mut chunks = Vec::new();
    for (index, (_, value)) in values.iter().enumerate() {
        // Snappy: the length, then one literal of eight bytes.
        let mut page = vec![8, (8 - 1) << 2];
        page.extend_from_slice(&value.to_le_bytes());
        let uncompressed = match claims.uncompressed {
            Some(claim) if index == 0 => claim,
            _ => 8,
        };
        let mut header = Thrift::default();
        header
            .i32(1, 0) // DATA_PAGE
            .i32(2, uncompressed)
            .i32(3, page.len() as i32)
            .begin(5)
            .i32(1, 1) // one value
            .i32(2, 0) // PLAIN
            .i32(3, 3) // RLE levels
            .i32(4, 3)
            .stop()
            .stop();
        let offset = file.len() as i64;
        file.extend_from_slice(&header.0);
        file.extend_from_slice(&page);
        let size = (header.0.len() + page.len()) as i64;
        let compressed = match claims.chunk {
            Some(claim) if index == 0 => claim,
            _ => size,
        };
        chunks.push((offset, size, compressed));
    }
    let mut footer = Thrift::default();
    footer.i32(1, 1).list(2, 12, 4);
    footer.string(4, "schema").i32(5, 3).stop();
    for (name, _) in values {
        footer.i32(1, 2).i32(3, 0).string(4, name).stop(); // INT64, REQUIRED
    }
    footer.i64(3, 1).list(4, 12, 1);
    footer.list(1, 12, 3);
    for ((name, _), (offset, size, compressed)) in values.iter().zip(&chunks) {
        footer.i64(2, *offset).begin(3);
        footer.i32(1, 2).list(2, 5, 2).zigzag(0);
        footer.zigzag(3);
        footer.list(3, 8, 1).varint(name.len() as u64);
        footer.0.extend_from_slice(name.as_bytes());
        footer
            .i32(4, 1) // SNAPPY
            .i64(5, 1)
            .i64(6, *size)
            .i64(7, *compressed)
            .i64(9, *offset)
            .stop()
            .stop();
    }
    let total: i64 = chunks.iter().map(|c| c.1).sum();
    footer.i64(2, total).i64(3, 1).stop();
    footer.stop();
    file.extend_from_slice(&footer.0);
    file.extend_from_slice(&(footer.0.len() as u32).to_le_bytes());
    file.extend_from_slice(b"PAR1");
    file
}

/// Runs `evaluate` on a file under a 1 GiB address-space limit: a reader that allocates what a
/// page claims (2 GiB) aborts instead of refusing.
fn evaluate_in_1_gib(path: &std::path::Path) -> std::process::Output {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg("ulimit -v 1048576; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_sla-evaluator"))
        .arg("evaluate")
        .args(IM_MARCH)
        .args(["--format", "json", arg(path)]);
    common::cli::output(shell)
}

/// Sizes a Parquet file claims are checked against the bytes it has before any buffer is sized
/// by them: a page claiming 2 GiB once decompressed, and a footer placing a column past the end.
#[test]
fn parquet_claims_are_bounded_by_the_file() {
    let files = Files::new();
    let honest = files.path("honest.parquet");
    std::fs::write(
        &honest,
        parquet_by_hand(Claims {
            uncompressed: None,
            chunk: None,
        }),
    )
    .unwrap();
    let output = evaluate_in_1_gib(&honest);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["ingest"]["bucketsAccepted"], "1");
    assert_eq!(json["months"][0]["badUnits"], "1");

    for (name, claims, expected) in [
        (
            "page.parquet",
            Claims {
                uncompressed: Some(i32::MAX),
                chunk: None,
            },
            "page.parquet: row group 0, row 0: column `start`: has a page header claiming \
             2147483647 bytes once decompressed from 10",
        ),
        (
            "footer.parquet",
            Claims {
                uncompressed: None,
                chunk: Some(2 << 30),
            },
            "footer.parquet: row group 0's column `start` claims bytes 4..2147483652",
        ),
    ] {
        let path = files.path(name);
        std::fs::write(&path, parquet_by_hand(claims)).unwrap();
        let output = evaluate_in_1_gib(&path);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}

/// A Parquet `DATE` start is the local midnight of that day in the evaluation's zone, as the
/// same days written as instants are; never 20,514 seconds after 1970.
#[test]
fn parquet_dates_start_at_local_midnight() {
    let files = Files::new();
    let days = ["2026-03-02", "2026-03-03", "2026-03-04"];
    let mut python = Command::new(venv().join("bin/python"));
    let parquet = files.path("days.parquet");
    python.arg("-c").arg(format!(
        "import duckdb\n\
         duckdb.connect().execute(\"\"\"COPY (SELECT 'acme' AS subscription, DATE '2026-03-02' + \
         i::INTEGER AS start, 86400::INTEGER AS duration_seconds, 1000::BIGINT AS total, \
         (i * 7)::BIGINT AS failed FROM range(3) t(i)) TO '{}' (FORMAT parquet)\"\"\")\n",
        arg(&parquet)
    ));
    succeed(python, "");
    let run = |zone: &str, input: &std::path::Path| {
        stdout(sla(&[
            "evaluate",
            "--policy",
            "tencent-ccc-cn",
            "--term",
            "2026-03-02..2026-03-08",
            "--zone",
            zone,
            "--as-of",
            "2026-04-01T00:00:00Z",
            "--format",
            "json",
            arg(input),
        ]))
    };
    for (zone, offset) in [("Asia/Shanghai", "+08:00"), ("America/New_York", "-05:00")] {
        let mut csv = String::from("subscription,start,duration_seconds,total,failed\n");
        for (i, day) in days.iter().enumerate() {
            csv.push_str(&format!(
                "acme,{day}T00:00:00{offset},86400,1000,{}\n",
                i * 7
            ));
        }
        let csv = files.write("days.csv", &csv);
        let from_dates = run(zone, &parquet);
        assert_eq!(from_dates, run(zone, &csv), "{zone}");
        let json: Value = serde_json::from_str(&from_dates).unwrap();
        let month = &json[0]["evaluation"]["months"][0];
        assert_eq!(month["badUnits"], "21", "{zone}");
        assert_eq!(json[0]["evaluation"]["ingest"]["bucketsAccepted"], "3");
    }
}

/// A JSON object naming a key twice is refused where it is, as a CSV header naming a column
/// twice is: in bucket files, outages files and spec files.
#[test]
fn json_naming_a_key_twice_is_refused() {
    let files = Files::new();
    let buckets = files.write(
        "dup.jsonl",
        "{\"start\": 1772416800, \"total\": 5, \"failed\": 0}\n\
         {\"start\": 1772416860, \"total\": 5, \"failed\": 0, \"total\": 7}\n",
    );
    let stderr = refused(evaluate(&[arg(&buckets)]), 1);
    assert!(
        stderr.contains("dup.jsonl:2: column `total`: the object names `total` twice"),
        "{stderr}"
    );
    let csv = files.write("good.csv", "start,total,failed\n1772416800,5,0\n");
    let outages = files.write(
        "outages.jsonl",
        "{\"id\": \"a\", \"start\": \"2026-03-02T00:00:00Z\", \"end\": \"2026-03-02T01:00:00Z\"}\n\
         {\"id\": \"b\", \"start\": \"2026-03-03T00:00:00Z\", \"end\": \"2026-03-03T01:00:00Z\", \
         \"id\": \"c\"}\n",
    );
    let stderr = refused(evaluate(&["--outages", arg(&outages), arg(&csv)]), 1);
    assert!(
        stderr.contains("outages.jsonl:2: the object names `id` twice"),
        "{stderr}"
    );
    let spec = files.write(
        "spec.json",
        "{\"policy_id\": \"tencent-im\", \"term_start\": \"2026-03-02\", \"term_end\": \
         \"2026-04-01\", \"policy_id\": \"tencent-sms\"}",
    );
    let stderr = refused(sla(&["evaluate", "--spec", arg(&spec), arg(&csv)]), 1);
    assert!(
        stderr.contains("the object names `policy_id` twice"),
        "{stderr}"
    );
}

/// The built-in IM policy's file.
const IM: &str = include_str!("../policies/tencent-im.toml");

/// `check-policy` refuses ids and names too long to show, where the policy is loaded (so the
/// server refuses them too), instead of panicking while printing its table.
#[test]
fn check_policy_limits_ids_and_names() {
    let files = Files::new();
    let long_id = "a".repeat(65_536);
    for (name, text, expected) in [
        (
            "id.toml",
            IM.replace("id = \"tencent-im\"", &format!("id = \"{long_id}\"")),
            "id has 65536 characters; at most 64 are allowed",
        ),
        (
            "name.toml",
            IM.replace("tencent-im", "custom-im").replace(
                "name = \"Tencent Cloud Instant Messaging (IM)\"",
                &format!("name = \"{}\"", "N".repeat(257)),
            ),
            "name has 257 characters; at most 256 are allowed",
        ),
    ] {
        assert_ne!(text, IM);
        let path = files.write(name, &text);
        let stderr = refused(sla(&["check-policy", arg(&path)]), 1);
        assert!(stderr.contains(&format!("{name}:")), "{stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(stderr.len() < 1_000, "{name}: {} bytes", stderr.len());
        // The server refuses the same directory.
        let dir = files.dir().join(name.replace(".toml", ""));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(name), &text).unwrap();
        let output = common::cli::output(sla(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--policy-dir",
            arg(&dir),
        ]));
        let logged = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{name}: {logged}");
        assert!(logged.contains(expected), "{name}: {logged}");
    }
}

/// A byte-identical copy of a built-in policy in a directory is that version: `check-policy`
/// passes the directory, and the server starts with it and serves the built-in policies alone.
#[test]
fn an_identical_copy_of_a_built_in_policy_is_accepted_by_both() {
    let files = Files::new();
    let dir = files.dir().join("policies");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("im.toml"), IM).unwrap();
    let summary = stdout(sla(&["check-policy", arg(&dir)]));
    assert!(summary.contains("tencent-im"), "{summary}");
    let server = Binary::start(&["--policy-dir", arg(&dir)]);
    let target = server.addr.to_string();
    let listed = stdout(sla(&[
        "policies", "list", "--format", "csv", "--target", &target,
    ]));
    // The copy adds nothing: the server lists the built-in policies alone, as a process does.
    let built_in = stdout(sla(&["policies", "list", "--format", "csv"]));
    assert_eq!(listed, built_in);
    assert!(listed.contains("tencent-im"), "{listed}");
}
