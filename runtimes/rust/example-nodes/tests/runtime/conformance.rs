//! The conformance runtime.

use std::io::Cursor;

use crate::common::*;
use arrow_array::{Array, Float64Array, Int64Array, StringArray};
use tokio::io::AsyncReadExt;
use tonic::Code;

fn schema(port: &pb::Port) -> serde_json::Value {
    serde_json::from_str(&port.schema).unwrap()
}

#[tokio::test]
async fn started_by_hand_it_explains_itself_and_exits_with_status_2() {
    let output = tokio::process::Command::new(CONFORMANCE)
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("this is the Conductor rust runtime (conductor-conformance-runtime "),
        "{stderr}"
    );
    assert!(
        stderr.contains("run `conductor run <blueprint>`"),
        "{stderr}"
    );
    assert!(stderr.contains("CONDUCTOR_REATTACH"), "{stderr}");
}

#[tokio::test]
async fn it_prints_one_handshake_line_and_answers_the_handshake() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let line = &runtime.line;
    assert_eq!(line["conductor"], 1);
    assert_eq!(line["abi"], 1);
    assert_eq!(line["network"], "unix");
    assert_eq!(line["runtime"], "rust");
    assert_eq!(line["pid"], runtime.child.id().unwrap());
    assert!(runtime.address().starts_with(&runtime.dir.0));

    let mut client = runtime.client().await;
    let answer = client
        .handshake(pb::HandshakeRequest {
            host_version: "test".into(),
            abi_versions: vec![1],
            features: vec!["session.steps".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.abi_version, 1);
    let info = answer.runtime.unwrap();
    assert_eq!(
        (info.name.as_str(), info.language.as_str()),
        ("rust", "rust")
    );
    assert_eq!(info.pid, runtime.child.id().unwrap());
    assert_eq!(
        answer.features,
        ["session.steps", "values.arrow", "values.blob"]
    );
    assert_eq!(answer.max_concurrency, 256);
    assert_eq!(answer.max_message_bytes, 67_108_864);
    assert_eq!(answer.schema_hash.len(), 64);
}

#[tokio::test]
async fn it_writes_its_own_abi_version_when_the_host_offers_none_it_speaks() {
    let runtime = Runtime::start_with(CONFORMANCE, &[("CONDUCTOR_ABI_VERSIONS", "3,2")]).await;
    assert_eq!(runtime.line["abi"], 1);
}

#[tokio::test]
async fn calls_without_the_right_token_are_unauthenticated() {
    let runtime = Runtime::start(CONFORMANCE).await;
    for token in ["", "wrong"] {
        let mut client = runtime.client_with_token(token).await;
        let status = client
            .list_node_types(pb::ListNodeTypesRequest {})
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "missing or wrong conductor-token");
    }
}

