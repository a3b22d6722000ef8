//! Stream ports over the session (docs/protocol.md, section 3.5), driven as the host drives them: credits hold a
//! stream output, a cancel or a failure ends it mid-way, and a stream input is read within the credits it grants.

use std::io::Cursor;
use std::sync::Arc;

use crate::common::*;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;

/// The next event of `invocation_id`; events of other invocations stay queued for later.
async fn next_of(session: &mut Session, invocation_id: u64) -> pb::Event {
    let mut others = Vec::new();
    let event = loop {
        let event = session.next_event().await;
        if event.invocation_id == invocation_id {
            break event;
        }
        others.push(event);
    };
    for other in others.into_iter().rev() {
        session.pending.push_front(other);
    }
    event
}

/// Reads events of `invocation_id` until `chunks` chunks came or the step ended; gives them all.
async fn read_chunks(session: &mut Session, invocation_id: u64, chunks: usize) -> Vec<pb::Event> {
    let mut events = Vec::new();
    let mut seen = 0;
    while seen < chunks {
        let event = next_of(session, invocation_id).await;
        let terminal = is_terminal(&event);
        if matches!(event.kind, Some(Kind::Chunk(_))) {
            seen += 1;
        }
        events.push(event);
        if terminal {
            break;
        }
    }
    events
}

/// Reads events of `invocation_id` up to and including its terminal event.
async fn read_to_end(session: &mut Session, invocation_id: u64) -> Vec<pb::Event> {
    let mut events = Vec::new();
    loop {
        let event = next_of(session, invocation_id).await;
        let terminal = is_terminal(&event);
        events.push(event);
        if terminal {
            return events;
        }
    }
}

/// Reads events of `invocation_id` until its step grants credits on a stream input, as the host waits for them
/// before it forwards items; gives the events.
async fn until_credit(session: &mut Session, invocation_id: u64) -> Vec<pb::Event> {
    let mut events = Vec::new();
    loop {
        let event = next_of(session, invocation_id).await;
        let credit = matches!(event.kind, Some(Kind::Credit(_)));
        assert!(
            !is_terminal(&event),
            "ended before granting credits: {event:?}"
        );
        events.push(event);
        if credit {
            return events;
        }
    }
}

fn is_terminal(event: &pb::Event) -> bool {
    matches!(
        event.kind,
        Some(Kind::Completed(_) | Kind::Failed(_) | Kind::Cancelled(_) | Kind::Rejected(_))
    )
}

/// The JSON items of the chunks on `port`, in order.
fn chunk_items(events: &[pb::Event], port: &str) -> Vec<serde_json::Value> {
    events
        .iter()
        .filter_map(|event| match &event.kind {
            Some(Kind::Chunk(chunk)) if chunk.port == port => {
                Some(as_json(chunk.value.as_ref().unwrap()))
            }
            _ => None,
        })
        .collect()
}

/// The credits of the `credit` events on `port`, in order.
fn credits(events: &[pb::Event], port: &str) -> Vec<u32> {
    events
        .iter()
        .filter_map(|event| match &event.kind {
            Some(Kind::Credit(credit)) if credit.port == port => {
                assert_eq!((credit.invocation_id, credit.step), (0, 0));
                Some(credit.credits)
            }
            _ => None,
        })
        .collect()
}

fn count_step(n: u64, fail_at: Option<u64>) -> pb::Step {
    let mut inputs = vec![("n", value_input(json(&n.to_string())))];
    if let Some(fail_at) = fail_at {
        inputs.push(("failAt", value_input(json(&fail_at.to_string()))));
    }
    step("conformance.count", "{}", inputs)
}

fn sum_step(limit: Option<u64>) -> pb::Step {
    let mut inputs = vec![("items", stream_input("count", "items"))];
    if let Some(limit) = limit {
        inputs.push(("limit", value_input(json(&limit.to_string()))));
    }
    step("conformance.sum", "{}", inputs)
}

fn integers(items: impl IntoIterator<Item = i64>) -> Vec<pb::Value> {
    items
        .into_iter()
        .map(|item| json(&item.to_string()))
        .collect()
}

