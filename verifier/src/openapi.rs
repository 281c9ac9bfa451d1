//! The OpenAPI document, generated from the handlers' annotations. `openapi.json` at
//! the crate root is the committed copy; a test fails when it is stale
//! (`LIVECHECK_UPDATE_OPENAPI=1 cargo test -p livecheck-verifier openapi` rewrites it).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{azure, capture, checks, glair, meta, verifyhq};

#[derive(OpenApi)]
#[openapi(
    info(title = "livecheck verifier", description = "Self-hosted face liveness checks. \
        Errors are `{\"code\", \"message\", \"request_id\"}`; the codes are listed in the README. \
        Every POST that creates something takes an `Idempotency-Key` header (24 hours)."),
    paths(
        checks::create, checks::get_by_token, checks::list, checks::get_by_id, checks::by_user, checks::erase,
        checks::redeem, checks::put_reference, checks::probe_image, checks::audit_image, checks::deliveries,
        checks::retry_delivery, capture::claim, capture::upload_frame, capture::finish, capture::retry,
        capture::cancel, azure::create, azure::create_with_verify, azure::get, azure::delete,
        azure::quick_link, glair::create, glair::get, verifyhq::create, verifyhq::answer,
        verifyhq::reference_selfie, verifyhq::get, verifyhq::by_user, meta::healthz, meta::readyz, meta::jwks
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security)
)]
struct ApiDoc;

/// The error body every 4xx and 5xx carries.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorBody {
    code: String,
    message: String,
    request_id: String,
}

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key_header",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        // The Azure dialect's header for the same API keys.
        components.add_security_scheme(
            "ocp_apim_subscription_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(
                "Ocp-Apim-Subscription-Key",
            ))),
        );
        // An Azure session's authToken, for `POST /api/s` (Quick Link).
        components.add_security_scheme(
            "auth_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the authToken of an Azure liveness session"))
                    .build(),
            ),
        );
    }
}

pub fn document() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.to_pretty_json().unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_readme_lists_every_create_field() {
        let doc: serde_json::Value = serde_json::from_str(&super::document()).unwrap();
        let fields = doc["components"]["schemas"]["CreateCheck"]["properties"]
            .as_object()
            .unwrap();
        assert!(fields.len() >= 12, "{fields:?}");
        let readme = include_str!("../../README.md");
        for name in fields.keys() {
            assert!(
                readme.contains(&format!("| `{name}` |")),
                "README's create-check table lacks {name}"
            );
        }
    }

    #[test]
    fn openapi_json_is_fresh() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
        let fresh = super::document() + "\n";
        if std::env::var_os("LIVECHECK_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "verifier/openapi.json is stale: run LIVECHECK_UPDATE_OPENAPI=1 cargo test -p livecheck-verifier openapi"
        );
    }
}