#[tokio::test]
async fn it_lists_the_kitchen_sink_with_schemas_ports_and_flags() {
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

    let unknown = client
        .validate_config(pb::ValidateConfigRequest {
            node_type: "conformance.nope".into(),
            config: None,
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn echo_returns_json_bytes_and_arrow_unchanged() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let big = r#"{"big":9007199254740993,"s":"héllo ✓"}"#;
    let events = run_one(
        &mut client,
        step(
            "conformance.echo",
            "{}",
            vec![("value", value_input(json(big)))],
        ),
    )
    .await;
    assert_eq!(kinds(&events), ["started", "completed"]);
    assert_eq!(
        as_json(&completed_outputs(&events)["value"]),
        serde_json::from_str::<serde_json::Value>(big).unwrap()
    );
    assert!(
        as_json(&completed_outputs(&events)["value"])
            .to_string()
            .contains("9007199254740993")
    );

    let bytes: Vec<u8> = (0..=255).collect();
    let events = run_one(
        &mut client,
        step(
            "conformance.echo",
            "{}",
            vec![("value", value_input(raw(&bytes)))],
        ),
    )
    .await;
    assert_eq!(completed_outputs(&events)["value"], raw(&bytes));

    let table = produce(&mut client, "arrow").await;
    let events = run_one(
        &mut client,
        step(
            "conformance.echo",
            "{}",
            vec![("value", value_input(table.clone()))],
        ),
    )
    .await;
    assert_eq!(completed_outputs(&events)["value"], table);
}

async fn produce(client: &mut Client, kind: &str) -> pb::Value {
    let config = format!(r#"{{"kind":"{kind}"}}"#);
    let events = run_one(client, step("conformance.produce", &config, vec![])).await;
    completed_outputs(&events).remove("value").unwrap()
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

#[tokio::test]
async fn produce_makes_each_documented_value() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;

    let value = produce(&mut client, "json").await;
    let Some(pb::value::Kind::Json(text)) = &value.kind else {
        panic!()
    };
    assert_eq!(
        std::str::from_utf8(text).unwrap(),
        r#"{"string":"héllo ✓","integer":42,"big":9007199254740993,"float":1.5,"boolean":true,"null":null,"list":[1,"two",3.5],"nested":{"a":{"b":[]}}}"#
    );

    assert_eq!(
        produce(&mut client, "bytes").await,
        raw(&(0..=255).collect::<Vec<u8>>())
    );

    let batches = decode_arrow(&produce(&mut client, "arrow").await);
    let batch = &batches[0];
    assert_eq!(batch.num_rows(), 3);
    let ids = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(ids.values(), &[1, 2, 3]);
    let names = batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(
        names.iter().collect::<Vec<_>>(),
        [Some("a"), None, Some("c")]
    );
    let scores = batch
        .column(2)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert_eq!(
        scores.iter().collect::<Vec<_>>(),
        [Some(0.5), None, Some(2.5)]
    );

    let events = run_one(
        &mut client,
        step(
            "conformance.produce",
            r#"{"kind":"large","size":1000}"#,
            vec![],
        ),
    )
    .await;
    let expected: Vec<u8> = (0..1000).map(|i| (i % 251) as u8).collect();
    assert_eq!(completed_outputs(&events)["value"], raw(&expected));
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
async fn add_sums_its_inputs_and_offset() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let inputs = || vec![("a", value_input(json("1"))), ("b", value_input(json("2")))];
    let events = run_one(&mut client, step("conformance.add", "{}", inputs())).await;
    assert_eq!(
        as_json(&completed_outputs(&events)["sum"]),
        serde_json::json!(3)
    );
    let events = run_one(
        &mut client,
        step("conformance.add", r#"{"offset":0.5}"#, inputs()),
    )
    .await;
    assert_eq!(
        as_json(&completed_outputs(&events)["sum"]),
        serde_json::json!(3.5)
    );
}

#[tokio::test]
async fn inputs_and_configs_that_do_not_fit_fail_without_retry() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let events = run_one(
        &mut client,
        step(
            "conformance.add",
            "{}",
            vec![
                ("a", value_input(json("\"one\""))),
                ("b", value_input(json("2"))),
            ],
        ),
    )
    .await;
    let failure = failure(&events);
    assert_eq!(failure.r#type, "input.invalid");
    assert!(!failure.retryable);
    assert_eq!(
        failure.message,
        "node \"add\" (conformance.add): input \"a\": invalid type: string \"one\", expected a JSON number"
    );

    let events = run_one(
        &mut client,
        step("conformance.add", "{}", vec![("a", value_input(json("1")))]),
    )
    .await;
    assert_eq!(
        failure_of(&events).message,
        "node \"add\" (conformance.add): input \"b\" is required but was not given"
    );

    let events = run_one(
        &mut client,
        step("conformance.sleep", r#"{"ms":"x"}"#, vec![]),
    )
    .await;
    let failure = failure_of(&events);
    assert_eq!(failure.r#type, "config.invalid");
    assert!(!failure.retryable);
    assert!(
        failure
            .message
            .starts_with("node \"sleep\" (conformance.sleep): config field \"ms\": invalid type"),
        "{}",
        failure.message
    );
}

fn failure_of(events: &[pb::Event]) -> pb::Failure {
    failure(events)
}

#[tokio::test]
async fn fail_reports_the_configured_failure_with_details() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let events = run_one(
        &mut client,
        step(
            "conformance.fail",
            r#"{"message":"no luck","retryable":false,"type":"custom.kind"}"#,
            vec![],
        ),
    )
    .await;
    assert_eq!(kinds(&events), ["started", "failed"]);
    let failure = failure(&events);
    assert_eq!(failure.message, "no luck");
    assert_eq!(failure.r#type, "custom.kind");
    assert!(!failure.retryable);
    assert_eq!(
        as_json(failure.details.as_ref().unwrap()),
        serde_json::json!({"code": 7})
    );

    let events = run_one(
        &mut client,
        step(
            "conformance.fail",
            r#"{"message":"again","retryable":true}"#,
            vec![],
        ),
    )
    .await;
    let failure = failure_of(&events);
    assert_eq!(failure.r#type, "conformance.failure");
    assert!(failure.retryable);
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
async fn cancel_stops_a_sleep_at_once() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(
        8,
        vec![step("conformance.sleep", r#"{"ms":60000}"#, vec![])],
    );
    let started = session.next_event().await;
    assert_eq!(kinds(&[started]), ["started"]);
    session.cancel(8, "user asked");
    let events = session.finish(8).await;
    assert_eq!(kinds(&events), ["cancelled"]);
    let Some(Kind::Cancelled(cancelled)) = &events[0].kind else {
        panic!()
    };
    assert_eq!(cancelled.reason, "user asked");
}

#[tokio::test]
async fn closing_the_session_cancels_its_invocations() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(
        1,
        vec![step("conformance.sleep", r#"{"ms":60000}"#, vec![])],
    );
    session.next_event().await;
    drop(session);
    let drained = client
        .drain(pb::DrainRequest { grace_ms: 10_000 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(drained.unfinished, 0);
}

#[tokio::test]
async fn a_step_over_its_timeout_fails_with_a_retryable_timeout() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut sleep = step("conformance.sleep", r#"{"ms":60000}"#, vec![]);
    sleep.node_id = "nap".into();
    sleep.timeout_ms = 50;
    let events = run_one(&mut client, sleep).await;
    let failure = failure(&events);
    assert_eq!(failure.r#type, "timeout");
    assert!(failure.retryable);
    assert_eq!(
        failure.message,
        "node \"nap\" (conformance.sleep) timed out after 50 ms"
    );
}

#[tokio::test]
async fn report_streams_a_log_progress_and_chunks_before_completing() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let events = run_one(&mut client, step("conformance.report", "{}", vec![])).await;
    assert_eq!(
        kinds(&events),
        [
            "started",
            "log",
            "progress",
            "progress",
            "chunk",
            "chunk",
            "chunk",
            "completed"
        ]
    );
    let Some(Kind::Log(log)) = &events[1].kind else {
        panic!()
    };
    assert_eq!(log.message, "hello from rust");
    assert_eq!(log.level, pb::log::Level::Info as i32);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&log.fields_json).unwrap(),
        serde_json::json!({"n": 1})
    );
    let progress: Vec<_> = events[2..4]
        .iter()
        .map(|e| match &e.kind {
            Some(Kind::Progress(p)) => (p.fraction, p.message.clone()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        progress,
        [(0.5, "half".to_owned()), (1.0, "done".to_owned())]
    );
    for (index, event) in events[4..7].iter().enumerate() {
        let Some(Kind::Chunk(chunk)) = &event.kind else {
            panic!()
        };
        assert_eq!(chunk.port, "items");
        assert_eq!(
            as_json(chunk.value.as_ref().unwrap()),
            serde_json::json!(index)
        );
    }
    assert_eq!(
        as_json(&completed_outputs(&events)["done"]),
        serde_json::json!(true)
    );
}

#[tokio::test]
async fn values_over_the_inline_limit_travel_as_blobs_both_ways() {
    let runtime = Runtime::start_with(CONFORMANCE, &[("CONDUCTOR_INLINE_LIMIT", "1000")]).await;
    let mut client = runtime.client().await;
    let events = run_one(
        &mut client,
        step(
            "conformance.produce",
            r#"{"kind":"large","size":5000}"#,
            vec![],
        ),
    )
    .await;
    let value = completed_outputs(&events).remove("value").unwrap();
    let Some(pb::value::Kind::Blob(blob)) = &value.kind else {
        panic!("expected a blob, got {value:?}")
    };
    assert_eq!(blob.size, 5000);
    assert_eq!(blob.encoding, pb::blob_ref::Encoding::Raw as i32);
    let path = blob.uri.strip_prefix("file://").unwrap();
    assert!(path.starts_with(runtime.dir.0.join("blobs").to_str().unwrap()));
    assert!(path.ends_with(&blob.sha256));
    let content = std::fs::read(path).unwrap();
    assert_eq!(
        content,
        (0..5000).map(|i| (i % 251) as u8).collect::<Vec<_>>()
    );

    // A blob given as input is read, and echoed back as a blob again.
    let events = run_one(
        &mut client,
        step(
            "conformance.echo",
            "{}",
            vec![("value", value_input(value.clone()))],
        ),
    )
    .await;
    assert_eq!(completed_outputs(&events)["value"], value);

    // A blob whose size does not match is corrupt.
    let mut wrong = blob.clone();
    wrong.size = 4999;
    let corrupt = pb::Value {
        kind: Some(pb::value::Kind::Blob(wrong)),
    };
    let events = run_one(
        &mut client,
        step(
            "conformance.echo",
            "{}",
            vec![("value", value_input(corrupt))],
        ),
    )
    .await;
    let failure = failure(&events);
    assert_eq!(failure.r#type, "blob.corrupt");
    assert!(!failure.retryable);
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
async fn invocations_over_max_concurrency_are_rejected_as_busy() {
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

#[tokio::test]
async fn unknown_node_types_and_bad_step_references_are_rejected() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let events = run_one(&mut client, step("conformance.nope", "{}", vec![])).await;
    assert_eq!(kinds(&events), ["rejected"]);
    assert_eq!(failure(&events).r#type, "node-type.unknown");

    let mut session = Session::open(&mut client).await;
    session.execute(
        2,
        vec![
            step(
                "conformance.echo",
                "{}",
                vec![("value", step_input(1, "value"))],
            ),
            step(
                "conformance.echo",
                "{}",
                vec![("value", value_input(json("1")))],
            ),
        ],
    );
    let events = session.finish(2).await;
    assert_eq!(kinds(&events), ["rejected"]);
    assert_eq!(failure(&events).r#type, "step.invalid");

    session.execute(
        3,
        vec![
            step("conformance.produce", r#"{"kind":"json"}"#, vec![]),
            step(
                "conformance.echo",
                "{}",
                vec![("value", step_input(0, "nope"))],
            ),
        ],
    );
    let events = session.finish(3).await;
    let failure = failure(&events);
    assert_eq!(failure.r#type, "step.invalid");
    assert!(
        failure.message.contains("its outputs are: value"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn a_multi_step_chain_passes_outputs_along_and_stops_at_a_failure() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    let one = || value_input(json("1"));
    session.execute(
        4,
        vec![
            step("conformance.add", "{}", vec![("a", one()), ("b", one())]),
            step(
                "conformance.add",
                "{}",
                vec![("a", step_input(0, "sum")), ("b", one())],
            ),
            step(
                "conformance.add",
                r#"{"offset":10}"#,
                vec![("a", step_input(1, "sum")), ("b", step_input(0, "sum"))],
            ),
        ],
    );
    let mut events = Vec::new();
    while events.len() < 6 {
        events.push(session.next_event().await);
    }
    assert_eq!(
        kinds(&events),
        [
            "started",
            "completed",
            "started",
            "completed",
            "started",
            "completed"
        ]
    );
    assert_eq!(
        as_json(&completed_outputs(&events)["sum"]),
        serde_json::json!(15)
    );

    session.execute(
        5,
        vec![
            step(
                "conformance.fail",
                r#"{"message":"stop","retryable":false}"#,
                vec![],
            ),
            step("conformance.add", "{}", vec![("a", one()), ("b", one())]),
        ],
    );
    let events = session.finish(5).await;
    assert_eq!(kinds(&events), ["started", "failed"]);
    assert!(events.iter().all(|event| event.step == 0));
}

#[tokio::test]
async fn stdout_noise_after_the_handshake_line_goes_to_stderr() {
    let mut runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let events = run_one(&mut client, step("conformance.print", "{}", vec![])).await;
    assert_eq!(
        as_json(&completed_outputs(&events)["ok"]),
        serde_json::json!(true)
    );
    drop(runtime.stdin.take());
    assert_eq!(runtime.wait_exit().await, 0);
    let mut rest = String::new();
    runtime.stdout.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(runtime.stderr_text().matches("noise").count(), 2);
}

#[tokio::test]
async fn it_exits_when_stdin_reaches_end_of_file() {
    let mut runtime = Runtime::start(CONFORMANCE).await;
    let address = runtime.address();
    drop(runtime.stdin.take());
    assert_eq!(runtime.wait_exit().await, 0);
    assert!(!address.exists());
}

#[tokio::test]
async fn crash_exits_the_process_with_status_3() {
    let mut runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let session = Session::open(&mut client).await;
    session.execute(1, vec![step("conformance.crash", "{}", vec![])]);
    assert_eq!(runtime.wait_exit().await, 3);
}

#[tokio::test]
async fn drain_then_shutdown_stops_the_runtime_with_status_0() {
    let mut runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(1, vec![step("conformance.sleep", r#"{"ms":100}"#, vec![])]);
    session.next_event().await;
    let drained = client
        .drain(pb::DrainRequest { grace_ms: 10_000 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(drained.unfinished, 0);
    session.execute(2, vec![step("conformance.sleep", r#"{"ms":1}"#, vec![])]);
    let events = session.finish(2).await;
    assert_eq!(failure(&events).r#type, "runtime.busy");
    client.shutdown(pb::ShutdownRequest {}).await.unwrap();
    assert_eq!(runtime.wait_exit().await, 0);
}
