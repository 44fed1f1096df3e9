//! OpenTelemetry tables, column for column those of the OpenTelemetry collector's ClickHouse
//! exporter (see `docs/opentelemetry.md`): `otel_logs`, `otel_traces` and the five metric tables
//! `otel_metrics_{gauge,sum,histogram,exponential_histogram,summary}`. `otel_traces_trace_id_ts`
//! is filled by the engine from `otel_traces` (a materialized view), so it has no builder here.
//!
//! Type mapping (what the engine's Arrow reader accepts for each ClickHouse type):
//! `DateTime64(9)` ← `Timestamp(Nanosecond, "UTC")`, `DateTime` ← `Timestamp(Second, "UTC")`,
//! `LowCardinality(String)` ← dictionary strings, `Map(LowCardinality(String), String)` ← a map
//! of strings, `Bool` ← boolean, `Array(T)` ← a list of T. Nested columns (`Events.Timestamp`,
//! `Exemplars.Value`, ...) are one list column per sub-column, named with the dot; every list
//! of one Nested group has the same length in a row. Lists hold plain strings, never dictionary
//! strings (the store only makes top-level dictionaries unique).
//!
//! The builders take the scalar columns of a row in `end_row`; maps and nested lists are filled
//! through their public fields before that call.

use crate::TableDef;
use crate::columns::{DictStr, List, Prims, StrMap, Strs, ts_nanos, ts_type};
use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, TimestampNanosecondBuilder, TimestampSecondBuilder, UInt8Builder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::types::{Float64Type, TimestampNanosecondType, TimestampSecondType, UInt64Type};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

pub const LOGS: TableDef = TableDef { name: "otel_logs", schema: logs_schema };
pub const TRACES: TableDef = TableDef { name: "otel_traces", schema: traces_schema };
pub const METRICS_GAUGE: TableDef = TableDef { name: "otel_metrics_gauge", schema: gauge_schema };
pub const METRICS_SUM: TableDef = TableDef { name: "otel_metrics_sum", schema: sum_schema };
pub const METRICS_HISTOGRAM: TableDef = TableDef { name: "otel_metrics_histogram", schema: histogram_schema };
pub const METRICS_EXPONENTIAL_HISTOGRAM: TableDef =
    TableDef { name: "otel_metrics_exponential_histogram", schema: exp_histogram_schema };
pub const METRICS_SUMMARY: TableDef = TableDef { name: "otel_metrics_summary", schema: summary_schema };

/// Every OpenTelemetry table chute inserts into.
pub const TABLES: [TableDef; 7] =
    [LOGS, TRACES, METRICS_GAUGE, METRICS_SUM, METRICS_HISTOGRAM, METRICS_EXPONENTIAL_HISTOGRAM, METRICS_SUMMARY];

/// Name of the lookup table the engine keeps from `otel_traces` (trace id → first/last second).
pub const TRACES_TRACE_ID_TS: &str = "otel_traces_trace_id_ts";

const NS_PER_S: i64 = 1_000_000_000;

fn nanos() -> DataType {
    ts_type(TimeUnit::Nanosecond)
}

fn seconds() -> DataType {
    ts_type(TimeUnit::Second)
}

fn ts_seconds() -> TimestampSecondBuilder {
    TimestampSecondBuilder::new().with_timezone("UTC")
}

/// Seconds of a nanosecond timestamp, as ClickHouse's `toDateTime` of a `DateTime64(9)` (floor).
#[inline]
pub fn seconds_of(ns: i64) -> i64 {
    ns.div_euclid(NS_PER_S)
}

fn list_of(dt: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(dt, true)))
}

fn col(name: &str, dt: DataType) -> Field {
    Field::new(name, dt, false)
}

/// `Array(Map(LowCardinality(String), String))`: one map per element of a Nested group.
pub struct StrMapList(List<StrMap>);

impl StrMapList {
    pub fn new() -> Self {
        StrMapList(List::new(StrMap::new()))
    }
    /// Adds an entry to the map of the current element.
    #[inline]
    pub fn insert(&mut self, k: &str, v: &str) {
        self.0.values().insert(k, v);
    }
    /// Ends the map of the current element.
    #[inline]
    fn end_element(&mut self) {
        self.0.values().end_row();
    }
    #[inline]
    fn end_row(&mut self) {
        self.0.end_row();
    }
    fn finish(&mut self) -> ArrayRef {
        Arc::new(self.0.finish())
    }
    pub fn data_type() -> DataType {
        list_of(StrMap::data_type())
    }
}

impl Default for StrMapList {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// otel_logs

/// Insertable columns of `otel_logs`, in table order (the `__otel_materialized_*` columns are
/// computed by the engine).
pub fn logs_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            col("Timestamp", nanos()),
            col("TimestampTime", seconds()),
            col("TraceId", DataType::Utf8),
            col("SpanId", DataType::Utf8),
            col("TraceFlags", DataType::UInt8),
            col("SeverityText", DictStr::data_type()),
            col("SeverityNumber", DataType::UInt8),
            col("ServiceName", DictStr::data_type()),
            col("Body", DataType::Utf8),
            col("ResourceSchemaUrl", DictStr::data_type()),
            col("ResourceAttributes", StrMap::data_type()),
            col("ScopeSchemaUrl", DictStr::data_type()),
            col("ScopeName", DataType::Utf8),
            col("ScopeVersion", DictStr::data_type()),
            col("ScopeAttributes", StrMap::data_type()),
            col("LogAttributes", StrMap::data_type()),
            col("EventName", DataType::Utf8),
        ]))
    })
    .clone()
}

