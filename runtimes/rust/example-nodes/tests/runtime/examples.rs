//! The example runtime, plus an opt-in latency measurement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};

fn arrow(batch: &RecordBatch) -> pb::Value {
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    pb::Value {
        kind: Some(pb::value::Kind::Arrow(writer.into_inner().unwrap().into())),
    }
}

#[tokio::test]
async fn hash_digests_raw_bytes_and_strings() {
    let runtime = Runtime::start(EXAMPLES).await;
    let mut client = runtime.client().await;
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    for data in [raw(b"abc"), json("\"abc\"")] {
        let events = run_one(
            &mut client,
            step("rs.hash", "{}", vec![("data", value_input(data))]),
        )
        .await;
        assert_eq!(as_json(&completed_outputs(&events)["digest"]), abc);
    }
    let events = run_one(
        &mut client,
        step("rs.hash", "{}", vec![("data", value_input(json("3")))]),
    )
    .await;
    assert_eq!(failure(&events).r#type, "input.invalid");
}

#[tokio::test]
async fn regex_extract_returns_matches_and_named_groups() {
    let runtime = Runtime::start(EXAMPLES).await;
    let mut client = runtime.client().await;
    let config = r#"{"pattern":"(?P<key>\\w+)=(?P<value>\\d+)?"}"#;
    let text = value_input(json("\"a=1 b= c=33\""));
    let events = run_one(
        &mut client,
        step("rs.regex-extract", config, vec![("text", text)]),
    )
    .await;
    let outputs = completed_outputs(&events);
    assert_eq!(
        as_json(&outputs["matches"]),
        serde_json::json!(["a=1", "b=", "c=33"])
    );
    assert_eq!(
        as_json(&outputs["groups"]),
        serde_json::json!([
            {"key": "a", "value": "1"},
            {"key": "b", "value": null},
            {"key": "c", "value": "33"}
        ])
    );

    let diagnostics = client
        .validate_config(pb::ValidateConfigRequest {
            node_type: "rs.regex-extract".into(),
            config: Some(json(r#"{"pattern":"(unclosed"}"#)),
        })
        .await
        .unwrap()
        .into_inner()
        .diagnostics;
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].path, "pattern");
    assert!(
        diagnostics[0]
            .message
            .starts_with("invalid regular expression")
    );
}

#[tokio::test]
async fn stats_describes_every_numeric_column_of_a_table() {
    let runtime = Runtime::start(EXAMPLES).await;
    let mut client = runtime.client().await;
    let columns: [(&str, ArrayRef); 3] = [
        (
            "n",
            Arc::new(Int32Array::from(vec![
                Some(2),
                None,
                Some(4),
                Some(4),
                Some(5),
            ])),
        ),
        (
            "x",
            Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0])),
        ),
        (
            "label",
            Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e"])),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let events = run_one(
        &mut client,
        step(
            "rs.stats",
            "{}",
            vec![("table", value_input(arrow(&batch)))],
        ),
    )
    .await;
    let outputs = completed_outputs(&events);
    let stats = as_json(&outputs["stats"]);
    assert_eq!(as_json(&outputs["rows"]), 5);
    assert_eq!(stats["n"]["count"], 4);
    assert_eq!(stats["n"]["null_count"], 1);
    assert_eq!(stats["n"]["min"], 2);
    assert_eq!(stats["n"]["max"], 5);
    assert_eq!(stats["n"]["mean"], 3.75);
    let stddev = stats["x"]["stddev"].as_f64().unwrap();
    assert!((stddev - 2.5f64.sqrt()).abs() < 1e-12, "{stddev}");
    assert!(stats.get("label").is_none());

    let types = client
        .list_node_types(pb::ListNodeTypesRequest {})
        .await
        .unwrap()
        .into_inner()
        .node_types;
    let stats_type = types.iter().find(|t| t.r#type == "rs.stats").unwrap();
    let schema: serde_json::Value = serde_json::from_str(&stats_type.inputs[0].schema).unwrap();
    assert_eq!(schema["x-conductor-encoding"], "arrow");
}

fn chain(length: u32) -> Vec<pb::Step> {
    (0..length)
        .map(|index| {
            let input = if index == 0 {
                value_input(json("0"))
            } else {
                step_input(index - 1, "y")
            };
            step("rs.add-one", "{}", vec![("x", input)])
        })
        .collect()
}

async fn run_chain(session: &mut Session, invocation_id: u64, length: u32) -> Vec<pb::Event> {
    session.execute(invocation_id, chain(length));
    let mut events = Vec::with_capacity(2 * length as usize);
    loop {
        let event = session.next_event().await;
        let last = event.step + 1 == length && matches!(event.kind, Some(Kind::Completed(_)));
        let failed = ends_invocation(&event);
        events.push(event);
        if last || failed {
            return events;
        }
    }
}

#[tokio::test]
async fn a_ten_step_add_one_chain_counts_to_ten_in_one_round_trip() {
    let runtime = Runtime::start(EXAMPLES).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    let events = run_chain(&mut session, 1, 10).await;
    assert_eq!(events.len(), 20);
    assert_eq!(as_json(&completed_outputs(&events)["y"]), 10);
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Prints the numbers the README reports; run with
/// `cargo test --release --test runtime -- --ignored --nocapture`.
#[tokio::test(flavor = "current_thread")]
#[ignore = "a measurement, not a test: run it on purpose"]
async fn measure_cold_start_and_dispatch_latency() {
    let mut cold = Vec::new();
    for _ in 0..10 {
        let began = Instant::now();
        let runtime = Runtime::start(EXAMPLES).await;
        let mut client = runtime.client().await;
        client
            .handshake(pb::HandshakeRequest {
                host_version: "bench".into(),
                abi_versions: vec![1],
                features: vec![],
            })
            .await
            .unwrap();
        cold.push(began.elapsed());
    }
    println!(
        "cold start (spawn -> line -> Handshake answered): median {:?}",
        median(&mut cold)
    );

    let runtime = Runtime::start(EXAMPLES).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    for (length, rounds) in [(1u32, 5000u64), (10, 3000)] {
        let mut samples = Vec::with_capacity(rounds as usize);
        for id in 0..rounds {
            let began = Instant::now();
            let events = run_chain(&mut session, u64::from(length) * 1_000_000 + id, length).await;
            samples.push(began.elapsed());
            assert_eq!(events.len(), 2 * length as usize);
        }
        samples.drain(..rounds as usize / 10);
        println!(
            "{length}-step rs.add-one invocation round trip: median {:?}",
            median(&mut samples)
        );
    }

    let in_flight = 64u64;
    let total = 20_000u64;
    let began = Instant::now();
    let mut next = 0;
    let mut done = 0;
    while next < in_flight {
        session.execute(10_000_000 + next, chain(1));
        next += 1;
    }
    while done < total {
        let event = session.next_event().await;
        if let Some(Kind::Completed(_)) = event.kind {
            done += 1;
            if next < total {
                session.execute(10_000_000 + next, chain(1));
                next += 1;
            }
        }
    }
    let elapsed = began.elapsed();
    println!(
        "throughput with {in_flight} in flight: {:.0} invocations/s",
        total as f64 / elapsed.as_secs_f64()
    );
}
