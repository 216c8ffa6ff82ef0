//! Builds the senders from the settings at start-up: the SMS sender and the notifier, both
//! sharing one development outbox handle (so erasure rewrites its files under the same locks),
//! and the start-up warnings about what is and is not configured. It must not send anything
//! itself nor decide when messages are sent.

use std::path::Path;
use std::sync::Arc;

use crate::{
    DeliveryError, DevOutbox, DroppedNotices, NoSmsGateway, Notifier, NotifierSettings, OutboxNotifier, OutboxSms, SmsSender, SmsSettings, SmtpNotifier,
    WebhookNotifier, WebhookSms, WebhookTarget,
};

/// Everything that sends, built once.
pub struct Senders {
    pub sms: Arc<dyn SmsSender>,
    pub notifier: Arc<dyn Notifier>,
    /// The development outbox directory, shared with its senders (when on); erasure rewrites
    /// it whether or not it is on.
    pub outbox: Arc<DevOutbox>,
}

/// The senders for these settings. `dev_outbox` sends what has no gateway or notifier to the
/// development outbox in `outbox_dir`.
pub fn build(sms: &SmsSettings, notifier: Option<&NotifierSettings>, dev_outbox: bool, outbox_dir: &Path) -> Result<Senders, DeliveryError> {
    let outbox = Arc::new(DevOutbox::new(outbox_dir));
    let outbox_used = dev_outbox && (matches!(sms, SmsSettings::NoGateway) || notifier.is_none());
    if outbox_used {
        tracing::warn!(dir = %outbox.dir().display(), "the development outbox is on: text messages and notices without a gateway are written there with phone numbers and email addresses in plaintext (files 0600); never in production");
    } else {
        match outbox.files() {
            Ok(files) if !files.is_empty() => {
                tracing::warn!(dir = %outbox.dir().display(), files = files.len(), "the development outbox is off, but its directory holds files from when it was on: they may hold phone numbers and email addresses; delete them");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(dir = %outbox.dir().display(), %error, "the development outbox directory cannot be read"),
        }
    }
    let sms: Arc<dyn SmsSender> = match sms {
        SmsSettings::NoGateway if dev_outbox => Arc::new(OutboxSms(outbox.sms())),
        SmsSettings::NoGateway => {
            tracing::warn!(
                "no SMS gateway is configured ([sms] webhook_url, --sms-webhook-url): text-message codes cannot be sent, so SMS enrollment and SMS sign-in codes are refused (--dev-outbox writes them to a file, for development only)"
            );
            Arc::new(NoSmsGateway)
        }
        SmsSettings::Webhook { url, secret } => Arc::new(WebhookSms(WebhookTarget::new(url.clone(), secret)?, url.to_string())),
    };
    tracing::info!(sender = %sms.describe(), "text messages");
    let notifier: Arc<dyn Notifier> = match notifier {
        None if dev_outbox => Arc::new(OutboxNotifier(outbox.notifications())),
        None => {
            tracing::warn!(
                "no notifier is configured ([notifications] smtp_host or webhook_url): notices to users (new sign-ins, factor changes, locks) are not sent"
            );
            Arc::new(DroppedNotices)
        }
        Some(NotifierSettings::Smtp { host, port, from, username, password, require_tls }) => {
            let credentials = username.clone().zip(password.clone());
            Arc::new(SmtpNotifier::new(host, *port, from, credentials, *require_tls)?)
        }
        Some(NotifierSettings::Webhook { url, secret }) => Arc::new(WebhookNotifier(WebhookTarget::new(url.clone(), secret)?, url.to_string())),
    };
    tracing::info!(notifier = %notifier.describe(), "notices to users");
    Ok(Senders { sms, notifier, outbox })
}
