//! `[nats]`: NATS JetStream consumers, each landing one stream's messages in one table.

use crate::units::Duration;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// One `[[nats.consumers]]` table per durable consumer.
    pub consumers: Vec<NatsConsumerConfig>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum NatsDecoder {
    /// One JSON object per message; fields map to columns by name.
    #[default]
    Json,
    /// One protobuf message per message, described by `descriptor_set` and `message`.
    Protobuf,
}

/// A durable JetStream pull consumer whose messages become rows of `table`. chute creates the
/// consumer when it does not exist (explicit acks; see docs/nats.md for AckWait and
/// MaxAckPending). Several chute processes with the same `stream` and `durable` share the work.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConsumerConfig {
    /// Server URLs (`nats://host:4222`, `tls://host:4222`).
    pub servers: Vec<String>,
    pub user: String,
    pub password: String,
    pub token: String,
    /// An NKey seed (`SU...`).
    pub nkey: String,
    /// A `.creds` file (JWT and NKey seed).
    pub creds_file: String,
    /// PEM file of the certificate authorities to trust for `tls://` servers.
    pub tls_ca_file: String,
    /// PEM file of a client certificate (chain), for servers that verify clients (`verify: true`).
    pub tls_cert_file: String,
    /// PEM file of the client certificate's private key.
    pub tls_key_file: String,
    /// The stream to read; it must exist.
    pub stream: String,
    /// The durable consumer's name.
    pub durable: String,
    /// Only messages on matching subjects (empty: all of the stream).
    pub filter_subject: String,
    /// The target table (in the store's database).
    pub table: String,
    /// A file of `CREATE TABLE IF NOT EXISTS` statements run before consuming (empty: none).
    pub table_sql: String,
    pub decoder: NatsDecoder,
    /// `protoc --include_imports --descriptor_set_out=FILE` output (protobuf decoder).
    pub descriptor_set: String,
    /// Full name of the message type, e.g. `envelope.v1.Envelope` (protobuf decoder).
    pub message: String,
    /// A column (String or JSON) that keeps the whole message as JSON text (empty: none).
    pub json_column: String,
    /// Messages decoded and inserted together (one insert, one ack round); also the size of each
    /// pull request (the next one is sent when half of the last has arrived).
    pub batch_size: u32,
    /// How long a batch waits, after its first message, to fill up before it is inserted.
    pub max_wait: Duration,
    /// Batches stored (and acked) at the same time by this process.
    pub max_in_flight: u32,
    /// AckWait of the consumer chute creates: how long a fetched message may stay unacked before
    /// the server redelivers it (chute sends progress acks while it holds a batch). 0: derived,
    /// max(30 s, 10 × max_wait). An existing consumer keeps its own.
    pub ack_wait: Duration,
}

impl Default for NatsConsumerConfig {
    fn default() -> Self {
        NatsConsumerConfig {
            servers: vec!["nats://127.0.0.1:4222".into()],
            user: String::new(),
            password: String::new(),
            token: String::new(),
            nkey: String::new(),
            creds_file: String::new(),
            tls_ca_file: String::new(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            stream: String::new(),
            durable: String::new(),
            filter_subject: String::new(),
            table: String::new(),
            table_sql: String::new(),
            decoder: NatsDecoder::Json,
            descriptor_set: String::new(),
            message: String::new(),
            json_column: String::new(),
            batch_size: 10_000,
            max_wait: Duration::from_secs(1),
            max_in_flight: 2,
            ack_wait: Duration::from_secs(0),
        }
    }
}
