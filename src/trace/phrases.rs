//! Everything but protocol messages in words: timers (by the Kafka setting they stand for),
//! client observations (what the application saw), disk completions, node lifecycle changes and
//! network drops. Each returns `None` for something this build does not know, so that the caller
//! can count it as undescribed.

use serde_json::Value;

use super::words;

/// `the first entry is` / `the first 3 entries are`
fn entries(n: u64) -> String {
    if n == 1 {
        "the first entry is".into()
    } else {
        format!("the first {n} entries are")
    }
}

/// `JoinGroupRequest` → `JoinGroup request`.
pub fn api_phrase(api: &str) -> String {
    if let Some(b) = api.strip_suffix("Request") {
        format!("{b} request")
    } else if let Some(b) = api.strip_suffix("Response") {
        format!("{b} response")
    } else {
        api.to_string()
    }
}

pub fn drop_reason(reason: &str) -> &'static str {
    match reason {
        "partitioned" => "the network is partitioned between them",
        "lost" => "the network lost it",
        "rule" => "a scenario network rule dropped it",
        "connection-broken" => "the connection it was sent on broke",
        "node-down" => "the receiver is down",
        _ => "dropped",
    }
}

/// A timer's name and argument: `"Heartbeat"`, `{"RequestTimeout":4}`, `{"Group":["g",…]}`.
pub fn timer_parts(timer: &Value) -> (String, Option<&Value>) {
    match timer {
        Value::String(s) => (s.clone(), None),
        Value::Object(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().expect("one entry");
            (k.clone(), Some(v))
        }
        other => (other.to_string(), None),
    }
}

