//! `gatehouse audit verify`: checks the whole audit chain (read-only, safe beside a running
//! server) and names the first record that was changed, deleted, inserted or reordered.

use anyhow::{Result, bail};
use gatehouse_core::audit::{GENESIS, verify_chain};
use gatehouse_store::sqlite::OpenMode;
use gatehouse_store::{AuditStore, Store};

use crate::datadir::DataDir;
use crate::settings::{CommonArgs, FileSettings};

/// Records read per page, so memory stays flat however long the trail.
const PAGE: u32 = 10_000;

pub async fn verify(common: &CommonArgs, file: &FileSettings) -> Result<()> {
    let data_dir = DataDir::new(&common.data_dir(file));
    let store = data_dir.open_store(OpenMode::ReadOnly).await?;
    let mut last = (0u64, GENESIS.to_vec());
    loop {
        let page = store.audit_records(last.0, PAGE).await?;
        if page.is_empty() {
            break;
        }
        match verify_chain((last.0, &last.1), &page) {
            Ok(verified) => last = verified,
            Err(broken) => {
                store.close().await;
                bail!("audit chain broken at record {}: {broken}", broken.seq());
            }
        }
    }
    store.close().await;
    println!("audit chain intact: {} records", last.0);
    Ok(())
}
