//! Administration (role `admin`): users, their roles, bans and sessions, and the audit
//! trail. Every change is recorded in the same transaction as an audit event.

mod audit;
mod settings;
mod users;

use portcullis_store::Page;
use utoipa_axum::router::OpenApiRouter;

use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::router())
        .merge(audit::router())
        .merge(settings::router())
}

const MAX_PER_PAGE: i64 = 200;
const DEFAULT_PER_PAGE: i64 = 50;

/// The page a list query asks for: `page` from 1, `per_page` from 1 to 200 (default 50).
pub struct Paging {
    pub page: i64,
    pub per_page: i64,
}

impl Paging {
    pub fn parse(page: Option<i64>, per_page: Option<i64>) -> ApiResult<Self> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page < 1 {
            return Err(ApiError::field("page", "out_of_range"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::field("per_page", "out_of_range"));
        }
        Ok(Self { page, per_page })
    }

    pub fn window(&self) -> Page {
        Page {
            limit: self.per_page,
            offset: (self.page - 1).saturating_mul(self.per_page),
        }
    }
}