/// A timer as it reads in a `set_timer` line: `Heartbeat`, `RequestTimeout(4)`.
pub fn timer_name(timer: &Value) -> String {
    match timer_parts(timer) {
        (name, None) => name,
        (name, Some(arg)) => format!("{name}({})", compact(arg)),
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(compact).collect::<Vec<_>>().join(", "),
        Value::Object(m) => m.iter().map(|(k, v)| format!("{k} {}", compact(v))).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

pub fn timer_group(timer: &Value) -> Option<String> {
    match timer_parts(timer) {
        (name, Some(Value::Array(a))) if name == "Group" => a.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// What a timer firing means, in Kafka's config names.
pub fn timer(timer: &Value, on_broker: bool) -> Option<String> {
    let (name, arg) = timer_parts(timer);
    let n = arg.map(compact).unwrap_or_default();
    Some(match name.as_str() {
        // Consumer
        "Poll" => "poll(): sends the fetches and offset lookups that are due".into(),
        "AutoCommit" => "auto.commit.interval.ms elapsed: time to commit the consumed positions".into(),
        "Rejoin" => "retry.backoff.ms elapsed: looks for the coordinator or joins the group again".into(),
        "ProcessingDone" => "the application finished processing a record".into(),
        "PollTimeout" => "max.poll.interval.ms passed since the last poll()".into(),
        "Heartbeat" if on_broker => "broker.heartbeat.interval.ms elapsed: time to heartbeat the controller".into(),
        "Heartbeat" => "heartbeat.interval.ms elapsed: time to send a Heartbeat to the coordinator".into(),
        "RequestTimeout" => format!("request.timeout.ms ran out for request {n}: it counts as failed"),
        // Producer
        "NextRecord" => "the application calls send()".into(),
        "Drain" => "the sender looks for batches that are ready (linger.ms over or batch full, backoff over)".into(),
        "MetadataTimeout" => format!("the metadata request {n} got no answer in time"),
        "MetadataRefresh" => "retry.backoff.ms elapsed: asks for metadata again".into(),
        // Broker
        "FetchExpiry" => format!("a delayed fetch ({n}) reached its max.wait.ms: answered with what there is"),
        "ProduceExpiry" => format!("a delayed acks=all produce ({n}) reached its timeout: REQUEST_TIMED_OUT"),
        "FetchSlice" => format!("the read of fetch answer {n} finishes slicing the segment (KAFKA-9835 bug switch)"),
        "FlushTick" => "the log flusher checks flush.ms".into(),
        "IsrCheck" => "the ISR check: followers behind for replica.lag.time.max.ms leave the ISR".into(),
        "HwCheckpoint" => "writes the high-watermark checkpoint file".into(),
        "ReplicaFetchBackoff" => "replica.fetch.backoff.ms elapsed: fetches from the leaders again".into(),
        "TruncateDiverged" => "the fetcher truncates the diverged logs of its last answer (KAFKA-14704 bug switch)".into(),
        "ReplicaFetchTimeout" => format!("the replica fetch {n} got no answer in time"),
        "RetentionCheck" => "the retention check (retention.ms, retention.bytes)".into(),
        "OffsetsRetentionCheck" => "the offset expiry check (offsets.retention.minutes)".into(),
        "GroupsLoaded" => format!("finished loading {n}: now coordinates the groups stored there"),
        "Group" => group_timer(arg?)?,
        // Controller
        "SessionCheck" => "looks for brokers whose broker.session.timeout.ms expired".into(),
        _ => return None,
    })
}

fn group_timer(arg: &Value) -> Option<String> {
    let a = arg.as_array()?;
    let group = a.first()?.as_str()?;
    let (name, member) = timer_parts(a.get(1)?);
    let member = member.map(compact).unwrap_or_default();
    Some(match name.as_str() {
        "InitialDelay" => format!("group {group}: group.initial.rebalance.delay.ms elapsed"),
        "JoinDeadline" => format!("group {group}: the rebalance timeout of the join phase ran out"),
        "SyncDeadline" => format!("group {group}: the rebalance timeout of the sync phase ran out"),
        "Session" => format!("group {group}: checks member {member}'s session.timeout.ms"),
        "PendingMember" => format!("group {group}: pending member {member} (MEMBER_ID_REQUIRED) never joined"),
        _ => return None,
    })
}

fn tps(v: &Value) -> String {
    let items: Vec<&str> = v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    format!("[{}]", items.join(", "))
}

fn offsets_value(v: &Value) -> String {
    let items: Vec<String> = v
        .as_array()
        .map(|a| a.iter().map(|p| format!("{}={}", p[0].as_str().unwrap_or("?"), p[1])).collect())
        .unwrap_or_default();
    items.join(", ")
}

fn record_id(v: &Value) -> String {
    format!("p{}#{}", v["producer"], v["seq"])
}

/// A client observation in words: what the application saw.
pub fn observation(o: &Value) -> Option<String> {
    let op = o.get("op")?.as_str()?;
    let tp = o.get("partition").and_then(Value::as_str).unwrap_or("?");
    let group = o.get("group").and_then(Value::as_str).unwrap_or("?");
    let generation = o.get("generation").map(|g| g.to_string()).unwrap_or_default();
    Some(match op {
        "produce_invoked" => {
            let key = o.get("key").and_then(Value::as_str).map_or("no key".to_string(), |k| format!("key {k}"));
            format!("send() of record {} ({key}) to {tp}", record_id(&o["record"]))
        }
        "produce_acked" => match o.get("offset").filter(|v| !v.is_null()) {
            Some(off) => format!("producer callback: record {} acknowledged at {tp} offset {off} (acks={})", record_id(&o["record"]), o["acks"].as_str().unwrap_or("?")),
            None => format!("producer callback: record {} sent to {tp} with acks=0: no offset (-1)", record_id(&o["record"])),
        },
        "produce_failed" => format!("producer callback: record {} to {tp} failed with {}", record_id(&o["record"]), o["error"].as_str().unwrap_or("?")),
        "polled" => {
            let recs = o.get("records")?.as_array()?;
            let hw = &o["high_watermark"];
            match (recs.first(), recs.last()) {
                (Some(a), Some(_)) if recs.len() == 1 => format!("poll() returns 1 record of {tp} at offset {} (high watermark {hw})", a[0]),
                (Some(a), Some(z)) => format!("poll() returns {} of {tp} at offsets {}..{} (high watermark {hw})", words::count(recs.len(), "record"), a[0], z[0]),
                _ => format!("poll() returns no records of {tp} (high watermark {hw})"),
            }
        }
        "processed" => {
            // `through` is the position after the last record processed.
            let (from, through) = (o["from"].as_i64().unwrap_or(0), o["through"].as_i64().unwrap_or(0));
            if through - from <= 1 {
                format!("the application processed {tp} offset {from}")
            } else {
                format!("the application processed {tp} offsets {from}..{}", through - 1)
            }
        }
        "position_set" => {
            let why = match o["reason"].as_str() {
                Some("start") => "the configured starting point",
                Some("reset") => "auto.offset.reset after OFFSET_OUT_OF_RANGE",
                Some("committed") => "the group's committed offset",
                _ => "?",
            };
            format!("position of {tp} set to {} ({why})", o["offset"])
        }
        "offsets_written" => format!("group {group}: committed offsets {} written to __consumer_offsets", offsets_value(&o["offsets"])),
        "offsets_expired" => {
            let topics = o["subscribed"].as_array().map_or(String::new(), |t| t.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "));
            let members = match o["members"].as_u64().unwrap_or(0) {
                0 => "no members".to_string(),
                n => format!("{n} member(s) subscribing to {}", if topics.is_empty() { "nothing" } else { &topics }),
            };
            format!("group {group} ({}, {members}): committed offsets {} expired (offsets.retention.minutes)", o["state"].as_str().unwrap_or("?"), offsets_value(&o["offsets"]))
        }
        "no_committed_offset" => format!(
            "group {group} has no committed offset for {} (OffsetFetch sent at {:.3}s): they start from auto.offset.reset",
            tps(&o["partitions"]),
            o["asked_at"].as_u64().unwrap_or(0) as f64 / 1e6
        ),
        "joined" => format!("joined group {group} generation {generation} as member {}, still owning {}", o["member_id"].as_str().unwrap_or("?"), tps(&o["owned"])),
        "assigned" => format!("group {group} generation {generation}: assigned {}", tps(&o["partitions"])),
        "revoked" => {
            let callback = if o["lost"].as_bool() == Some(true) { "onPartitionsLost" } else { "onPartitionsRevoked" };
            format!("{callback}({}) — owned since generation {generation} of group {group}", tps(&o["partitions"]))
        }
        "commit_requested" => format!("commits {} (group {group} generation {generation})", offsets_value(&o["offsets"])),
        "committed" => format!("commit of {} answered {} (group {group} generation {generation})", offsets_value(&o["offsets"]), o["error"].as_str().unwrap_or("?")),
        _ => return None,
    })
}

/// An fsync completion.
pub fn disk_done(done: &Value) -> Option<String> {
    let s = done.get("Synced")?;
    Some(format!("fsync of {} done: {} durable", s["file"].as_str()?, entries(s["len"].as_u64()?)))
}

/// A disk write as the node issued it (page cache first; fsync makes it durable).
pub fn disk_op(op: &str, file: &str, len: u64) -> String {
    match op {
        "append" => format!("appends {} to {file} (page cache)", if len == 1 { "an entry".to_string() } else { format!("{len} entries") }),
        "fsync" => format!("starts fsync of {file}"),
        "truncate" => format!("truncates {file} to {len} entries"),
        "rewrite" => format!("rewrites {file} ({len} entries)"),
        other => format!("disk {other} on {file} ({len})"),
    }
}

/// A node crashing, stopping, pausing or coming back.
pub fn lifecycle(change: &str) -> Option<&'static str> {
    Some(match change {
        "crashed" => "crashes: its process and its page cache are gone (only fsynced data survives)",
        "crashed mid-write" => "crashes in the middle of a write: its process is gone; the OS had written back its unsynced appends except the last of each file, which is half written",
        "killed" => "is killed: its process is gone, the OS keeps its page cache",
        "stopping" => "is shutting down gracefully",
        "stopped" => "stopped",
        "paused" => "is paused (a GC pause or SIGSTOP): it handles nothing until resumed",
        "resumed" => "resumes after a pause",
        _ => return None,
    })
}
