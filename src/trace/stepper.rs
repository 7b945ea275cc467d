//! `kafkasim step`: a run stepped in an 80×24 terminal. The screen is a pure function of the
//! page data ([`super::view::data`]) and a step; the CLI reads keys and prints screens.

use std::collections::BTreeMap;

use serde_json::Value;

use super::state::SEP;
use super::text::seconds;
use super::view::{FAULT, REBALANCE, VIOLATION};

pub const WIDTH: usize = 80;
pub const HEIGHT: usize = 24;

/// A run's rows and state cells, with the cells of the last step asked for cached.
pub struct Stepper {
    data: Value,
    cached: Option<(usize, BTreeMap<usize, String>)>,
}

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Next,
    Back,
    Fault,
    Rebalance,
    Violation,
    Quit,
}

impl Stepper {
    pub fn new(data: Value) -> Stepper {
        Stepper { data, cached: None }
    }

    pub fn len(&self) -> usize {
        self.data["rows"].as_array().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn row(&self, i: usize) -> &Value {
        &self.data["rows"][i]
    }

    /// The step a key leads to from `i` (the same step when there is nowhere to go).
    pub fn after(&self, i: usize, key: Key) -> usize {
        let next_with = |flag: u64| (i + 1..self.len()).find(|&r| self.row(r)[8].as_u64().unwrap_or(0) & flag != 0).unwrap_or(i);
        match key {
            Key::Next => (i + 1).min(self.len().saturating_sub(1)),
            Key::Back => i.saturating_sub(1),
            Key::Fault => next_with(FAULT),
            Key::Rebalance => next_with(REBALANCE),
            Key::Violation => next_with(VIOLATION),
            Key::Quit => i,
        }
    }

    /// The state cells after row `i`: the keyframe before it, then each row's changes.
    fn cells(&mut self, i: usize) -> BTreeMap<usize, String> {
        let k = self.data["keyframe"].as_u64().unwrap_or(1) as usize;
        let (mut cells, from) = match self.cached.take() {
            Some((at, cells)) if at <= i && i - at < k => (cells, at + 1),
            _ => {
                let frame = i / k;
                let cells = self.data["frames"][frame].as_array().into_iter().flatten().map(|c| (c[0].as_u64().unwrap_or(0) as usize, c[1].as_str().unwrap_or("").to_string())).collect();
                (cells, frame * k + 1)
            }
        };
        for r in from..=i {
            for d in self.row(r)[9].as_array().into_iter().flatten() {
                let key = d[0].as_u64().unwrap_or(0) as usize;
                match d[1].as_str() {
                    Some(v) => cells.insert(key, v.to_string()),
                    None => cells.remove(&key),
                };
            }
        }
        self.cached = Some((i, cells.clone()));
        cells
    }

    /// The screen at step `i`: at most [`HEIGHT`] lines of at most [`WIDTH`] characters.
    pub fn screen(&mut self, i: usize) -> Vec<String> {
        let row = self.row(i).clone();
        let mut out: Vec<String> = Vec::new();
        let verdict = match self.data["verdict"].as_object() {
            Some(v) => format!("verdict {}", v["verdict"].as_str().unwrap_or("?")),
            None => "saved trace".to_string(),
        };
        out.push(format!("{} seed {} ({verdict})  step {i}/{}  seq {}", self.data["scenario"].as_str().unwrap_or("?"), self.data["seed"], self.len().saturating_sub(1), row[0]));
        let line = format!("{} {} {}", seconds(row[1].as_u64().unwrap_or(0)), row[6].as_str().unwrap_or(""), row[7].as_str().unwrap_or(""));
        let mut wrapped = wrap(&line, WIDTH);
        wrapped.truncate(4);
        out.extend(wrapped);
        let flags = row[8].as_u64().unwrap_or(0);
        let mut marks = Vec::new();
        if flags & FAULT != 0 {
            marks.push("FAULT".to_string());
        }
        if flags & REBALANCE != 0 {
            marks.push("REBALANCE".to_string());
        }
        if flags & VIOLATION != 0 {
            let cited: Vec<&Value> = self.data["violations"].as_array().into_iter().flatten().filter(|v| v["rows"].as_array().is_some_and(|r| r.iter().any(|x| x.as_u64() == Some(i as u64)))).collect();
            if let Some(v) = cited.first() {
                marks.push(format!("VIOLATION [{}] {}", v["kind"].as_str().unwrap_or("?"), v["summary"].as_str().unwrap_or("")));
            }
        }
        out.push(if marks.is_empty() { String::new() } else { format!("** {}", marks.join(" ** ")) });
        // Panels: one line per partition, group and consumer.
        let keys: Vec<String> = self.data["keys"].as_array().into_iter().flatten().map(|k| k.as_str().unwrap_or("").to_string()).collect();
        let mut tables: BTreeMap<(usize, String), Vec<(String, String)>> = BTreeMap::new();
        for (k, v) in self.cells(i) {
            let mut parts = keys[k].split(SEP);
            let (panel, name, col) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            // Groups and consumers first: they are few; then partitions, internal topics last.
            let order = match panel {
                "groups" => 1,
                "consumers" => 2,
                _ if name.starts_with("__") => 3,
                _ => 0,
            };
            tables.entry((order, name.to_string())).or_default().push((col.to_string(), v));
        }
        let room = HEIGHT - 1 - out.len();
        let mut lines: Vec<String> = Vec::new();
        let mut tables: Vec<((usize, String), Vec<(String, String)>)> = tables.into_iter().collect();
        tables.sort_by_key(|((order, _), _)| [1, 2, 0, 3].iter().position(|o| o == order));
        for ((order, name), mut cols) in tables {
            let rank = |c: &str| ["leader", "epoch", "ISR", "coordinator", "state", "generation", "members", "assignment", "committed", "group", "down", "assigned", "positions"].iter().position(|x| *x == c).unwrap_or(99);
            cols.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
            let body: Vec<String> = cols
                .iter()
                .filter(|(_, v)| !v.is_empty() && v != "[]")
                .map(|(c, v)| match (order.min(3) % 3, c.as_str()) {
                    (0, "leader") => format!("L={v}"),
                    (0, "epoch") => format!("e{v}"),
                    (0, c) if c.ends_with(" LEO/HW") => format!("{}:{v}", c.trim_end_matches(" LEO/HW")),
                    _ => format!("{c}={v}"),
                })
                .collect();
            let kind = ["P", "G", "C", "P"].get(order).unwrap_or(&"?");
            // A group's assignment and commits get lines of their own.
            let (own, rest): (Vec<String>, Vec<String>) = body.into_iter().partition(|b| order == 1 && (b.starts_with("assignment=") || b.starts_with("committed=")));
            lines.push(clip(&format!("{kind} {name} {}", rest.join(" ")), WIDTH));
            lines.extend(own.iter().map(|b| clip(&format!("    {}", b.replacen('=', " ", 1)), WIDTH)));
        }
        if lines.len() > room {
            let more = lines.len() - room + 1;
            lines.truncate(room - 1);
            lines.push(format!("… {more} more lines (a wider view: kafkasim view)"));
        }
        out.extend(lines);
        while out.len() < HEIGHT - 1 {
            out.push(String::new());
        }
        out.push("n/→ next  p/← back  f fault  r rebalance  v violation  q quit".to_string());
        out.iter().map(|l| clip(l, WIDTH)).collect()
    }
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}

fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in s.split(' ') {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}