/// The scalar columns of one log record.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogRow<'a> {
    /// Nanoseconds since the epoch; `TimestampTime` is derived from it (floor to the second).
    pub timestamp_ns: i64,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub trace_flags: u8,
    pub severity_text: &'a str,
    pub severity_number: u8,
    pub service_name: &'a str,
    pub body: &'a str,
    pub resource_schema_url: &'a str,
    pub scope_schema_url: &'a str,
    pub scope_name: &'a str,
    pub scope_version: &'a str,
    pub event_name: &'a str,
}

/// Builds `otel_logs` rows: fill the three attribute maps, then call [`LogsBuilder::end_row`].
pub struct LogsBuilder {
    timestamp: TimestampNanosecondBuilder,
    timestamp_time: TimestampSecondBuilder,
    trace_id: Strs,
    span_id: Strs,
    trace_flags: UInt8Builder,
    severity_text: DictStr,
    severity_number: UInt8Builder,
    service_name: DictStr,
    body: Strs,
    resource_schema_url: DictStr,
    pub resource_attributes: StrMap,
    scope_schema_url: DictStr,
    scope_name: Strs,
    scope_version: DictStr,
    pub scope_attributes: StrMap,
    pub log_attributes: StrMap,
    event_name: Strs,
    rows: usize,
}

impl LogsBuilder {
    pub fn new() -> Self {
        LogsBuilder {
            timestamp: ts_nanos(),
            timestamp_time: ts_seconds(),
            trace_id: Strs::new(),
            span_id: Strs::new(),
            trace_flags: UInt8Builder::new(),
            severity_text: DictStr::new(),
            severity_number: UInt8Builder::new(),
            service_name: DictStr::new(),
            body: Strs::new(),
            resource_schema_url: DictStr::new(),
            resource_attributes: StrMap::new(),
            scope_schema_url: DictStr::new(),
            scope_name: Strs::new(),
            scope_version: DictStr::new(),
            scope_attributes: StrMap::new(),
            log_attributes: StrMap::new(),
            event_name: Strs::new(),
            rows: 0,
        }
    }

    pub fn end_row(&mut self, r: &LogRow<'_>) {
        self.timestamp.append_value(r.timestamp_ns);
        self.timestamp_time.append_value(seconds_of(r.timestamp_ns));
        self.trace_id.append_value(r.trace_id);
        self.span_id.append_value(r.span_id);
        self.trace_flags.append_value(r.trace_flags);
        self.severity_text.append(r.severity_text);
        self.severity_number.append_value(r.severity_number);
        self.service_name.append(r.service_name);
        self.body.append_value(r.body);
        self.resource_schema_url.append(r.resource_schema_url);
        self.resource_attributes.end_row();
        self.scope_schema_url.append(r.scope_schema_url);
        self.scope_name.append_value(r.scope_name);
        self.scope_version.append(r.scope_version);
        self.scope_attributes.end_row();
        self.log_attributes.end_row();
        self.event_name.append_value(r.event_name);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The rows so far as a record batch; the builder starts over empty.
    pub fn finish(&mut self) -> RecordBatch {
        self.rows = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.timestamp.finish()),
            Arc::new(self.timestamp_time.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.trace_flags.finish()),
            self.severity_text.finish(),
            Arc::new(self.severity_number.finish()),
            self.service_name.finish(),
            Arc::new(self.body.finish()),
            self.resource_schema_url.finish(),
            self.resource_attributes.finish(),
            self.scope_schema_url.finish(),
            Arc::new(self.scope_name.finish()),
            self.scope_version.finish(),
            self.scope_attributes.finish(),
            self.log_attributes.finish(),
            Arc::new(self.event_name.finish()),
        ];
        RecordBatch::try_new(logs_schema(), cols).expect("otel_logs columns match the schema")
    }
}

impl Default for LogsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// otel_traces

/// Insertable columns of `otel_traces`, in table order (`ResourceAttributeItems` and
/// `SpanAttributeItems` are ALIAS columns).
pub fn traces_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            col("Timestamp", nanos()),
            col("TraceId", DataType::Utf8),
            col("SpanId", DataType::Utf8),
            col("ParentSpanId", DataType::Utf8),
            col("TraceState", DataType::Utf8),
            col("SpanName", DictStr::data_type()),
            col("SpanKind", DictStr::data_type()),
            col("ServiceName", DictStr::data_type()),
            col("ResourceAttributes", StrMap::data_type()),
            col("ScopeName", DataType::Utf8),
            col("ScopeVersion", DataType::Utf8),
            col("SpanAttributes", StrMap::data_type()),
            col("Duration", DataType::UInt64),
            col("StatusCode", DictStr::data_type()),
            col("StatusMessage", DataType::Utf8),
            col("Events.Timestamp", list_of(nanos())),
            col("Events.Name", list_of(DataType::Utf8)),
            col("Events.Attributes", StrMapList::data_type()),
            col("Links.TraceId", list_of(DataType::Utf8)),
            col("Links.SpanId", list_of(DataType::Utf8)),
            col("Links.TraceState", list_of(DataType::Utf8)),
            col("Links.Attributes", StrMapList::data_type()),
        ]))
    })
    .clone()
}

