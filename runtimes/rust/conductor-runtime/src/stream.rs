//! [`Stream`]: a port that carries a stream of items instead of one value (docs/streaming.md).
//!
//! A `Stream<T>` field of a node's output struct is a stream output: the node returns it, and the runtime sends its
//! items to the host as they come, within the credits the host grants (docs/protocol.md, section 3.5). A
//! `Stream<T>` field of an input struct is a stream input: the node reads the items as the host forwards them.
//! Both are declared in discovery as the port's item schema with `stream: true`.
//!
//! Like [`crate::Table`], a stream announces itself to the port (de)serializers with a private newtype-struct name
//! and moves through the thread-local slot of [`crate::value`], type-erased to a stream of [`PortValue`]s.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::stream::{BoxStream, StreamExt};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::NodeError;
use crate::error::failures;
use crate::port_de::from_port_value;
use crate::port_ser::to_port_value;
use crate::value::{PortValue, STREAM_TOKEN, capturing, put_slot, take_slot};

/// The private schema keyword that marks a port's schema as the item schema of a stream port; discovery removes it
/// and sets `Port.stream` instead.
pub(crate) const STREAM_KEYWORD: &str = "x-conductor-stream";

/// The items of a stream port, in order: what a node returns for a stream output and reads from a stream input.
///
/// An item is any serde type (JSON on the wire), [`crate::Bytes`], [`crate::Value`], or a [`crate::Table`] holding
/// one Arrow record batch (`Table::from(batch)`). Because a blanket serde implementation and one for arrow-rs's
/// `RecordBatch` cannot coexist, Arrow items travel as one-batch [`crate::Table`]s; [`Stream::from_batches`] and
/// [`Stream::into_batches`] convert.
///
/// A stream output is made from any [`futures_util::Stream`] of `Result<T, NodeError>` ([`Stream::new`]) or of `T`
/// ([`Stream::from_items`], [`Stream::from_iter`]). The runtime polls it for the next item only when the host has
/// granted a credit, so a lazy stream never runs ahead of its slowest reader; an `Err` item fails the step after
/// the items before it; a cancelled step drops the stream, which runs its `Drop` code.
///
/// A stream input implements [`futures_util::Stream`] with items `Result<T, NodeError>`: an upstream failure is an
/// `Err` of type `stream.upstream` where the node reads it, and a node may stop reading at any time.
///
/// ```
/// use conductor_runtime::{async_trait, Context, Empty, Node, NodeError, NodeSpec, Stream};
/// use futures_util::StreamExt;
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct DoubleInput {
///     numbers: Stream<i64>,
/// }
///
/// #[derive(Serialize, JsonSchema)]
/// struct DoubleOutput {
///     doubled: Stream<i64>,
/// }
///
/// struct Double;
///
/// #[async_trait]
/// impl Node for Double {
///     type Config = Empty;
///     type Input = DoubleInput;
///     type Output = DoubleOutput;
///
///     fn spec(&self) -> NodeSpec {
///         NodeSpec::new("rs.double", "1").title("Double every number of a stream")
///     }
///
///     async fn run(&self, _: &Context, _: Empty, input: DoubleInput) -> Result<DoubleOutput, NodeError> {
///         // One item in, one item out: the node holds one item at a time, whatever the stream's length.
///         let doubled = input.numbers.map(|number| number.map(|number| number * 2));
///         Ok(DoubleOutput { doubled: Stream::new(doubled) })
///     }
/// }
/// ```
pub struct Stream<T> {
    // A mutex, because the port serializer takes the stream out through `&self`; it is never contended.
    inner: Mutex<Option<Pieces<T>>>,
}

/// What a [`Stream`] holds: its items and checkpoints, or its failure.
type Pieces<T> = BoxStream<'static, Result<Yield<T>, NodeError>>;

/// What a producer made with [`Stream::with_checkpoints`] gives: an item, or a checkpoint between items.
#[derive(Debug, Clone, PartialEq)]
pub enum Yield<T> {
    /// The next item of the stream.
    Item(T),
    /// A checkpoint after the items given so far, with the state (JSON) from which the producer can make the
    /// items after it again: a row number, a file offset, a cursor. It is not an item: readers never see it and it
    /// costs no credit. A retry of the producer after a retryable failure gets it from [`crate::Context::resume`].
    Checkpoint(serde_json::Value),
}

impl<T: Send + 'static> Stream<T> {
    /// A stream of items that may fail: an `Err` ends the stream and fails the step.
    pub fn new<S>(stream: S) -> Self
    where
        S: futures_util::Stream<Item = Result<T, NodeError>> + Send + 'static,
    {
        Self::with_checkpoints(stream.map(|item| item.map(Yield::Item)))
    }

    /// A stream of items with checkpoints between them (docs/streaming.md, "Checkpoints"). When the producer then
    /// fails with a failure its retry policy retries, the retry is given [`crate::Context::resume`] for the port
    /// (the items before the last checkpoint, and its state) and must give the items from there on; the host drops
    /// those its readers already have, so they go on without starting again.
    ///
    /// ```
    /// use conductor_runtime::{Context, NodeError, Stream, Yield};
    ///
    /// fn numbers(ctx: &Context, n: u64) -> Stream<u64> {
    ///     let start = ctx.resume("items").and_then(|resume| resume.state.as_u64()).unwrap_or(0);
    ///     Stream::with_checkpoints(futures_util::stream::iter((start..n).flat_map(|i| {
    ///         let item = Ok::<_, NodeError>(Yield::Item(i));
    ///         // A retry starts at i + 1.
    ///         let mark = ((i + 1) % 1000 == 0).then(|| Ok(Yield::Checkpoint((i + 1).into())));
    ///         std::iter::once(item).chain(mark)
    ///     })))
    /// }
    /// ```
    pub fn with_checkpoints<S>(stream: S) -> Self
    where
        S: futures_util::Stream<Item = Result<Yield<T>, NodeError>> + Send + 'static,
    {
        Self {
            inner: Mutex::new(Some(stream.boxed())),
        }
    }

    /// A stream of items that cannot fail.
    pub fn from_items<S>(stream: S) -> Self
    where
        S: futures_util::Stream<Item = T> + Send + 'static,
    {
        Self::new(stream.map(Ok))
    }

    /// A stream of the items of an iterator, pulled one at a time as credits allow.
    #[allow(clippy::should_implement_trait)]
    pub fn from_iter<I>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Self::from_items(futures_util::stream::iter(items))
    }

    fn take(&self) -> Option<Pieces<T>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

