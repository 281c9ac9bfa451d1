//! The OpenAPI document, generated from the handlers' annotations. `openapi.json` at
//! the crate root is the committed copy; a test fails when it is stale
//! (`LIVECHECK_UPDATE_OPENAPI=1 cargo test -p livecheck-verifier openapi` rewrites it).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{capture, checks, dialects, meta};

#[derive(OpenApi)]
#[openapi(
    info(title = "livecheck verifier", description = "Self-hosted face liveness checks. \
        Errors are `{\"code\", \"message\", \"request_id\"}`; the codes are listed in the README. \
        Every POST that creates something takes an `Idempotency-Key` header (24 hours)."),
    paths(
        checks::create, checks::get_by_token, checks::list, checks::get_by_id, checks::by_user, checks::erase,
        checks::redeem, checks::put_reference, checks::probe_image, checks::audit_image, checks::deliveries,
        checks::retry_delivery, capture::claim, capture::upload_frame, capture::finish, capture::retry,
        capture::cancel, meta::healthz, meta::readyz, meta::jwks
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
    // Each dialect documents its own paths.
    doc.merge(dialects::openapi());
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.to_pretty_json().unwrap_or_else(|_| "{}".into())
}

/// `GET /openapi.json`.
pub async fn serve() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
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
    fn no_two_schemas_share_a_name() {
        use utoipa::OpenApi;

        use crate::api::dialects::{azure, glair, verifyhq};
        // Merged documents keep one schema per name: two types of one name would
        // describe one dialect's body as the other's (Azure's and VerifyHQ's
        // CreateSession did).
        let docs = [
            super::ApiDoc::openapi(),
            azure::Doc::openapi(),
            glair::Doc::openapi(),
            verifyhq::Doc::openapi(),
        ];
        let mut seen = std::collections::HashMap::new();
        for doc in docs {
            for (name, schema) in doc.components.map(|c| c.schemas).unwrap_or_default() {
                let schema = serde_json::to_value(schema).unwrap();
                if let Some(before) = seen.insert(name.clone(), schema.clone()) {
                    assert_eq!(before, schema, "two schemas are named {name}");
                }
            }
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