/// The scalar columns of one span.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanRow<'a> {
    /// Start of the span, nanoseconds since the epoch.
    pub timestamp_ns: i64,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub parent_span_id: &'a str,
    pub trace_state: &'a str,
    pub span_name: &'a str,
    pub span_kind: &'a str,
    pub service_name: &'a str,
    pub scope_name: &'a str,
    pub scope_version: &'a str,
    /// Nanoseconds.
    pub duration_ns: u64,
    pub status_code: &'a str,
    pub status_message: &'a str,
}

/// Builds `otel_traces` rows: fill the attribute maps, add events ([`TracesBuilder::add_event`],
/// after their attributes went into `event_attributes`) and links likewise, then call
/// [`TracesBuilder::end_row`].
pub struct TracesBuilder {
    timestamp: TimestampNanosecondBuilder,
    trace_id: Strs,
    span_id: Strs,
    parent_span_id: Strs,
    trace_state: Strs,
    span_name: DictStr,
    span_kind: DictStr,
    service_name: DictStr,
    pub resource_attributes: StrMap,
    scope_name: Strs,
    scope_version: Strs,
    pub span_attributes: StrMap,
    duration: UInt64Builder,
    status_code: DictStr,
    status_message: Strs,
    events_timestamp: List<Prims<TimestampNanosecondType>>,
    events_name: List<Strs>,
    /// Attributes of the event being added.
    pub event_attributes: StrMapList,
    links_trace_id: List<Strs>,
    links_span_id: List<Strs>,
    links_trace_state: List<Strs>,
    /// Attributes of the link being added.
    pub link_attributes: StrMapList,
    rows: usize,
}

impl TracesBuilder {
    pub fn new() -> Self {
        TracesBuilder {
            timestamp: ts_nanos(),
            trace_id: Strs::new(),
            span_id: Strs::new(),
            parent_span_id: Strs::new(),
            trace_state: Strs::new(),
            span_name: DictStr::new(),
            span_kind: DictStr::new(),
            service_name: DictStr::new(),
            resource_attributes: StrMap::new(),
            scope_name: Strs::new(),
            scope_version: Strs::new(),
            span_attributes: StrMap::new(),
            duration: UInt64Builder::new(),
            status_code: DictStr::new(),
            status_message: Strs::new(),
            events_timestamp: List::new(Prims::of_type(nanos())),
            events_name: List::default(),
            event_attributes: StrMapList::new(),
            links_trace_id: List::default(),
            links_span_id: List::default(),
            links_trace_state: List::default(),
            link_attributes: StrMapList::new(),
            rows: 0,
        }
    }

    /// Adds an event to the current span; its attributes are those inserted into
    /// `event_attributes` since the previous event.
    pub fn add_event(&mut self, timestamp_ns: i64, name: &str) {
        self.events_timestamp.values().append_value(timestamp_ns);
        self.events_name.values().append_value(name);
        self.event_attributes.end_element();
    }

    /// Adds a link to the current span; its attributes are those inserted into
    /// `link_attributes` since the previous link.
    pub fn add_link(&mut self, trace_id: &str, span_id: &str, trace_state: &str) {
        self.links_trace_id.values().append_value(trace_id);
        self.links_span_id.values().append_value(span_id);
        self.links_trace_state.values().append_value(trace_state);
        self.link_attributes.end_element();
    }

    pub fn end_row(&mut self, r: &SpanRow<'_>) {
        self.timestamp.append_value(r.timestamp_ns);
        self.trace_id.append_value(r.trace_id);
        self.span_id.append_value(r.span_id);
        self.parent_span_id.append_value(r.parent_span_id);
        self.trace_state.append_value(r.trace_state);
        self.span_name.append(r.span_name);
        self.span_kind.append(r.span_kind);
        self.service_name.append(r.service_name);
        self.resource_attributes.end_row();
        self.scope_name.append_value(r.scope_name);
        self.scope_version.append_value(r.scope_version);
        self.span_attributes.end_row();
        self.duration.append_value(r.duration_ns);
        self.status_code.append(r.status_code);
        self.status_message.append_value(r.status_message);
        self.events_timestamp.end_row();
        self.events_name.end_row();
        self.event_attributes.end_row();
        self.links_trace_id.end_row();
        self.links_span_id.end_row();
        self.links_trace_state.end_row();
        self.link_attributes.end_row();
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The rows so far as a record batch; the builder starts over empty.
    pub fn finish(&mut self) -> RecordBatch {
        self.rows = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.timestamp.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.parent_span_id.finish()),
            Arc::new(self.trace_state.finish()),
            self.span_name.finish(),
            self.span_kind.finish(),
            self.service_name.finish(),
            self.resource_attributes.finish(),
            Arc::new(self.scope_name.finish()),
            Arc::new(self.scope_version.finish()),
            self.span_attributes.finish(),
            Arc::new(self.duration.finish()),
            self.status_code.finish(),
            Arc::new(self.status_message.finish()),
            Arc::new(self.events_timestamp.finish()),
            Arc::new(self.events_name.finish()),
            self.event_attributes.finish(),
            Arc::new(self.links_trace_id.finish()),
            Arc::new(self.links_span_id.finish()),
            Arc::new(self.links_trace_state.finish()),
            self.link_attributes.finish(),
        ];
        RecordBatch::try_new(traces_schema(), cols).expect("otel_traces columns match the schema")
    }
}