#[tokio::test]
async fn stream_ports_are_declared_with_their_item_schema_and_the_feature_is_announced() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let handshake = client
        .handshake(pb::HandshakeRequest {
            abi_versions: vec![1],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(handshake.features.iter().any(|f| f == "stream.credits"));
    let types = client
        .list_node_types(pb::ListNodeTypesRequest {})
        .await
        .unwrap()
        .into_inner()
        .node_types;
    let by_name = |name: &str| types.iter().find(|t| t.r#type == name).unwrap();
    let ports = |ports: &[pb::Port]| -> Vec<(String, bool, serde_json::Value)> {
        ports
            .iter()
            .map(|port| {
                (
                    port.name.clone(),
                    port.stream,
                    serde_json::from_str(&port.schema).unwrap(),
                )
            })
            .collect()
    };
    let count = by_name("conformance.count");
    let outputs = ports(&count.outputs);
    assert_eq!(outputs[0].0, "items");
    assert!(outputs[0].1);
    assert_eq!(outputs[0].2["type"], "integer");
    assert!(outputs[0].2.get("x-conductor-stream").is_none());
    assert_eq!((outputs[1].0.as_str(), outputs[1].1), ("total", false));
    let sum = by_name("conformance.sum");
    let inputs = ports(&sum.inputs);
    assert_eq!((inputs[0].0.as_str(), inputs[0].1), ("items", true));
    assert_eq!(inputs[0].2["type"], "integer");
    assert!(sum.inputs[0].required);
    assert_eq!((inputs[1].0.as_str(), inputs[1].1), ("limit", false));
    let scale = by_name("conformance.scale");
    let (inputs, outputs) = (ports(&scale.inputs), ports(&scale.outputs));
    assert_eq!((inputs[0].0.as_str(), inputs[0].1), ("batches", true));
    assert_eq!(inputs[0].2["x-conductor-encoding"], "arrow");
    assert_eq!((outputs[0].0.as_str(), outputs[0].1), ("batches", true));
    assert_eq!(outputs[0].2["x-conductor-encoding"], "arrow");
}

#[tokio::test]
async fn a_stream_output_sends_its_items_in_order_within_the_credits_then_completes() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute_with_credits(1, count_step(10, None), &["items"], 4);
    let first = read_chunks(&mut session, 1, 4).await;
    assert_eq!(
        kinds(&first),
        ["started", "chunk", "chunk", "chunk", "chunk"]
    );
    // Another invocation on the same session runs to its end while the stream is held: the runtime is not
    // blocked, and no fifth item of the stream came before it (events of one session arrive in order).
    session.execute(
        2,
        vec![step(
            "conformance.add",
            "{}",
            vec![("a", value_input(json("1"))), ("b", value_input(json("2")))],
        )],
    );
    let add = read_to_end(&mut session, 2).await;
    assert_eq!(as_json(&completed_outputs(&add)["sum"]), 3);
    assert!(
        session.pending.iter().all(|event| event.invocation_id != 1),
        "an item beyond the credits: {:?}",
        session.pending
    );
    // Six more items, and one credit more to ask the stream for its end: the runtime polls the node's stream only
    // with a credit in hand, so that it never computes an item ahead.
    session.send(credit(1, "items", 7));
    let rest = read_to_end(&mut session, 1).await;
    assert_eq!(
        kinds(&rest),
        [["chunk"; 6].as_slice(), &["completed"]].concat()
    );
    let all: Vec<_> = first.iter().chain(&rest).cloned().collect();
    assert_eq!(
        chunk_items(&all, "items"),
        (0..10).map(serde_json::Value::from).collect::<Vec<_>>()
    );
    let outputs = completed_outputs(&rest);
    assert_eq!(outputs.keys().collect::<Vec<_>>(), ["total"]);
    assert_eq!(as_json(&outputs["total"]), 10);
}

#[tokio::test]
async fn credits_granted_before_the_stream_exists_and_in_pieces_add_up() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.send_all(vec![
        credit(7, "items", 1),
        pb::command::Kind::Execute(pb::Execute {
            invocation_id: 7,
            execution_id: "e".into(),
            steps: vec![count_step(3, None)],
        }),
        credit(7, "items", 1),
        credit(7, "items", 1),
    ]);
    // The credit before the Execute named an invocation the runtime did not know yet: it is dropped.
    let first = read_chunks(&mut session, 7, 2).await;
    assert_eq!(chunk_items(&first, "items"), [0, 1]);
    session.send(credit(7, "items", 2));
    let rest = read_to_end(&mut session, 7).await;
    assert_eq!(kinds(&rest), ["chunk", "completed"]);
    assert_eq!(chunk_items(&rest, "items"), [2]);
}

