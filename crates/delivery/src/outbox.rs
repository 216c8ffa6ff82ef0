//! The development outbox: JSON-lines files in one directory (`DATA_DIR/outbox`) that stand in
//! for an SMS gateway (`sms.jsonl`) and a mail relay (`notifications.jsonl`). They hold phone
//! numbers, codes and email addresses in plaintext, so they exist only when the operator opts in
//! (`dev_outbox`); erasure removes a person's lines whether or not the outbox is still on.
//!
//! The files are private to the service user: the directory is created 0700 and each file 0600,
//! and looser permissions found on either are tightened. Each line is written with one `write`
//! call, so a reader sees whole lines. Appending and rewriting take the outbox's mutex (senders
//! in this process) and then an advisory lock on `DIR/outbox.lock` (another process, such as
//! `gatehouse gdpr erase` beside a running server): a rewrite never loses a line appended
//! meanwhile, and never brings back a line it removed.
//!
//! Symbolic links are never followed, neither the directory nor a file in it: otherwise whoever
//! could write in the data directory could have personal data written, modes changed and, at
//! erasure, bytes zeroed in any file the service user can reach.

use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::DeliveryError;

/// Text messages with one-time codes.
pub const SMS_FILE: &str = "sms.jsonl";
/// Notices to users.
pub const NOTIFICATIONS_FILE: &str = "notifications.jsonl";
/// The advisory lock appends and rewrites take (empty).
const LOCK_FILE: &str = "outbox.lock";

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

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    pub fn append(&self, value: &impl Serialize) -> Result<(), DeliveryError> {
        let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let _guard = self.lock.lock().map_err(|_| std::io::Error::other("outbox lock poisoned"))?;
        private_dir(self.dir())?;
        let _file_lock = lock(self.dir())?;
        let mut file = regular(OpenOptions::new().create(true).append(true).mode(0o600).custom_flags(no_follow()).open(&self.path)?)?;
        tighten(&file, 0o600)?;
        file.write_all(&line)?;
        Ok(())
    }

    /// Rewrites the file without the lines `forget` matches; returns how many went. Atomic: the
    /// kept lines go to a private temporary file in the same directory, synced, then renamed over
    /// the file; the replaced file's bytes are then overwritten with zeros (best effort: a
    /// copy-on-write file system or an SSD may keep the old blocks).
    pub fn remove_lines(&self, forget: impl Fn(&[u8]) -> bool) -> Result<usize, DeliveryError> {
        let _guard = self.lock.lock().map_err(|_| std::io::Error::other("outbox lock poisoned"))?;
        let dir = self.dir();
        if !dir.is_dir() {
            return Ok(0);
        }
        let _file_lock = lock(dir)?;
        refuse_link(dir)?;
        let mut original = match OpenOptions::new().read(true).write(true).custom_flags(no_follow()).open(&self.path) {
            Ok(file) => regular(file)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        tighten(&original, 0o600)?;
        let mut bytes = Vec::new();
        original.read_to_end(&mut bytes)?;
        let mut kept = Vec::with_capacity(bytes.len());
        let mut removed = 0;
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            if forget(line) {
                removed += 1;
            } else {
                kept.extend_from_slice(line);
            }
        }
        if removed == 0 {
            return Ok(0);
        }
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temporary = dir.join(format!(".{name}.rewrite"));
        if let Err(e) = std::fs::remove_file(&temporary)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(e.into());
        }
        let mut rewritten = OpenOptions::new().create_new(true).write(true).mode(0o600).open(&temporary)?;
        rewritten.write_all(&kept)?;
        rewritten.sync_all()?;
        drop(rewritten);
        std::fs::rename(&temporary, &self.path)?;
        File::open(dir)?.sync_all()?;
        // The old file is unlinked, and no appender holds it (they open the path under the lock).
        let zeros = vec![0u8; bytes.len()];
        let overwrite = original.rewind().and_then(|()| original.write_all(&zeros)).and_then(|()| original.sync_all());
        if let Err(error) = overwrite {
            tracing::debug!(%error, "overwriting a replaced outbox file failed");
        }
        Ok(removed)
    }
}

/// `O_NOFOLLOW`: opening a symbolic link fails instead of opening its target.
fn no_follow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// The file, if it is a regular file (not a FIFO, a device or a directory).
fn regular(file: File) -> std::io::Result<File> {
    if file.metadata()?.is_file() { Ok(file) } else { Err(std::io::Error::other("an outbox path is not a regular file")) }
}

/// Refuses a directory that is a symbolic link.
fn refuse_link(dir: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(std::io::Error::other(format!("the outbox directory {} is a symbolic link; refusing to follow it", dir.display())))
        }
        _ => Ok(()),
    }
}

/// Creates the directory 0700, or tightens it to 0700 (never through a symbolic link).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    refuse_link(dir)?;
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.permissions().mode() & 0o077 != 0 => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir),
        Err(e) => Err(e),
    }
}