impl Default for TracesBuilder {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// metrics: the columns every metric table starts with, and the Exemplars group

fn metric_fields() -> Vec<Field> {
    vec![
        col("ResourceAttributes", StrMap::data_type()),
        col("ResourceSchemaUrl", DataType::Utf8),
        col("ScopeName", DataType::Utf8),
        col("ScopeVersion", DataType::Utf8),
        col("ScopeAttributes", StrMap::data_type()),
        col("ScopeDroppedAttrCount", DataType::UInt32),
        col("ScopeSchemaUrl", DataType::Utf8),
        col("ServiceName", DictStr::data_type()),
        col("MetricName", DictStr::data_type()),
        col("MetricDescription", DataType::Utf8),
        col("MetricUnit", DataType::Utf8),
        col("Attributes", StrMap::data_type()),
        col("StartTimeUnix", seconds()),
        col("TimeUnix", seconds()),
    ]
}

fn exemplar_fields() -> Vec<Field> {
    vec![
        col("Exemplars.FilteredAttributes", StrMapList::data_type()),
        col("Exemplars.TimeUnix", list_of(seconds())),
        col("Exemplars.Value", list_of(DataType::Float64)),
        col("Exemplars.SpanId", list_of(DataType::Utf8)),
        col("Exemplars.TraceId", list_of(DataType::Utf8)),
    ]
}

/// The scalar columns every metric table starts with, for one data point.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetricRow<'a> {
    pub resource_schema_url: &'a str,
    pub scope_name: &'a str,
    pub scope_version: &'a str,
    pub scope_dropped_attr_count: u32,
    pub scope_schema_url: &'a str,
    pub service_name: &'a str,
    pub metric_name: &'a str,
    pub metric_description: &'a str,
    pub metric_unit: &'a str,
    /// Nanoseconds since the epoch; stored to the second (`DateTime`), as the exporter does.
    pub start_time_ns: i64,
    pub time_ns: i64,
}

/// The columns every metric table starts with (resource, scope, metric, attributes, times).
pub struct MetricColumns {
    pub resource_attributes: StrMap,
    resource_schema_url: Strs,
    scope_name: Strs,
    scope_version: Strs,
    pub scope_attributes: StrMap,
    scope_dropped_attr_count: UInt32Builder,
    scope_schema_url: Strs,
    service_name: DictStr,
    metric_name: DictStr,
    metric_description: Strs,
    metric_unit: Strs,
    /// The data point's attributes.
    pub attributes: StrMap,
    start_time: TimestampSecondBuilder,
    time: TimestampSecondBuilder,
    rows: usize,
}

impl MetricColumns {
    fn new() -> Self {
        MetricColumns {
            resource_attributes: StrMap::new(),
            resource_schema_url: Strs::new(),
            scope_name: Strs::new(),
            scope_version: Strs::new(),
            scope_attributes: StrMap::new(),
            scope_dropped_attr_count: UInt32Builder::new(),
            scope_schema_url: Strs::new(),
            service_name: DictStr::new(),
            metric_name: DictStr::new(),
            metric_description: Strs::new(),
            metric_unit: Strs::new(),
            attributes: StrMap::new(),
            start_time: ts_seconds(),
            time: ts_seconds(),
            rows: 0,
        }
    }

    fn end_row(&mut self, r: &MetricRow<'_>) {
        self.resource_attributes.end_row();
        self.resource_schema_url.append_value(r.resource_schema_url);
        self.scope_name.append_value(r.scope_name);
        self.scope_version.append_value(r.scope_version);
        self.scope_attributes.end_row();
        self.scope_dropped_attr_count.append_value(r.scope_dropped_attr_count);
        self.scope_schema_url.append_value(r.scope_schema_url);
        self.service_name.append(r.service_name);
        self.metric_name.append(r.metric_name);
        self.metric_description.append_value(r.metric_description);
        self.metric_unit.append_value(r.metric_unit);
        self.attributes.end_row();
        self.start_time.append_value(seconds_of(r.start_time_ns));
        self.time.append_value(seconds_of(r.time_ns));
        self.rows += 1;
    }

    fn finish_into(&mut self, cols: &mut Vec<ArrayRef>) {
        self.rows = 0;
        cols.push(self.resource_attributes.finish());
        cols.push(Arc::new(self.resource_schema_url.finish()));
        cols.push(Arc::new(self.scope_name.finish()));
        cols.push(Arc::new(self.scope_version.finish()));
        cols.push(self.scope_attributes.finish());
        cols.push(Arc::new(self.scope_dropped_attr_count.finish()));
        cols.push(Arc::new(self.scope_schema_url.finish()));
        cols.push(self.service_name.finish());
        cols.push(self.metric_name.finish());
        cols.push(Arc::new(self.metric_description.finish()));
        cols.push(Arc::new(self.metric_unit.finish()));
        cols.push(self.attributes.finish());
        cols.push(Arc::new(self.start_time.finish()));
        cols.push(Arc::new(self.time.finish()));
    }
}