#[tokio::test]
async fn a_cancel_mid_stream_drops_the_stream_and_answers_cancelled() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    // A million items, of which the host takes 4: the stream is lazy, so the rest is never made.
    session.execute_with_credits(1, count_step(1000000, None), &["items"], 4);
    let first = read_chunks(&mut session, 1, 4).await;
    assert_eq!(chunk_items(&first, "items"), [0, 1, 2, 3]);
    session.cancel(1, "every reader stopped");
    let rest = read_to_end(&mut session, 1).await;
    assert_eq!(kinds(&rest), ["cancelled"]);
    let Some(Kind::Cancelled(cancelled)) = &rest[0].kind else {
        unreachable!()
    };
    assert_eq!(cancelled.reason, "every reader stopped");
    // Credits after the end are ignored, and the session goes on.
    session.send(credit(1, "items", 100));
    session.execute_with_credits(2, count_step(0, None), &["items"], 1);
    let events = read_to_end(&mut session, 2).await;
    assert_eq!(kinds(&events), ["started", "completed"]);
}

#[tokio::test]
async fn a_stream_that_fails_mid_way_sends_the_items_before_the_failure() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute_with_credits(1, count_step(10, Some(3)), &["items"], 64);
    let events = read_to_end(&mut session, 1).await;
    assert_eq!(
        kinds(&events),
        ["started", "chunk", "chunk", "chunk", "failed"]
    );
    assert_eq!(chunk_items(&events, "items"), [0, 1, 2]);
    let failure = failure(&events);
    assert_eq!(failure.r#type, "conformance.stream-failed");
    assert_eq!(failure.message, "failed after 3 items");
    assert!(!failure.retryable);
}

#[tokio::test]
async fn a_stream_input_is_read_to_its_end() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(1, vec![sum_step(None)]);
    let first = next_of(&mut session, 1).await;
    let second = next_of(&mut session, 1).await;
    assert_eq!(
        kinds(&[first.clone(), second.clone()]),
        ["started", "credit"]
    );
    assert_eq!(credits(&[second], "items"), [64]);
    session.stream_items(1, "items", integers(1..=3), false, None);
    session.stream_items(1, "items", integers(4..=5), true, None);
    let events = read_to_end(&mut session, 1).await;
    assert_eq!(kinds(&events), ["completed"]);
    let outputs = completed_outputs(&events);
    assert_eq!(as_json(&outputs["sum"]), 15);
    assert_eq!(as_json(&outputs["count"]), 5);
}

#[tokio::test]
async fn a_stream_input_regrants_as_it_reads_and_never_has_more_than_its_window_outstanding() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(1, vec![sum_step(None)]);
    let total: i64 = 1000;
    let (mut granted, mut sent) = (0i64, 0i64);
    let events = loop {
        let event = next_of(&mut session, 1).await;
        if is_terminal(&event) {
            break vec![event];
        }
        if let Some(Kind::Credit(credit)) = &event.kind {
            granted += i64::from(credit.credits);
            // Outstanding credits never exceed the window of 64.
            assert!(granted - sent <= 64, "granted {granted}, sent {sent}");
            let count = (granted - sent).min(total - sent);
            session.stream_items(
                1,
                "items",
                integers(sent..sent + count),
                sent + count == total,
                None,
            );
            sent += count;
        }
    };
    assert_eq!(sent, total);
    let outputs = completed_outputs(&events);
    assert_eq!(as_json(&outputs["sum"]), total * (total - 1) / 2);
    assert_eq!(as_json(&outputs["count"]), total);
}