impl Stream<crate::Table> {
    /// A stream of Arrow record batches, each sent as one item.
    pub fn from_batches<S>(batches: S) -> Self
    where
        S: futures_util::Stream<Item = Result<arrow_array::RecordBatch, NodeError>>
            + Send
            + 'static,
    {
        Self::new(batches.map(|batch| batch.map(crate::Table::from_batch)))
    }

    /// The items as Arrow record batches: a table item of several batches gives them one by one.
    pub fn into_batches(
        self,
    ) -> impl futures_util::Stream<Item = Result<arrow_array::RecordBatch, NodeError>> + Send + 'static
    {
        self.flat_map(|item| {
            let batches: Vec<Result<arrow_array::RecordBatch, NodeError>> = match item {
                Ok(table) => table.batches().iter().cloned().map(Ok).collect(),
                Err(error) => vec![Err(error)],
            };
            futures_util::stream::iter(batches)
        })
    }
}

impl<T> fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Stream")
    }
}

impl<T> futures_util::Stream for Stream<T> {
    type Item = Result<T, NodeError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let inner = self
            .get_mut()
            .inner
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(stream) = inner else {
            return Poll::Ready(None);
        };
        // A reader sees the items only: checkpoints are for the host.
        loop {
            match stream.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(Yield::Checkpoint(_)))) => {}
                Poll::Ready(Some(Ok(Yield::Item(item)))) => return Poll::Ready(Some(Ok(item))),
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Why an item of a type-erased stream is not there.
#[derive(Debug)]
pub(crate) enum ItemError {
    /// The stream failed: the node's `Err`, an upstream failure or an undecodable item.
    Failed(NodeError),
    /// The node's item does not serialize as a port value; the text says why.
    Invalid(String),
    /// Not an item and not a failure: a checkpoint the producer marked between items, with its state (stream
    /// outputs only). The stream goes on after it.
    Checkpoint(serde_json::Value),
}

/// A stream with its item type erased: what moves between the node's typed [`Stream`] and the session.
pub(crate) type ErasedStream = BoxStream<'static, Result<PortValue, ItemError>>;