/// The `Exemplars` Nested group of a data point.
pub struct ExemplarColumns {
    /// Filtered attributes of the exemplar being added.
    pub filtered_attributes: StrMapList,
    time: List<Prims<TimestampSecondType>>,
    value: List<Prims<Float64Type>>,
    span_id: List<Strs>,
    trace_id: List<Strs>,
}

impl ExemplarColumns {
    fn new() -> Self {
        ExemplarColumns {
            filtered_attributes: StrMapList::new(),
            time: List::new(Prims::of_type(seconds())),
            value: List::default(),
            span_id: List::default(),
            trace_id: List::default(),
        }
    }

    /// Adds an exemplar to the current data point; its filtered attributes are those inserted
    /// into `filtered_attributes` since the previous exemplar.
    pub fn add(&mut self, time_ns: i64, value: f64, span_id: &str, trace_id: &str) {
        self.filtered_attributes.end_element();
        self.time.values().append_value(seconds_of(time_ns));
        self.value.values().append_value(value);
        self.span_id.values().append_value(span_id);
        self.trace_id.values().append_value(trace_id);
    }

    fn end_row(&mut self) {
        self.filtered_attributes.end_row();
        self.time.end_row();
        self.value.end_row();
        self.span_id.end_row();
        self.trace_id.end_row();
    }

    fn finish_into(&mut self, cols: &mut Vec<ArrayRef>) {
        cols.push(self.filtered_attributes.finish());
        cols.push(Arc::new(self.time.finish()));
        cols.push(Arc::new(self.value.finish()));
        cols.push(Arc::new(self.span_id.finish()));
        cols.push(Arc::new(self.trace_id.finish()));
    }
}

// ---------------------------------------------------------------------------------------------
// otel_metrics_gauge

pub fn gauge_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut f = metric_fields();
        f.push(col("Value", DataType::Float64));
        f.push(col("Flags", DataType::UInt32));
        f.extend(exemplar_fields());
        Arc::new(Schema::new(f))
    })
    .clone()
}

/// Builds `otel_metrics_gauge` rows: fill `common`'s maps and `exemplars`, then `end_row`.
pub struct GaugeBuilder {
    pub common: MetricColumns,
    value: Float64Builder,
    flags: UInt32Builder,
    pub exemplars: ExemplarColumns,
}

impl GaugeBuilder {
    pub fn new() -> Self {
        GaugeBuilder {
            common: MetricColumns::new(),
            value: Float64Builder::new(),
            flags: UInt32Builder::new(),
            exemplars: ExemplarColumns::new(),
        }
    }

    pub fn end_row(&mut self, r: &MetricRow<'_>, value: f64, flags: u32) {
        self.common.end_row(r);
        self.value.append_value(value);
        self.flags.append_value(flags);
        self.exemplars.end_row();
    }

    pub fn len(&self) -> usize {
        self.common.rows
    }

    pub fn is_empty(&self) -> bool {
        self.common.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        let mut cols = Vec::with_capacity(21);
        self.common.finish_into(&mut cols);
        cols.push(Arc::new(self.value.finish()));
        cols.push(Arc::new(self.flags.finish()));
        self.exemplars.finish_into(&mut cols);
        RecordBatch::try_new(gauge_schema(), cols).expect("otel_metrics_gauge columns match the schema")
    }
}

impl Default for GaugeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// otel_metrics_sum

pub fn sum_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut f = metric_fields();
        f.push(col("Value", DataType::Float64));
        f.push(col("Flags", DataType::UInt32));
        f.extend(exemplar_fields());
        f.push(col("AggregationTemporality", DataType::Int32));
        f.push(col("IsMonotonic", DataType::Boolean));
        Arc::new(Schema::new(f))
    })
    .clone()
}

/// Builds `otel_metrics_sum` rows: fill `common`'s maps and `exemplars`, then `end_row`.
pub struct SumBuilder {
    pub common: MetricColumns,
    value: Float64Builder,
    flags: UInt32Builder,
    pub exemplars: ExemplarColumns,
    temporality: Int32Builder,
    monotonic: BooleanBuilder,
}

impl SumBuilder {
    pub fn new() -> Self {
        SumBuilder {
            common: MetricColumns::new(),
            value: Float64Builder::new(),
            flags: UInt32Builder::new(),
            exemplars: ExemplarColumns::new(),
            temporality: Int32Builder::new(),
            monotonic: BooleanBuilder::new(),
        }
    }

    pub fn end_row(&mut self, r: &MetricRow<'_>, value: f64, flags: u32, temporality: i32, is_monotonic: bool) {
        self.common.end_row(r);
        self.value.append_value(value);
        self.flags.append_value(flags);
        self.exemplars.end_row();
        self.temporality.append_value(temporality);
        self.monotonic.append_value(is_monotonic);
    }

    pub fn len(&self) -> usize {
        self.common.rows
    }

