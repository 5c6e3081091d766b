//! A bus event → the JSON value a subscription reads of it: the event's
//! JSON, or, for an `@event` that declares `protobuf:`, the protobuf
//! message in the event's bytes read as canonical proto3 JSON (by the same
//! transcoder gRPC responses go through).
//!
//! An event a subscription cannot read is logged and passed over; the
//! subscription carries on with the next event: non-JSON bytes on a JSON
//! event, and, on a protobuf event, a JSON object or array, an event
//! published in this process (no bytes), or bytes that are not a message of
//! the declared type.

use std::sync::Arc;

use serde_json::Value;

use crate::events::Payload;
use crate::schema::model::EventMessage;

/// One event as a subscription reads it. The event itself is kept: its
/// identity keys the responses subscribers share.
#[derive(Debug)]
pub(crate) struct Published {
    /// The event as the bus delivered it.
    pub(crate) event: Arc<Payload>,
    /// The protobuf message decoded, for a protobuf event.
    decoded: Option<Value>,
}

impl Published {
    /// The root field's value.
    pub(crate) fn value(&self) -> &Value {
        static NULL: Value = Value::Null;
        self.decoded
            .as_ref()
            .or_else(|| self.event.as_json())
            .unwrap_or(&NULL)
    }
}

/// Reads `event` as JSON, or as the protobuf `message` when one is
/// declared; `None` (logged) when it cannot be read so.
pub(crate) fn read(
    event: Arc<Payload>,
    message: Option<&EventMessage>,
    topic: &str,
) -> Option<Published> {
    let decoded = match message {
        None if event.as_json().is_some() => None,
        None => {
            tracing::warn!(topic, "passed over an event that is not JSON");
            return None;
        }
        Some(message) => match decode(&event, message) {
            Ok(value) => Some(value),
            Err(reason) => {
                tracing::warn!(topic, "passed over an event: {reason}");
                return None;
            }
        },
    };
    Some(Published { event, decoded })
}

/// The message of type `message` in the event's bytes, as JSON.
fn decode(event: &Payload, message: &EventMessage) -> Result<Value, String> {
    let name = &message.name;
    // Proto3 messages never start with a group, so `{` or `[` means JSON.
    if event
        .as_json()
        .is_some_and(|json| json.is_object() || json.is_array())
    {
        return Err(format!("it is JSON, not a protobuf `{name}`"));
    }
    let Some(bytes) = event.bytes() else {
        return Err(format!(
            "it was published in this process as JSON, not as a protobuf `{name}`"
        ));
    };
    let json = message
        .transcoder
        .message_json(bytes)
        .map_err(|error| format!("it is not a protobuf `{name}`: {error}"))?;
    serde_json::from_slice(&json).map_err(|error| format!("`{name}` read as JSON: {error}"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use prost::Message as _;
    use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
    use serde_json::json;

    use super::*;
    use crate::sources::grpc::load_protos;
    use crate::sources::transcode::Transcoder;

    fn stock_level() -> EventMessage {
        let descriptor = descriptor();
        EventMessage {
            name: descriptor.full_name().to_owned(),
            transcoder: Transcoder::new(&descriptor),
        }
    }

    fn descriptor() -> MessageDescriptor {
        let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
        let catalog = protos.join("catalog/v1/catalog.proto");
        let pool: DescriptorPool = load_protos(&[catalog], &[protos], false).unwrap();
        pool.get_message_by_name("catalog.v1.StockLevel").unwrap()
    }

    fn encoded(value: &Value) -> Vec<u8> {
        let message = DynamicMessage::deserialize(descriptor(), value).unwrap();
        message.encode_to_vec()
    }

    fn read_value(payload: Payload, message: Option<&EventMessage>) -> Option<Value> {
        read(Arc::new(payload), message, "t").map(|published| published.value().clone())
    }

    #[test]
    fn protobuf_bytes_are_read_as_proto3_json_with_defaults() {
        let message = stock_level();
        let bytes = encoded(&json!({"sku": "p-1", "available": 7}));
        assert_eq!(
            read_value(Payload::from_bytes(bytes), Some(&message)),
            Some(json!({"sku": "p-1", "available": 7}))
        );
        let bytes = encoded(&json!({"sku": "p-2"}));
        assert_eq!(
            read_value(Payload::from_bytes(bytes), Some(&message)),
            Some(json!({"sku": "p-2", "available": 0}))
        );
    }

    #[test]
    fn protobuf_bytes_that_happen_to_be_json_are_still_decoded() {
        // Field 1, 9 bytes long: "\n\t123456789" is also the JSON number.
        let bytes = encoded(&json!({"sku": "123456789"}));
        let payload = Payload::from_bytes(bytes);
        assert_eq!(payload.as_json(), Some(&json!(123_456_789)));
        assert_eq!(
            read_value(payload, Some(&stock_level())),
            Some(json!({"sku": "123456789", "available": 0}))
        );
    }

    #[test]
    fn events_a_protobuf_event_cannot_read_are_passed_over() {
        let message = stock_level();
        let json = Payload::from_bytes(br#"{"sku": "p-1", "available": 7}"#.to_vec());
        assert_eq!(read_value(json, Some(&message)), None);
        let in_process = Payload::json(json!("p-1"));
        assert_eq!(read_value(in_process, Some(&message)), None);
        let truncated = Payload::from_bytes(vec![0x0a, 0x05, b'p']);
        assert_eq!(read_value(truncated, Some(&message)), None);
    }

    #[test]
    fn json_events_are_read_as_they_are_and_other_bytes_passed_over() {
        let json = Payload::from_bytes(br#"{"id": 1}"#.to_vec());
        assert_eq!(read_value(json, None), Some(json!({"id": 1})));
        assert_eq!(
            read_value(Payload::json(json!([1])), None),
            Some(json!([1]))
        );
        assert_eq!(
            read_value(Payload::from_bytes(vec![0x0a, 0x00]), None),
            None
        );
    }
}