#[tokio::test]
async fn an_upstream_failure_reaches_the_reader_as_stream_upstream_after_the_items_before_it() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(1, vec![sum_step(None)]);
    until_credit(&mut session, 1).await;
    session.stream_items(
        1,
        "items",
        integers([1, 2]),
        false,
        Some(pb::Failure {
            message: "boom at 2".into(),
            r#type: "conformance.stream-failed".into(),
            retryable: true,
            ..Default::default()
        }),
    );
    let events = read_to_end(&mut session, 1).await;
    assert_eq!(kinds(&events).last(), Some(&"failed"));
    let failure = failure(&events);
    assert_eq!(failure.r#type, "stream.upstream");
    assert_eq!(failure.message, "boom at 2");
    assert!(failure.retryable);
    let details = as_json(failure.details.as_ref().unwrap());
    assert_eq!(
        details,
        serde_json::json!({"producer": "count", "port": "items", "items": 2, "type": "conformance.stream-failed"})
    );
}

#[tokio::test]
async fn a_reader_that_stops_early_completes_and_later_items_are_dropped() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(1, vec![sum_step(Some(3))]);
    until_credit(&mut session, 1).await;
    session.stream_items(1, "items", integers([10, 20, 30, 40, 50]), false, None);
    let events = read_to_end(&mut session, 1).await;
    let outputs = completed_outputs(&events);
    assert_eq!(as_json(&outputs["sum"]), 60);
    assert_eq!(as_json(&outputs["count"]), 3);
    session.stream_items(1, "items", integers([60]), true, None);
    session.execute_with_credits(2, count_step(0, None), &["items"], 1);
    let events = read_to_end(&mut session, 2).await;
    assert_eq!(kinds(&events), ["started", "completed"]);
}

#[tokio::test]
async fn items_beyond_the_granted_credits_fail_the_reader_with_stream_overrun() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(1, vec![sum_step(None)]);
    until_credit(&mut session, 1).await;
    session.stream_items(1, "items", integers(0..65), false, None);
    let events = read_to_end(&mut session, 1).await;
    let failure = failure(&events);
    assert_eq!(failure.r#type, "stream.overrun");
    assert_eq!(
        failure.message,
        "node \"sum\" (conformance.sum): stream input \"items\" (from \"count.items\") received 65 items with 64 credits left of the 64 it granted"
    );
}

#[tokio::test]
async fn an_item_of_the_wrong_type_fails_the_reader_naming_its_position() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(1, vec![sum_step(None)]);
    until_credit(&mut session, 1).await;
    session.stream_items(1, "items", vec![json("1"), json("\"two\"")], true, None);
    let events = read_to_end(&mut session, 1).await;
    let failure = failure(&events);
    assert_eq!(failure.r#type, "input.invalid");
    assert_eq!(
        failure.message,
        "node \"sum\" (conformance.sum): item 1 of stream input \"items\" is invalid: invalid type: string \"two\", expected i64"
    );
}

