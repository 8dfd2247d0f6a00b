//! The JSON API, version 1 (`/api/v1/...`): the same read model the board
//! renders (each resource's file builds the value both serve), JSON only,
//! every error a JSON object with one sentence. Described by
//! `docs/openapi.yaml`, served at `/api/v1/openapi.yaml`.
//!
//! Campaign routes carry the account (`/api/v1/accounts/{account}/campaigns/{id}`):
//! `default` for a single-account watcher; an account it does not have answers 404.

pub(crate) mod campaigns;
pub(crate) mod events;
pub(crate) mod outbox;
pub(crate) mod silences;
pub(crate) mod status;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;

use super::{HttpState, Viewer};
use crate::commit::{Actor, StoreError};

/// Who an action through the board (`via` "board") or the API ("api") is
/// recorded as: the user, `token:NAME`, or `local` on an open loopback listener.
pub fn actor_of(viewer: &Viewer, via: &'static str) -> Actor {
    Actor {
        name: viewer.user.clone().unwrap_or_else(|| "local".to_string()),
        via,
    }
}

/// The OpenAPI 3 document, as shipped in the repository.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.yaml");

/// Every answer that is not the resource asked for.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The resource is not in a state that allows this (a replay of a row that is not dead).
    #[error("{0}")]
    Conflict(String),
    #[error("the state store cannot be read right now; try again shortly")]
    Store(#[source] StoreError),
    /// The answer could not be made now (the process is stopping).
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::TooManySilences { .. } => Self::Conflict(error.to_string()),
            error => Self::Store(error),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Store(_) | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Store(error) = &self {
            tracing::warn!(%error, "api: the state store cannot be read");
        }
        json_error(self.status(), &self.to_string())
    }
}

/// `{"error": sentence}` with `status`.
pub fn json_error(status: StatusCode, sentence: &str) -> Response {
    (status, Json(serde_json::json!({ "error": sentence }))).into_response()
}

/// Query parameters, or a 400 naming what is wrong with them (axum's own
/// rejection is plain text).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|query| Self(query.0))
            .map_err(|rejection| {
                ApiError::BadRequest(format!(
                    "the query string is not valid: {}; see /api/v1/openapi.yaml",
                    rejection
                        .body_text()
                        .trim_start_matches("Failed to deserialize query string: ")
                ))
            })
    }
}

/// A JSON body, or a 400 naming what is wrong with it (axum's own rejection
/// is plain text, and 415/422 where one sentence and 400 say it better).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|kind| kind.trim_start().starts_with("application/json"));
        if !json {
            return Err(ApiError::BadRequest(
                "the body must be JSON, sent with Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::BadRequest("the body cannot be read (at most 2 MB)".into()))?;
        serde_json::from_slice(&bytes).map(Self).map_err(|error| {
            ApiError::BadRequest(format!(
                "the body is not a valid request: {}; see /api/v1/openapi.yaml",
                crate::text::cap(&error.to_string(), 200)
            ))
        })
    }
}

/// One numeric path segment (an id), or a 400 (axum's rejection is plain text).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|path| Self(path.0))
            .map_err(|_| ApiError::BadRequest("the id in the path must be a whole number".into()))
    }
}

/// `page` and `per_page`, checked (1 or more; at most [`crate::commit::MAX_PER_PAGE`] rows).
pub fn checked_page(page: Option<u32>, per_page: Option<u32>) -> Result<(u32, u32), ApiError> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page == 0 {
        return Err(ApiError::BadRequest(
            "page starts at 1; ask for page=1 or later".into(),
        ));
    }
    if per_page == 0 || per_page > crate::commit::MAX_PER_PAGE {
        return Err(ApiError::BadRequest(format!(
            "per_page must be between 1 and {}",
            crate::commit::MAX_PER_PAGE
        )));
    }
    Ok((page, per_page))
}

/// Rows per page unless asked otherwise.
pub const DEFAULT_PER_PAGE: u32 = 50;

/// An optional query value, empty meaning absent (what an HTML form sends for "any").
pub fn given(value: &Option<String>) -> Option<&str> {
    // Not trimmed: " paused" is not a status, and saying so beats guessing.
    value.as_deref().filter(|v| !v.is_empty())
}

/// Where the API is mounted.
pub const BASE: &str = "/api/v1";

/// The API's routes, relative to [`BASE`] (inside the request timeout).
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/status", get(status::get_status))
        .route("/campaigns", get(campaigns::list))
        .route("/accounts/{account}/campaigns/{id}", get(campaigns::one))
        .route("/accounts/{account}/campaign", get(campaigns::one_by_query))
        .route("/events", get(events::list))
        .route("/silences", get(silences::list).post(silences::create))
        .route("/silences/preview", get(silences::preview))
        .route("/silences/{id}", delete(silences::end))
        .route("/outbox/{id}/replay", post(outbox::replay))
        .route("/openapi.yaml", get(openapi))
        .fallback(unknown)
        .layer(axum::middleware::from_fn(json_method_errors))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI).into_response()
}

async fn unknown() -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        "no such API resource; see /api/v1/openapi.yaml",
    )
}

/// axum answers a wrong method with an empty 405: give it a sentence too.
async fn json_method_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let allow = response.headers().get(header::ALLOW).cloned();
        let mut answer = json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "this resource does not take this method; the Allow header lists those it does",
        );
        if let Some(allow) = allow {
            answer.headers_mut().insert(header::ALLOW, allow);
        }
        return answer;
    }
    response
}
