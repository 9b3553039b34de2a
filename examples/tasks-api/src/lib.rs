//! An example resource server: per-user task lists, trusting Portcullis access tokens
//! through `portcullis-verify` (offline, via the JWKS). A user reaches only their own
//! tasks; the `admin` role may read anyone's.
//!
//! | route | who |
//! |---|---|
//! | `GET /api/{user_id}/tasks` | the user, or an admin |
//! | `POST /api/{user_id}/tasks` `{title}` | the user |
//! | `PATCH /api/{user_id}/tasks/{id}` `{title?, done?}` | the user |
//! | `DELETE /api/{user_id}/tasks/{id}` | the user |

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use portcullis_verify::{AuthUser, Claims, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::SqlitePool;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub verifier: Verifier,
    pub db: SqlitePool,
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/{user_id}/tasks", get(list).post(create))
        .route("/api/{user_id}/tasks/{id}", patch(update).delete(remove))
        .with_state(state)
}

/// Creates the one table this example needs.
pub async fn migrate(db: &SqlitePool) -> sqlx::Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS tasks (
            id TEXT PRIMARY KEY NOT NULL,
            user_id TEXT NOT NULL,
            title TEXT NOT NULL,
            done BOOLEAN NOT NULL DEFAULT FALSE,
            created_at BIGINT NOT NULL
        )",
    )
    .execute(db)
    .await?;
    sqlx::query("CREATE INDEX IF NOT EXISTS tasks_user_id_idx ON tasks (user_id, created_at)")
        .execute(db)
        .await?;
    Ok(())
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Task {
    id: String,
    user_id: String,
    title: String,
    done: bool,
    created_at: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    title: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    title: Option<String>,
    done: Option<bool>,
}

/// Errors as problem+json.
pub enum ApiError {
    Forbidden,
    NotFound,
    Invalid,
    Internal(sqlx::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match self {
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::Internal(err) => {
                tracing::error!(%err, "database error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
            }
        };
        let mut response = (
            status,
            Json(json!({"type": "about:blank", "status": status.as_u16(), "code": code})),
        )
            .into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err)
    }
}

/// Writes are for the owner only.
fn owner(claims: &Claims, user_id: &str) -> Result<(), ApiError> {
    (claims.sub == user_id)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

/// Reads are for the owner or an admin.
fn reader(claims: &Claims, user_id: &str) -> Result<(), ApiError> {
    owner(claims, user_id).or_else(|_| {
        claims
            .require_role(&["admin"])
            .map_err(|_| ApiError::Forbidden)
    })
}

fn valid_title(title: &str) -> Result<String, ApiError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(ApiError::Invalid);
    }
    Ok(title.to_owned())
}

async fn list(
    State(db): State<SqlitePool>,
    AuthUser(claims): AuthUser,
    Path(user_id): Path<String>,
) -> Result<Json<Vec<Task>>, ApiError> {
    reader(&claims, &user_id)?;
    let tasks = sqlx::query_as::<_, Task>("SELECT id, user_id, title, done, created_at FROM tasks WHERE user_id = $1 ORDER BY created_at, id")
        .bind(&user_id)
        .fetch_all(&db)
        .await?;
    Ok(Json(tasks))
}

async fn create(
    State(db): State<SqlitePool>,
    AuthUser(claims): AuthUser,
    Path(user_id): Path<String>,
    Json(body): Json<NewTask>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    owner(&claims, &user_id)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let task = Task {
        id: uuid::Uuid::now_v7().to_string(),
        user_id,
        title: valid_title(&body.title)?,
        done: false,
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO tasks (id, user_id, title, done, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&task.id)
    .bind(&task.user_id)
    .bind(&task.title)
    .bind(task.done)
    .bind(task.created_at)
    .execute(&db)
    .await?;
    Ok((StatusCode::CREATED, Json(task)))
}

async fn update(
    State(db): State<SqlitePool>,
    AuthUser(claims): AuthUser,
    Path((user_id, id)): Path<(String, String)>,
    Json(body): Json<TaskPatch>,
) -> Result<Json<Task>, ApiError> {
    owner(&claims, &user_id)?;
    let title = body.title.as_deref().map(valid_title).transpose()?;
    let task = sqlx::query_as::<_, Task>(
        "UPDATE tasks SET title = COALESCE($3, title), done = COALESCE($4, done)
         WHERE id = $1 AND user_id = $2
         RETURNING id, user_id, title, done, created_at",
    )
    .bind(&id)
    .bind(&user_id)
    .bind(title)
    .bind(body.done)
    .fetch_optional(&db)
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(Json(task))
}

async fn remove(
    State(db): State<SqlitePool>,
    AuthUser(claims): AuthUser,
    Path((user_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    owner(&claims, &user_id)?;
    let deleted = sqlx::query("DELETE FROM tasks WHERE id = $1 AND user_id = $2")
        .bind(&id)
        .bind(&user_id)
        .execute(&db)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