/// A stream port's value inside the runtime: taken once, by the node (an input) or by the session (an output).
#[derive(Clone)]
pub(crate) struct StreamSlot {
    stream: Arc<Mutex<Option<ErasedStream>>>,
    /// Names the node in item errors, e.g. `node "sum" (conformance.sum)`; empty for an output.
    who: Arc<str>,
    /// The port, for item errors.
    port: Arc<str>,
}

impl StreamSlot {
    pub(crate) fn new(stream: ErasedStream, who: &str, port: &str) -> Self {
        Self {
            stream: Arc::new(Mutex::new(Some(stream))),
            who: who.into(),
            port: port.into(),
        }
    }

    pub(crate) fn take(&self) -> Option<ErasedStream> {
        self.stream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

impl fmt::Debug for StreamSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSlot")
            .field("who", &self.who)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl<T: Serialize + Send + 'static> Serialize for Stream<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(STREAM_TOKEN, &StreamFallback(self))
    }
}

/// Hands the stream over to a port serializer, type-erased; any other serializer cannot encode a stream.
struct StreamFallback<'a, T>(&'a Stream<T>);

impl<T: Serialize + Send + 'static> Serialize for StreamFallback<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !capturing() {
            return Err(serde::ser::Error::custom(
                "a stream can only be a port of its own, not part of a JSON value",
            ));
        }
        let Some(stream) = self.0.take() else {
            return Err(serde::ser::Error::custom(
                "a stream output can be returned only once",
            ));
        };
        let erased = stream
            .map(|item| match item {
                Ok(Yield::Item(item)) => match to_port_value(&item) {
                    Ok(Some(value)) => Ok(value),
                    // An item that serializes as nothing (`None`) is a JSON null.
                    Ok(None) => Ok(PortValue::json(serde_json::Value::Null)),
                    Err(error) => Err(ItemError::Invalid(error.to_string())),
                },
                Ok(Yield::Checkpoint(state)) => Err(ItemError::Checkpoint(state)),
                Err(error) => Err(ItemError::Failed(error)),
            })
            .boxed();
        put_slot(PortValue::Stream(StreamSlot::new(erased, "", "")));
        serializer.serialize_unit()
    }
}

impl<'de, T: DeserializeOwned + Send + 'static> de::Deserialize<'de> for Stream<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(STREAM_TOKEN, StreamVisitor(PhantomData))
    }
}

struct StreamVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned + Send + 'static> Visitor<'de> for StreamVisitor<T> {
    type Value = Stream<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stream of items")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, _d: D) -> Result<Stream<T>, D::Error> {
        let slot = match take_slot() {
            Some(PortValue::Stream(slot)) => slot,
            Some(other) => {
                return Err(de::Error::custom(format_args!(
                    "expected a stream of items, found {}",
                    other.describe()
                )));
            }
            None => {
                return Err(de::Error::custom(
                    "a stream can only be read from a port of its own",
                ));
            }
        };
        let Some(erased) = slot.take() else {
            return Err(de::Error::custom("a stream input can be read only once"));
        };
        let (who, port) = (slot.who.clone(), slot.port.clone());
        let mut position: u64 = 0;
        let typed = erased.map(move |item| {
            // The host forwards items only; a checkpoint would pass through unread.
            if let Err(ItemError::Checkpoint(state)) = item {
                return Ok(Yield::Checkpoint(state));
            }
            let at = position;
            position += 1;
            let invalid = |text: &dyn fmt::Display| {
                failures::input_invalid(format!(
                    "{who}: item {at} of stream input \"{port}\" is invalid: {text}"
                ))
            };
            match item {
                Ok(value) => from_port_value::<T>(&value)
                    .map(Yield::Item)
                    .map_err(|error| invalid(&error)),
                Err(ItemError::Failed(error)) => Err(error),
                Err(ItemError::Invalid(text)) => Err(invalid(&text)),
                Err(ItemError::Checkpoint(state)) => Ok(Yield::Checkpoint(state)),
            }
        });
        Ok(Stream::with_checkpoints(typed))
    }
}

impl<T: JsonSchema> JsonSchema for Stream<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Stream_of_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = generator.subschema_for::<T>();
        schema.insert(STREAM_KEYWORD.to_owned(), serde_json::Value::Bool(true));
        schema
    }
}
