//! What every handler can reach: the service core and the HTTP layer's own settings. Built
//! once in `startup`, cloned cheaply per request.

use std::ops::Deref;
use std::sync::Arc;

use ipnet::IpNet;

use crate::config::Config;
use crate::http::cookies::CookieSettings;
use crate::pages::Pages;
use crate::service::Core;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub core: Arc<Core>,
    pub config: Config,
    pub cookies: CookieSettings,
    pub origins: Vec<String>,
    pub trusted_proxies: Vec<IpNet>,
    /// The hosted pages: templates, words, assets.
    pub pages: Pages,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
