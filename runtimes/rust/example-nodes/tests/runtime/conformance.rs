//! What is particular to the Rust runtime: schemas derived with schemars and serde, serde's diagnostics, Rust
//! errors and panics as failures, tables passed between steps in memory, the outbox's batching and
//! `CONDUCTOR_MAX_CONCURRENCY`. What every runtime must do is checked by the conformance kit, which CI runs against
//! this runtime (test/conformance/conformance-kit.test.ts; docs/conformance.md).

use std::io::Cursor;

use crate::common::*;
use arrow_array::Array;

fn schema(port: &pb::Port) -> serde_json::Value {
    serde_json::from_str(&port.schema).unwrap()
}

#[tokio::test]
async fn schemas_ports_and_flags_come_from_the_rust_types() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let types = client
        .list_node_types(pb::ListNodeTypesRequest {})
        .await
        .unwrap()
        .into_inner()
        .node_types;
    let names: Vec<_> = types.iter().map(|t| t.r#type.as_str()).collect();
    assert_eq!(
        names,
        [
            "conformance.echo",
            "conformance.produce",
            "conformance.add",
            "conformance.fail",
            "conformance.throw",
            "conformance.sleep",
            "conformance.report",
            "conformance.crash",
            "conformance.print",
            "conformance.panic",
            "conformance.count",
            "conformance.sum",
            "conformance.scale",
        ]
    );
    let by_name = |name: &str| types.iter().find(|t| t.r#type == name).unwrap();

    let add = by_name("conformance.add");
    let flags = add.flags.unwrap();
    assert!(flags.idempotent && flags.deterministic && !flags.streaming && !flags.cancellable);
    let inputs: Vec<_> = add
        .inputs
        .iter()
        .map(|p| (p.name.as_str(), p.required))
        .collect();
    assert_eq!(inputs, [("a", true), ("b", true)]);
    assert_eq!(add.outputs[0].name, "sum");
    let config: serde_json::Value = serde_json::from_str(&add.config_schema).unwrap();
    assert_eq!(
        config["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(config["properties"]["offset"].is_object());

    assert!(by_name("conformance.sleep").flags.unwrap().cancellable);
    assert!(by_name("conformance.report").flags.unwrap().streaming);
    let echo = by_name("conformance.echo");
    assert_eq!(schema(&echo.inputs[0]), serde_json::json!({}));
    let fail_config: serde_json::Value =
        serde_json::from_str(&by_name("conformance.fail").config_schema).unwrap();
    assert_eq!(
        fail_config["required"],
        serde_json::json!(["message", "retryable"])
    );
}

#[tokio::test]
async fn validate_config_reports_problems_at_dotted_paths() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut validate = async |node_type: &str, config: &str| {
        client
            .validate_config(pb::ValidateConfigRequest {
                node_type: node_type.into(),
                config: Some(json(config)),
            })
            .await
            .unwrap()
            .into_inner()
            .diagnostics
    };
    assert!(
        validate("conformance.sleep", r#"{"ms": 5}"#)
            .await
            .is_empty()
    );

    let missing = validate("conformance.fail", r#"{"retryable": true}"#).await;
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].path, "message");
    assert_eq!(missing[0].severity, pb::diagnostic::Severity::Error as i32);

    let wrong = validate("conformance.sleep", r#"{"ms": "soon"}"#).await;
    assert_eq!(wrong[0].path, "ms");
    assert_eq!(wrong[0].found, "string \"soon\"");
    assert_eq!(wrong[0].expected, "u64");
}

#[tokio::test]
async fn an_arrow_table_with_nulls_survives_a_round_trip_through_two_steps() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(
        5,
        vec![
            step("conformance.produce", r#"{"kind":"arrow"}"#, vec![]),
            step(
                "conformance.echo",
                "{}",
                vec![("value", step_input(0, "value"))],
            ),
        ],
    );
    let mut events = Vec::new();
    while events.len() < 4 {
        events.push(session.next_event().await);
    }
    assert_eq!(
        kinds(&events),
        ["started", "completed", "started", "completed"]
    );
    let steps: Vec<_> = events.iter().map(|e| e.step).collect();
    assert_eq!(steps, [0, 0, 1, 1]);
    let batches = decode_arrow(&completed_outputs(&events)["value"]);
    assert_eq!(batches[0].column(1).null_count(), 1);
    assert_eq!(batches[0].column(2).null_count(), 1);
}

#[tokio::test]
async fn an_ordinary_error_becomes_a_retryable_failure_of_type_error() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let events = run_one(
        &mut client,
        step("conformance.throw", r#"{"message":"it broke"}"#, vec![]),
    )
    .await;
    let failure = failure(&events);
    assert_eq!(failure.message, "it broke");
    assert_eq!(failure.r#type, "error");
    assert!(failure.retryable);
}

#[tokio::test]
async fn a_panic_becomes_a_failure_and_the_runtime_keeps_serving() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let events = run_one(&mut client, step("conformance.panic", "{}", vec![])).await;
    let failure = failure(&events);
    assert_eq!(failure.r#type, "panic");
    assert!(!failure.retryable);
    assert_eq!(failure.message, "boom");
    assert!(
        failure
            .stack
            .contains("node \"panic\" (conformance.panic) panicked")
    );

    let inputs = vec![("a", value_input(json("1"))), ("b", value_input(json("2")))];
    let events = run_one(&mut client, step("conformance.add", "{}", inputs)).await;
    assert_eq!(kinds(&events), ["started", "completed"]);
}

#[tokio::test]
async fn many_invocations_run_at_once_on_one_session() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    let count = 200;
    for id in 0..count {
        session.execute(id, vec![step("conformance.sleep", r#"{"ms":200}"#, vec![])]);
    }
    let mut completed = std::collections::BTreeSet::new();
    while completed.len() < count as usize {
        let event = session.next_event().await;
        if let Some(Kind::Completed(_)) = event.kind {
            completed.insert(event.invocation_id);
        }
        assert!(
            !matches!(event.kind, Some(Kind::Failed(_) | Kind::Rejected(_))),
            "{event:?}"
        );
    }
    assert_eq!(completed.len(), count as usize);
    // 400 events arrived in fewer responses, because ready events are batched.
    assert!(session.responses < 2 * count as usize);
}

#[tokio::test]
async fn conductor_max_concurrency_lowers_the_limit_and_one_more_is_busy() {
    let runtime = Runtime::start_with(CONFORMANCE, &[("CONDUCTOR_MAX_CONCURRENCY", "2")]).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    for id in 1..=3 {
        session.execute(
            id,
            vec![step("conformance.sleep", r#"{"ms":60000}"#, vec![])],
        );
    }
    let events = session.finish(3).await;
    assert_eq!(kinds(&events), ["rejected"]);
    let failure = failure(&events);
    assert_eq!(failure.r#type, "runtime.busy");
    assert!(failure.retryable);
    assert_eq!(events[0].step, 0);
}

fn decode_arrow(value: &pb::Value) -> Vec<arrow_array::RecordBatch> {
    let Some(pb::value::Kind::Arrow(bytes)) = &value.kind else {
        panic!("expected an Arrow value, got {value:?}");
    };
    arrow_ipc::reader::StreamReader::try_new(Cursor::new(bytes.to_vec()), None)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}
