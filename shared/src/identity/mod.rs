//! Identity providers. In production that is Cognito (configured in `template.yaml`);
//! locally it is [`local::LocalIssuer`], which issues tokens of the same shape.

pub mod local;