    pub fn is_empty(&self) -> bool {
        self.common.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        let mut cols = Vec::with_capacity(23);
        self.common.finish_into(&mut cols);
        cols.push(Arc::new(self.value.finish()));
        cols.push(Arc::new(self.flags.finish()));
        self.exemplars.finish_into(&mut cols);
        cols.push(Arc::new(self.temporality.finish()));
        cols.push(Arc::new(self.monotonic.finish()));
        RecordBatch::try_new(sum_schema(), cols).expect("otel_metrics_sum columns match the schema")
    }
}

impl Default for SumBuilder {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// otel_metrics_histogram

pub fn histogram_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut f = metric_fields();
        f.push(col("Count", DataType::UInt64));
        f.push(col("Sum", DataType::Float64));
        f.push(col("BucketCounts", list_of(DataType::UInt64)));
        f.push(col("ExplicitBounds", list_of(DataType::Float64)));
        f.extend(exemplar_fields());
        f.push(col("Flags", DataType::UInt32));
        f.push(col("Min", DataType::Float64));
        f.push(col("Max", DataType::Float64));
        f.push(col("AggregationTemporality", DataType::Int32));
        Arc::new(Schema::new(f))
    })
    .clone()
}

/// The histogram columns of one data point.
#[derive(Clone, Copy, Debug, Default)]
pub struct HistogramRow<'a> {
    pub count: u64,
    pub sum: f64,
    pub bucket_counts: &'a [u64],
    pub explicit_bounds: &'a [f64],
    pub flags: u32,
    pub min: f64,
    pub max: f64,
    pub temporality: i32,
}

/// Builds `otel_metrics_histogram` rows: fill `common`'s maps and `exemplars`, then `end_row`.
pub struct HistogramBuilder {
    pub common: MetricColumns,
    count: UInt64Builder,
    sum: Float64Builder,
    bucket_counts: List<Prims<UInt64Type>>,
    explicit_bounds: List<Prims<Float64Type>>,
    pub exemplars: ExemplarColumns,
    flags: UInt32Builder,
    min: Float64Builder,
    max: Float64Builder,
    temporality: Int32Builder,
}

impl HistogramBuilder {
    pub fn new() -> Self {
        HistogramBuilder {
            common: MetricColumns::new(),
            count: UInt64Builder::new(),
            sum: Float64Builder::new(),
            bucket_counts: List::default(),
            explicit_bounds: List::default(),
            exemplars: ExemplarColumns::new(),
            flags: UInt32Builder::new(),
            min: Float64Builder::new(),
            max: Float64Builder::new(),
            temporality: Int32Builder::new(),
        }
    }

    pub fn end_row(&mut self, r: &MetricRow<'_>, h: &HistogramRow<'_>) {
        self.common.end_row(r);
        self.count.append_value(h.count);
        self.sum.append_value(h.sum);
        self.bucket_counts.values().append_slice(h.bucket_counts);
        self.bucket_counts.end_row();
        self.explicit_bounds.values().append_slice(h.explicit_bounds);
        self.explicit_bounds.end_row();
        self.exemplars.end_row();
        self.flags.append_value(h.flags);
        self.min.append_value(h.min);
        self.max.append_value(h.max);
        self.temporality.append_value(h.temporality);
    }

    pub fn len(&self) -> usize {
        self.common.rows
    }

    pub fn is_empty(&self) -> bool {
        self.common.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        let mut cols = Vec::with_capacity(27);
        self.common.finish_into(&mut cols);
        cols.push(Arc::new(self.count.finish()));
        cols.push(Arc::new(self.sum.finish()));
        cols.push(Arc::new(self.bucket_counts.finish()));
        cols.push(Arc::new(self.explicit_bounds.finish()));
        self.exemplars.finish_into(&mut cols);
        cols.push(Arc::new(self.flags.finish()));
        cols.push(Arc::new(self.min.finish()));
        cols.push(Arc::new(self.max.finish()));
        cols.push(Arc::new(self.temporality.finish()));
        RecordBatch::try_new(histogram_schema(), cols).expect("otel_metrics_histogram columns match the schema")
    }
}

impl Default for HistogramBuilder {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// otel_metrics_exponential_histogram

pub fn exp_histogram_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut f = metric_fields();
        f.push(col("Count", DataType::UInt64));
        f.push(col("Sum", DataType::Float64));
        f.push(col("Scale", DataType::Int32));
        f.push(col("ZeroCount", DataType::UInt64));
        f.push(col("PositiveOffset", DataType::Int32));
        f.push(col("PositiveBucketCounts", list_of(DataType::UInt64)));
        f.push(col("NegativeOffset", DataType::Int32));
        f.push(col("NegativeBucketCounts", list_of(DataType::UInt64)));
        f.extend(exemplar_fields());
        f.push(col("Flags", DataType::UInt32));
        f.push(col("Min", DataType::Float64));
        f.push(col("Max", DataType::Float64));
        f.push(col("AggregationTemporality", DataType::Int32));
        Arc::new(Schema::new(f))
    })
    .clone()
}

/// The exponential histogram columns of one data point.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExpHistogramRow<'a> {
    pub count: u64,
    pub sum: f64,
    pub scale: i32,
    pub zero_count: u64,
    pub positive_offset: i32,
    pub positive_bucket_counts: &'a [u64],
    pub negative_offset: i32,
    pub negative_bucket_counts: &'a [u64],
    pub flags: u32,
    pub min: f64,
    pub max: f64,
    pub temporality: i32,
}

