//! The crate's one error type. Every failure a client can see is a variant here; the HTTP
//! mapping (status, OpenAI-style body, metric label) lives in `http::errors`, written once.

/// Everything that can go wrong while serving a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServerError {
    /// The body is not valid JSON, or a field has the wrong type.
    #[error("Invalid request body: {0}")]
    InvalidJson(String),
    /// A well-formed request with a value that cannot be served.
    #[error("{0}")]
    BadRequest(String),
    /// The prompt does not fit in one slot's share of the context.
    #[error("request ({n_prompt} tokens) exceeds the available context size ({n_ctx_slot} tokens), try increasing it")]
    ContextExceeded { n_prompt: usize, n_ctx_slot: usize },
    /// No route here.
    #[error("File Not Found")]
    RouteNotFound,
    /// The route exists, the method does not.
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    /// Missing or wrong API key.
    #[error("Invalid API Key")]
    Unauthorized,
    /// The body is larger than `--max-body-size`.
    #[error("Request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// The body did not arrive within `--timeout`.
    #[error("Request body not received within {0} s")]
    Timeout(u64),
    /// The model is still loading.
    #[error("Loading model")]
    Loading,
    /// The wait queue is full.
    #[error("Server busy: the wait queue is full ({0} requests); retry later")]
    QueueFull(usize),
    /// The server is shutting down and takes no new work.
    #[error("Server is shutting down")]
    ShuttingDown,
    /// A feature this server does not implement.
    #[error("{0}")]
    NotSupported(String),
    /// A bug or an engine failure.
    #[error("{0}")]
    Internal(String),
}

impl From<llama_core::Error> for ServerError {
    fn from(e: llama_core::Error) -> Self {
        match e {
            llama_core::Error::InvalidParam { .. } => ServerError::BadRequest(e.to_string()),
            llama_core::Error::ChatTemplateRaised(_) => ServerError::BadRequest(e.to_string()),
            _ => ServerError::Internal(e.to_string()),
        }
    }
}

/// Result with the crate's [`ServerError`].
pub type Result<T> = std::result::Result<T, ServerError>;
