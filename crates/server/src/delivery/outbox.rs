//! An append-only JSON-lines file. Each line is written with one `write` call under a lock, so
//! concurrent senders never interleave and a reader sees whole lines.

use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::DeliveryError;

pub struct Outbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Outbox {
    pub fn new(path: PathBuf) -> Self {
        Self { path, lock: Mutex::new(()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&self, value: &impl Serialize) -> Result<(), DeliveryError> {
        let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let _guard = self.lock.lock().map_err(|_| std::io::Error::other("outbox lock poisoned"))?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        file.write_all(&line)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_whole_lines() {
        let dir = std::env::temp_dir().join(format!("gatehouse-outbox-{}", std::process::id()));
        let outbox = Outbox::new(dir.join("nested").join("out.jsonl"));
        outbox.append(&serde_json::json!({"a": 1})).unwrap();
        outbox.append(&serde_json::json!({"b": "x\ny"})).unwrap();
        let text = std::fs::read_to_string(outbox.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
        let _ = std::fs::remove_dir_all(dir);
    }
}