#[tokio::test]
async fn a_stream_output_cannot_feed_a_later_step_of_the_same_invocation() {
    let runtime = Runtime::start(CONFORMANCE).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    session.execute(
        1,
        vec![
            count_step(3, None),
            step(
                "conformance.echo",
                "{}",
                vec![("value", step_input(0, "items"))],
            ),
        ],
    );
    let events = read_to_end(&mut session, 1).await;
    let failure = failure(&events);
    assert_eq!(kinds(&events), ["rejected"]);
    assert_eq!(failure.r#type, "step.invalid");
    assert!(
        failure
            .message
            .contains("refers to stream output \"items\" of node \"count\""),
        "{}",
        failure.message
    );
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let values: Vec<Option<f64>> = ids
        .clone()
        .map(|id| (id % 3 != 2).then_some(id as f64 + 0.5))
        .collect();
    let columns: [(&str, ArrayRef); 3] = [
        ("id", Arc::new(Int64Array::from_iter_values(ids.clone()))),
        ("value", Arc::new(Float64Array::from(values))),
        (
            "label",
            Arc::new(StringArray::from_iter_values(
                ids.map(|id| format!("row-{id}")),
            )),
        ),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

fn arrow_value(batch: &RecordBatch) -> pb::Value {
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    pb::Value {
        kind: Some(pb::value::Kind::Arrow(writer.into_inner().unwrap().into())),
    }
}

fn decode_batch(value: &pb::Value) -> RecordBatch {
    let Some(pb::value::Kind::Arrow(bytes)) = &value.kind else {
        panic!("expected an Arrow item, got {value:?}");
    };
    let mut batches: Vec<RecordBatch> =
        arrow_ipc::reader::StreamReader::try_new(Cursor::new(bytes.to_vec()), None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
    assert_eq!(batches.len(), 1, "one record batch per item");
    batches.remove(0)
}

/// Streams three batches through `node_type` (factor 2) on `binary` and checks the batches that come out.
async fn scale_three_batches(binary: &str, node_type: &str) {
    let runtime = Runtime::start(binary).await;
    let mut client = runtime.client().await;
    let mut session = Session::open(&mut client).await;
    let step = step(
        node_type,
        "{}",
        vec![
            ("batches", stream_input("batches", "batches")),
            ("factor", value_input(json("2"))),
        ],
    );
    session.execute_with_credits(1, step, &["batches"], 64);
    let started = until_credit(&mut session, 1).await;
    assert_eq!(kinds(&started), ["started", "credit"]);
    let inputs = [batch(0..4), batch(4..6), batch(6..11)];
    for input in &inputs {
        session.stream_items(1, "batches", vec![arrow_value(input)], false, None);
    }
    // The first scaled batch comes before the input stream has ended: stream in, stream out.
    let first = read_chunks(&mut session, 1, 1).await;
    assert_eq!(kinds(&first), ["chunk"]);
    session.stream_items(1, "batches", vec![], true, None);
    let rest = read_to_end(&mut session, 1).await;
    assert_eq!(kinds(&rest), ["chunk", "chunk", "completed"]);
    assert!(completed_outputs(&rest).is_empty());
    let outputs: Vec<RecordBatch> = first
        .iter()
        .chain(&rest)
        .filter_map(|event| match &event.kind {
            Some(Kind::Chunk(chunk)) => {
                assert_eq!(chunk.port, "batches");
                Some(decode_batch(chunk.value.as_ref().unwrap()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(outputs.len(), 3);
    for (input, output) in inputs.iter().zip(&outputs) {
        assert_eq!(output.schema(), input.schema());
        let types: Vec<&DataType> = output
            .schema_ref()
            .fields()
            .iter()
            .map(|field| field.data_type())
            .collect();
        assert_eq!(
            types,
            [&DataType::Int64, &DataType::Float64, &DataType::Utf8]
        );
        assert_eq!(
            output.column(0).as_primitive::<Int64Type>(),
            input.column(0).as_primitive::<Int64Type>()
        );
        assert_eq!(
            output.column(2).as_string::<i32>(),
            input.column(2).as_string::<i32>()
        );
        let (before, after) = (
            input.column(1).as_primitive::<Float64Type>(),
            output.column(1).as_primitive::<Float64Type>(),
        );
        assert_eq!(after.null_count(), before.null_count());
        for row in 0..before.len() {
            if before.is_null(row) {
                assert!(after.is_null(row));
            } else {
                assert_eq!(after.value(row), before.value(row) * 2.0);
            }
        }
    }
}

#[tokio::test]
async fn conformance_scale_streams_arrow_batches_through_with_their_types() {
    scale_three_batches(CONFORMANCE, "conformance.scale").await;
}

#[tokio::test]
async fn the_example_runtime_serves_rs_scale_batches() {
    scale_three_batches(EXAMPLES, "rs.scale-batches").await;
}