/// Clears every permission bit beyond `mode` (a file made looser by hand, or by an older
/// version, becomes private when next opened).
fn tighten(file: &File, mode: u32) -> std::io::Result<()> {
    let current = file.metadata()?.permissions().mode() & 0o7777;
    if current & !mode != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

/// Takes the directory's advisory lock (blocking); released when the file is dropped.
fn lock(dir: &Path) -> std::io::Result<File> {
    let file = regular(OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).custom_flags(no_follow()).open(dir.join(LOCK_FILE))?)?;
    file.lock()?;
    Ok(file)
}

/// Whom an erasure forgets: their id and where messages reached them.
#[derive(Clone, Debug, Default)]
pub struct Recipient {
    pub user_id: String,
    pub email: String,
    /// Every phone number of their text-message factors (read before their key is destroyed).
    pub phones: Vec<String>,
}

impl Recipient {
    /// Whether an outbox line mentions the person: a JSON line whose `user_id` is theirs, or
    /// with a value anywhere equal to their email address (in any case) or one of their numbers;
    /// a line that is not JSON, when either appears in it at all.
    pub fn mentioned_in(&self, line: &[u8]) -> bool {
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(fields)) => {
                let theirs = fields.get("user_id").and_then(serde_json::Value::as_str).is_some_and(|id| !self.user_id.is_empty() && id == self.user_id);
                theirs || fields.values().any(|value| self.is_reached_by(value))
            }
            Ok(value) => self.is_reached_by(&value),
            Err(_) => {
                let lower = line.to_ascii_lowercase();
                let email = self.email.to_ascii_lowercase();
                std::iter::once(email.as_bytes()).chain(self.phones.iter().map(|p| p.as_bytes())).any(|needle| contains(&lower, needle))
            }
        }
    }

    /// A JSON value that is (or holds) their email address or one of their numbers.
    fn is_reached_by(&self, value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(text) => (!self.email.is_empty() && text.eq_ignore_ascii_case(&self.email)) || self.phones.iter().any(|p| p == text),
            serde_json::Value::Array(items) => items.iter().any(|v| self.is_reached_by(v)),
            serde_json::Value::Object(fields) => fields.values().any(|v| self.is_reached_by(v)),
            _ => false,
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The outbox directory and its two files, shared by the senders and by erasure so both take
/// the same locks.
pub struct DevOutbox {
    dir: PathBuf,
    sms: Arc<Outbox>,
    notifications: Arc<Outbox>,
}

impl DevOutbox {
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_owned(), sms: Arc::new(Outbox::new(dir.join(SMS_FILE))), notifications: Arc::new(Outbox::new(dir.join(NOTIFICATIONS_FILE))) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn sms(&self) -> Arc<Outbox> {
        Arc::clone(&self.sms)
    }

    pub fn notifications(&self) -> Arc<Outbox> {
        Arc::clone(&self.notifications)
    }

    /// The `*.jsonl` files in the directory (none when it does not exist).
    pub fn files(&self) -> Result<Vec<PathBuf>, DeliveryError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "jsonl") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// Rewrites every outbox file without the lines that mention the person; returns how many
    /// lines went.
    pub fn forget(&self, person: &Recipient) -> Result<usize, DeliveryError> {
        let mut removed = 0;
        for path in self.files()? {
            let outbox = if path == self.sms.path() {
                Arc::clone(&self.sms)
            } else if path == self.notifications.path() {
                Arc::clone(&self.notifications)
            } else {
                Arc::new(Outbox::new(path))
            };
            removed += outbox.remove_lines(|line| person.mentioned_in(line))?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gatehouse-outbox-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn appends_whole_lines() {
        let dir = temp_dir("lines");
        let outbox = Outbox::new(dir.join("nested").join("out.jsonl"));
        outbox.append(&serde_json::json!({"a": 1})).unwrap();
        outbox.append(&serde_json::json!({"b": "x\ny"})).unwrap();
        let text = std::fs::read_to_string(outbox.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn files_are_private_and_looser_ones_are_tightened() {
        let dir = temp_dir("private");
        let outbox = DevOutbox::new(&dir);
        outbox.sms().append(&serde_json::json!({"to": "+358401234567"})).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(SMS_FILE)), 0o600);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.join(SMS_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
        outbox.sms().append(&serde_json::json!({"to": "+358401234567"})).unwrap();
        assert_eq!((mode(&dir), mode(&dir.join(SMS_FILE))), (0o700, 0o600));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn outbox_files_and_directories_that_are_symbolic_links_are_never_followed() {
        let base = std::env::temp_dir().join(format!("gatehouse-outbox-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("outbox");
        std::fs::create_dir_all(&dir).unwrap();
        let victim = base.join("victim");
        std::fs::write(&victim, b"victim\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(SMS_FILE)).unwrap();
        let outbox = Outbox::new(dir.join(SMS_FILE));
        assert!(outbox.append(&serde_json::json!({"to": "+358401234567"})).is_err(), "a linked file is not written through");
        assert!(outbox.remove_lines(|_| true).is_err(), "nor rewritten or zeroed");
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim\n");
        assert_eq!(std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777, 0o644, "its mode untouched");
        // A linked directory.
        let elsewhere = base.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let linked = base.join("linked-outbox");
        std::os::unix::fs::symlink(&elsewhere, &linked).unwrap();
        let outbox = Outbox::new(linked.join(SMS_FILE));
        assert!(outbox.append(&serde_json::json!({"to": "+358401234567"})).is_err());
        assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none(), "nothing written there");
        let _ = std::fs::remove_dir_all(base);
    }

    #[test]
    fn forgetting_a_person_removes_exactly_their_lines() {
        let dir = temp_dir("forget");
        let outbox = DevOutbox::new(&dir);
        outbox.sms().append(&serde_json::json!({"id": "1", "user_id": "u-bob", "to": "+358409999999", "text": "code 1"})).unwrap();
        outbox.sms().append(&serde_json::json!({"id": "2", "to": "+358401234567", "text": "code 2"})).unwrap();
        outbox.sms().append(&serde_json::json!({"id": "3", "user_id": "u-ann", "to": "+358405555555", "text": "code 3"})).unwrap();
        outbox.notifications().append(&serde_json::json!({"user_id": "u-bob", "to": "bob@acme.test", "kind": "password_changed"})).unwrap();
        outbox.notifications().append(&serde_json::json!({"user_id": "u-old", "to": "Bob@Acme.test", "kind": "account_locked"})).unwrap();
        outbox.notifications().append(&serde_json::json!({"user_id": "u-ann", "to": "ann@acme.test", "kind": "password_changed"})).unwrap();
        outbox.notifications().append(&serde_json::json!({"user_id": "u-big", "to": "bigbob@acme.test", "kind": "password_changed"})).unwrap();
        std::fs::write(dir.join("other.jsonl"), "not json, but bob@acme.test\n{\"x\":1}\n").unwrap();
        std::fs::set_permissions(dir.join("other.jsonl"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(dir.join("notes.txt"), "bob@acme.test").unwrap();
        let bob = Recipient { user_id: "u-bob".into(), email: "bob@acme.test".into(), phones: vec!["+358401234567".into()] };
        assert_eq!(outbox.forget(&bob).unwrap(), 5);
        let sms = std::fs::read_to_string(dir.join(SMS_FILE)).unwrap();
        let notices = std::fs::read_to_string(dir.join(NOTIFICATIONS_FILE)).unwrap();
        assert_eq!((sms.lines().count(), notices.lines().count()), (1, 2));
        assert!(sms.contains("u-ann") && notices.contains("u-ann") && notices.contains("bigbob@acme.test"), "another address that contains theirs stays");
        assert_eq!(std::fs::read_to_string(dir.join("other.jsonl")).unwrap(), "{\"x\":1}\n");
        for file in [SMS_FILE, NOTIFICATIONS_FILE, "other.jsonl"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
        assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "bob@acme.test", "only outbox files");
        assert!(!std::fs::read_dir(&dir).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".rewrite")));
        assert_eq!(outbox.forget(&bob).unwrap(), 0, "nothing left to remove");
        outbox.sms().append(&serde_json::json!({"id": "4"})).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join(SMS_FILE)).unwrap().lines().count(), 2, "appends continue after a rewrite");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(DevOutbox::new(&dir).forget(&bob).unwrap(), 0, "no directory, nothing to do");
        assert!(!dir.exists());
    }

    #[test]
    fn rewrites_lose_no_line_appended_meanwhile() {
        let dir = temp_dir("race");
        let outbox = Arc::new(DevOutbox::new(&dir));
        let bob = Recipient { user_id: "u-bob".into(), email: "bob@acme.test".into(), phones: vec![] };
        let writer = {
            let outbox = Arc::clone(&outbox);
            std::thread::spawn(move || {
                for n in 0..200 {
                    outbox.notifications().append(&serde_json::json!({"user_id": if n % 2 == 0 { "u-bob" } else { "u-ann" }, "n": n})).unwrap();
                }
            })
        };
        // Another handle on the same directory, as `gatehouse gdpr erase` in another process has.
        let other = DevOutbox::new(&dir);
        for _ in 0..20 {
            other.forget(&bob).unwrap();
        }
        writer.join().unwrap();
        other.forget(&bob).unwrap();
        let text = std::fs::read_to_string(dir.join(NOTIFICATIONS_FILE)).unwrap();
        assert_eq!(text.lines().count(), 100, "every line of Ann's kept, every line of Bob's gone");
        assert!(!text.contains("u-bob"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
