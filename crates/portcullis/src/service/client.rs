//! Who is asking: the address, user agent and request id that sessions and audit events
//! record. Front doors fill it in (the HTTP extractor from the connection and headers); the
//! command line has none of them.

#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Client {
    /// An operator at the command line: no address, no user agent, no request.
    pub fn command_line() -> Self {
        Self::default()
    }
}
