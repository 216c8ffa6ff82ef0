//! The unit tests' token service: an in-memory store seeded with the store suite's directory
//! (tenant `t-acme`, user `u-alice`, client `payroll` with secret [`SECRET`]) and its context.

use gatehouse_core::{Client, ClientId};
use gatehouse_crypto::SecretDigester;
use gatehouse_store::Store;
use gatehouse_store::suite::{NOW, audit_entry, seed_directory};
use std::sync::Arc;

use crate::{ClientAuthLimiter, Directory, OAuthContext, TokenLifetimes, ensure_active_keys};

pub const SECRET: &str = "payroll-secret";

pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub lifetimes: TokenLifetimes,
    pub directory: Directory,
    pub digester: SecretDigester,
    pub client_auth: ClientAuthLimiter,
}

impl Fixture {
    pub async fn new() -> Self {
        let store: Arc<dyn Store> = gatehouse_store::testing::in_memory().await.unwrap();
        seed_directory(store.as_ref()).await;
        let digester = SecretDigester::new(b"test pepper");
        let payroll = ClientId::parse("payroll").unwrap();
        store.set_client_secret(&payroll, &digester.digest(SECRET), NOW, &audit_entry("client.secret")).await.unwrap();
        ensure_active_keys(store.as_ref(), NOW).await.unwrap();
        let lifetimes = TokenLifetimes::default();
        let directory = Directory::new(Arc::clone(&store), lifetimes.key_publication_grace());
        directory.reload(NOW).await.unwrap();
        Self { store, lifetimes, directory, digester, client_auth: ClientAuthLimiter::default() }
    }

    pub fn ctx(&self) -> OAuthContext<'_> {
        OAuthContext {
            issuer: "https://id.test",
            lifetimes: &self.lifetimes,
            directory: &self.directory,
            digester: &self.digester,
            client_auth: &self.client_auth,
        }
    }

    pub fn payroll(&self) -> Arc<Client> {
        self.directory.client(&ClientId::parse("payroll").unwrap()).unwrap()
    }
}