/// Builds `otel_metrics_exponential_histogram` rows: fill `common`'s maps and `exemplars`,
/// then `end_row`.
pub struct ExpHistogramBuilder {
    pub common: MetricColumns,
    count: UInt64Builder,
    sum: Float64Builder,
    scale: Int32Builder,
    zero_count: UInt64Builder,
    positive_offset: Int32Builder,
    positive_bucket_counts: List<Prims<UInt64Type>>,
    negative_offset: Int32Builder,
    negative_bucket_counts: List<Prims<UInt64Type>>,
    pub exemplars: ExemplarColumns,
    flags: UInt32Builder,
    min: Float64Builder,
    max: Float64Builder,
    temporality: Int32Builder,
}

impl ExpHistogramBuilder {
    pub fn new() -> Self {
        ExpHistogramBuilder {
            common: MetricColumns::new(),
            count: UInt64Builder::new(),
            sum: Float64Builder::new(),
            scale: Int32Builder::new(),
            zero_count: UInt64Builder::new(),
            positive_offset: Int32Builder::new(),
            positive_bucket_counts: List::default(),
            negative_offset: Int32Builder::new(),
            negative_bucket_counts: List::default(),
            exemplars: ExemplarColumns::new(),
            flags: UInt32Builder::new(),
            min: Float64Builder::new(),
            max: Float64Builder::new(),
            temporality: Int32Builder::new(),
        }
    }

    pub fn end_row(&mut self, r: &MetricRow<'_>, h: &ExpHistogramRow<'_>) {
        self.common.end_row(r);
        self.count.append_value(h.count);
        self.sum.append_value(h.sum);
        self.scale.append_value(h.scale);
        self.zero_count.append_value(h.zero_count);
        self.positive_offset.append_value(h.positive_offset);
        self.positive_bucket_counts.values().append_slice(h.positive_bucket_counts);
        self.positive_bucket_counts.end_row();
        self.negative_offset.append_value(h.negative_offset);
        self.negative_bucket_counts.values().append_slice(h.negative_bucket_counts);
        self.negative_bucket_counts.end_row();
        self.exemplars.end_row();
        self.flags.append_value(h.flags);
        self.min.append_value(h.min);
        self.max.append_value(h.max);
        self.temporality.append_value(h.temporality);
    }

    pub fn len(&self) -> usize {
        self.common.rows
    }

    pub fn is_empty(&self) -> bool {
        self.common.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        let mut cols = Vec::with_capacity(31);
        self.common.finish_into(&mut cols);
        cols.push(Arc::new(self.count.finish()));
        cols.push(Arc::new(self.sum.finish()));
        cols.push(Arc::new(self.scale.finish()));
        cols.push(Arc::new(self.zero_count.finish()));
        cols.push(Arc::new(self.positive_offset.finish()));
        cols.push(Arc::new(self.positive_bucket_counts.finish()));
        cols.push(Arc::new(self.negative_offset.finish()));
        cols.push(Arc::new(self.negative_bucket_counts.finish()));
        self.exemplars.finish_into(&mut cols);
        cols.push(Arc::new(self.flags.finish()));
        cols.push(Arc::new(self.min.finish()));
        cols.push(Arc::new(self.max.finish()));
        cols.push(Arc::new(self.temporality.finish()));
        RecordBatch::try_new(exp_histogram_schema(), cols)
            .expect("otel_metrics_exponential_histogram columns match the schema")
    }
}

impl Default for ExpHistogramBuilder {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// otel_metrics_summary

pub fn summary_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut f = metric_fields();
        f.push(col("Count", DataType::UInt64));
        f.push(col("Sum", DataType::Float64));
        f.push(col("ValueAtQuantiles.Quantile", list_of(DataType::Float64)));
        f.push(col("ValueAtQuantiles.Value", list_of(DataType::Float64)));
        f.push(col("Flags", DataType::UInt32));
        Arc::new(Schema::new(f))
    })
    .clone()
}

/// Builds `otel_metrics_summary` rows: fill `common`'s maps, add quantiles, then `end_row`.
pub struct SummaryBuilder {
    pub common: MetricColumns,
    count: UInt64Builder,
    sum: Float64Builder,
    quantile: List<Prims<Float64Type>>,
    quantile_value: List<Prims<Float64Type>>,
    flags: UInt32Builder,
}

impl SummaryBuilder {
    pub fn new() -> Self {
        SummaryBuilder {
            common: MetricColumns::new(),
            count: UInt64Builder::new(),
            sum: Float64Builder::new(),
            quantile: List::default(),
            quantile_value: List::default(),
            flags: UInt32Builder::new(),
        }
    }

    /// Adds a (quantile, value) pair to the current data point.
    pub fn add_quantile(&mut self, quantile: f64, value: f64) {
        self.quantile.values().append_value(quantile);
        self.quantile_value.values().append_value(value);
    }

    pub fn end_row(&mut self, r: &MetricRow<'_>, count: u64, sum: f64, flags: u32) {
        self.common.end_row(r);
        self.count.append_value(count);
        self.sum.append_value(sum);
        self.quantile.end_row();
        self.quantile_value.end_row();
        self.flags.append_value(flags);
    }

    pub fn len(&self) -> usize {
        self.common.rows
    }

