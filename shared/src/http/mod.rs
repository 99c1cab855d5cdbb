//! The HTTP edge: routes, request parsing, responses, security headers and CORS.

pub mod conditional;
pub mod cors;
pub mod headers;
pub mod request;
pub mod response;
pub mod routes;

pub use request::RequestMeta;
pub use response::Reply;
pub use routes::Route;
