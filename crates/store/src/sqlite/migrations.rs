//! Versioned migrations, embedded in the binary and applied by sqlx's migrator.

use sqlx::SqlitePool;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use crate::StoreResult;

/// (version, description, SQL), in order. Never edit an applied migration: add a new one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/0001_initial.sql")),
    (2, "key activation", include_str!("../../migrations/0002_key_activation.sql")),
    (3, "second factors", include_str!("../../migrations/0003_second_factors.sql")),
    (4, "policies, devices and sign-in history", include_str!("../../migrations/0004_policies_devices_history.sql")),
    (5, "operator applications, tenant change times", include_str!("../../migrations/0005_operator_applications.sql")),
    (6, "audit trail", include_str!("../../migrations/0006_audit_trail.sql")),
    (7, "security monitoring", include_str!("../../migrations/0007_monitoring.sql")),
    (8, "data protection", include_str!("../../migrations/0008_data_protection.sql")),
    (9, "reported addresses by tenant, expiring", include_str!("../../migrations/0009_reported_addresses_by_tenant.sql")),
    (10, "client credentials scopes", include_str!("../../migrations/0010_client_scopes.sql")),
    (11, "factors suspect during a credentials reset", include_str!("../../migrations/0011_reset_since.sql")),
    (12, "a sign-in completed in one statement", include_str!("../../migrations/0012_sign_in_completion.sql")),
    (13, "third-party sign-in", include_str!("../../migrations/0013_federation.sql")),
    (14, "one identity per provider and account", include_str!("../../migrations/0014_one_identity_per_provider.sql")),
    (15, "SAML replay cache", include_str!("../../migrations/0015_saml_assertions_seen.sql")),
    (16, "SAML service-provider keys", include_str!("../../migrations/0016_saml_sp_keys.sql")),
];

#[derive(Debug)]
struct Embedded;

type BoxDynError = Box<dyn std::error::Error + Send + Sync>;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| Migration::new(*version, Cow::Borrowed(*description), MigrationType::Simple, Cow::Borrowed(*sql), false))
                .collect())
        })
    }
}

pub(super) async fn run(pool: &SqlitePool) -> StoreResult<()> {
    let migrator = Migrator::new(Embedded).await?;
    migrator.run(pool).await?;
    Ok(())
}