    pub fn is_empty(&self) -> bool {
        self.common.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        let mut cols = Vec::with_capacity(19);
        self.common.finish_into(&mut cols);
        cols.push(Arc::new(self.count.finish()));
        cols.push(Arc::new(self.sum.finish()));
        cols.push(Arc::new(self.quantile.finish()));
        cols.push(Arc::new(self.quantile_value.finish()));
        cols.push(Arc::new(self.flags.finish()));
        RecordBatch::try_new(summary_schema(), cols).expect("otel_metrics_summary columns match the schema")
    }
}

impl Default for SummaryBuilder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{TimestampSecondType, UInt64Type};

    fn metric_row() -> MetricRow<'static> {
        MetricRow {
            service_name: "svc",
            metric_name: "m",
            start_time_ns: 1_500_000_000,
            time_ns: 2_999_999_999,
            ..Default::default()
        }
    }

    #[test]
    fn seconds_are_floored_like_to_date_time() {
        assert_eq!(seconds_of(1_999_999_999), 1);
        assert_eq!(seconds_of(0), 0);
        assert_eq!(seconds_of(-1), -1);
    }

    #[test]
    fn logs_builder_fills_every_column_and_derives_timestamp_time() {
        let mut b = LogsBuilder::new();
        b.resource_attributes.insert("service.name", "checkout");
        b.log_attributes.insert("http.route", "/cart");
        b.end_row(&LogRow { timestamp_ns: 1_795_433_498_833_614_800, body: "hi", ..Default::default() });
        b.end_row(&LogRow { timestamp_ns: 5, ..Default::default() });
        let batch = b.finish();
        assert_eq!(batch.schema(), logs_schema());
        assert_eq!(batch.num_rows(), 2);
        let tt = batch.column(1).as_primitive::<TimestampSecondType>();
        assert_eq!(tt.value(0), 1_795_433_498);
        assert_eq!(batch.column(10).as_map().value(0).len(), 1);
        assert_eq!(batch.column(10).as_map().value(1).len(), 0);
        assert!(b.is_empty(), "finish starts over");
    }

    #[test]
    fn traces_builder_keeps_events_and_links_with_their_span() {
        let mut b = TracesBuilder::new();
        b.event_attributes.insert("exception.type", "TimeoutError");
        b.add_event(10, "exception");
        b.add_event(11, "retry");
        b.link_attributes.insert("k", "v");
        b.add_link("t", "s", "");
        b.end_row(&SpanRow { span_name: "GET /cart", ..Default::default() });
        b.end_row(&SpanRow { span_name: "db.query", ..Default::default() });
        let batch = b.finish();
        assert_eq!(batch.schema(), traces_schema());
        let names = batch.column_by_name("Events.Name").unwrap().as_list::<i32>();
        assert_eq!(names.value(0).len(), 2);
        assert_eq!(names.value(1).len(), 0);
        let attrs = batch.column_by_name("Events.Attributes").unwrap().as_list::<i32>();
        let first = attrs.value(0);
        assert_eq!(first.as_map().value(0).len(), 1, "first event has one attribute");
        assert_eq!(first.as_map().value(1).len(), 0, "second event has none");
        let links = batch.column_by_name("Links.Attributes").unwrap().as_list::<i32>();
        assert_eq!(links.value(0).len(), 1);
    }

    #[test]
    fn metric_builders_match_their_schemas() {
        let mut g = GaugeBuilder::new();
        g.exemplars.filtered_attributes.insert("a", "b");
        g.exemplars.add(3_000_000_000, 1.5, "s", "t");
        g.end_row(&metric_row(), 2.0, 0);
        let batch = g.finish();
        assert_eq!(batch.schema(), gauge_schema());
        let t = batch.column_by_name("TimeUnix").unwrap().as_primitive::<TimestampSecondType>();
        assert_eq!(t.value(0), 2);

        let mut s = SumBuilder::new();
        s.end_row(&metric_row(), 1.0, 0, 2, true);
        assert_eq!(s.finish().schema(), sum_schema());

        let mut h = HistogramBuilder::new();
        h.end_row(
            &metric_row(),
            &HistogramRow { count: 3, bucket_counts: &[1, 2, 0], explicit_bounds: &[5.0, 10.0], ..Default::default() },
        );
        let batch = h.finish();
        assert_eq!(batch.schema(), histogram_schema());
        let bc = batch.column_by_name("BucketCounts").unwrap().as_list::<i32>();
        assert_eq!(bc.value(0).as_primitive::<UInt64Type>().values().to_vec(), vec![1, 2, 0]);

        let mut e = ExpHistogramBuilder::new();
        e.end_row(&metric_row(), &ExpHistogramRow { positive_bucket_counts: &[1], ..Default::default() });
        assert_eq!(e.finish().schema(), exp_histogram_schema());

        let mut q = SummaryBuilder::new();
        q.add_quantile(0.5, 10.0);
        q.add_quantile(0.99, 20.0);
        q.end_row(&metric_row(), 2, 30.0, 0);
        let batch = q.finish();
        assert_eq!(batch.schema(), summary_schema());
        assert_eq!(batch.column_by_name("ValueAtQuantiles.Value").unwrap().as_list::<i32>().value(0).len(), 2);
    }
}
