//! The VerifyHQ dialect over HTTP, requests as its integrators send them (`X-API-Key`,
//! JSON to create, multipart photos, the document's `/v1` paths and the unprefixed
//! ones), every documented field and status checked.

use reqwest::blocking::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::harness::{status_json, testdata, Verifier};
use crate::shared;

fn post_json(v: &Verifier, path: &str, key: &str, body: Value) -> (u16, Value) {
    status_json(
        v.http
            .post(v.url(path))
            .header("X-API-Key", key)
            .json(&body)
            .send()
            .unwrap(),
    )
}

fn post_form(v: &Verifier, path: &str, form: Form) -> (u16, Value) {
    status_json(
        v.http
            .post(v.url(path))
            .header("X-API-Key", &v.api_key)
            .multipart(form)
            .send()
            .unwrap(),
    )
}

fn photo(rel: &str) -> Part {
    let bytes = std::fs::read(testdata(rel)).unwrap();
    let name = rel.rsplit('/').next().unwrap().to_string();
    Part::bytes(bytes).file_name(name)
}

/// A test photo as an iPhone would send it: HEIC (HEVC, quality 85), encoded by libheif.
fn heic_of(rel: &str) -> Vec<u8> {
    use libheif_rs::{
        Channel, ColorSpace, CompressionFormat, EncoderQuality, HeifContext, Image, RgbChroma,
    };
    let src = image::open(testdata(rel)).unwrap().to_rgb8();
    let (w, h) = src.dimensions();
    let mut img = Image::new(w, h, ColorSpace::Rgb(RgbChroma::Rgb)).unwrap();
    img.create_plane(Channel::Interleaved, w, h, 8).unwrap();
    let planes = img.planes_mut();
    let plane = planes.interleaved.unwrap();
    let row = w as usize * 3;
    for (y, line) in src.as_raw().chunks(row).enumerate() {
        plane.data[y * plane.stride..y * plane.stride + row].copy_from_slice(line);
    }
    let mut ctx = HeifContext::new().unwrap();
    let mut encoder = ctx.encoder_for_format(CompressionFormat::Hevc).unwrap();
    encoder.set_quality(EncoderQuality::Lossy(85)).unwrap();
    ctx.encode_image(&img, &mut encoder, None).unwrap();
    let bytes = ctx.write_to_bytes().unwrap();
    assert_eq!(&bytes[4..12], b"ftypheic");
    bytes
}

fn unnamed(rel: &str) -> Part {
    Part::bytes(std::fs::read(testdata(rel)).unwrap())
}

fn get(v: &Verifier, path: &str) -> (u16, Value) {
    status_json(
        v.http
            .get(v.url(path))
            .header("X-API-Key", &v.api_key)
            .send()
            .unwrap(),
    )
}

/// The d18 frame that shows `kind`, if there is one.
fn shows(kind: &str) -> Option<&'static str> {
    match kind {
        "BLINK" => Some("live_frames/lp_d18_t3.2_eyes_closed.png"),
        "SMILE" => Some("live_frames/lp_d18_t3.8_smile.png"),
        "OPEN_MOUTH" => Some("live_frames/lp_d18_t2.6_mouth_open.png"),
        _ => None,
    }
}

#[test]
fn a_verifyhq_session_judges_one_photo_per_challenge() {
    let shared = shared();
    let v = &*shared;
    // Random scripts: create until every challenge is one a d18 frame shows.
    let (created, kinds) = (0..200)
        .find_map(|_| {
            let (s, c) = post_json(
                v,
                "/v1/verifications/liveness/session",
                &v.api_key,
                json!({"userId": "vhq-user"}),
            );
            assert_eq!(s, 201, "{c}");
            let kinds: Vec<String> = c["challenges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|ch| ch["type"].as_str().unwrap().to_string())
                .collect();
            kinds
                .iter()
                .all(|k| shows(k).is_some())
                .then_some((c, kinds))
        })
        .expect("a script of blink, smile and open mouth");
    let token = created["sessionToken"].as_str().unwrap().to_string();
    let expires =
        chrono::DateTime::parse_from_rfc3339(created["expiresAt"].as_str().unwrap()).unwrap();
    let mins = (expires.timestamp() - chrono::Utc::now().timestamp()) as f64 / 60.0;
    assert!((9.0..=10.0).contains(&mins), "{created}");
    assert!(created["instructions"].as_str().unwrap().len() > 10);
    let challenges = created["challenges"].as_array().unwrap().clone();
    assert!((2..=3).contains(&challenges.len()));
    for (i, ch) in challenges.iter().enumerate() {
        assert_eq!(ch["id"], format!("ch_{:03}", i + 1));
        assert!(!ch["instruction"].as_str().unwrap().is_empty());
    }

    // Out of order: refused, nothing consumed.
    let (s, e) = post_form(
        v,
        "/v1/verifications/liveness/challenge",
        Form::new()
            .text("sessionToken", token.clone())
            .text("challengeId", "ch_002")
            .part("photo", photo(shows(&kinds[1]).unwrap())),
    );
    assert_eq!((s, e["code"].as_str()), (409, Some("invalid_state")), "{e}");
    // A HEIC that is only its header: undecodable, nothing consumed.
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    let (s, e) = post_form(
        v,
        "/v1/verifications/liveness/challenge",
        Form::new()
            .text("sessionToken", token.clone())
            .text("challengeId", "ch_001")
            .part("photo", Part::bytes(heic).file_name("IMG_0001.HEIC")),
    );
    assert_eq!((s, e["code"].as_str()), (422, Some("invalid_image")), "{e}");

    // The reference selfie: the same person, another moment.
    let (s, r) = post_form(
        v,
        "/v1/verifications/liveness/reference-selfie",
        Form::new()
            .text("sessionToken", token.clone())
            // As an iPhone sends it.
            .part(
                "selfie",
                Part::bytes(heic_of("live_frames/lp_d18_t0.5_neutral.png"))
                    .file_name("IMG_0002.HEIC"),
            ),
    );
    assert_eq!(s, 200, "{r}");

    for (i, kind) in kinds.iter().enumerate() {
        let (s, p) = post_form(
            v,
            "/v1/verifications/liveness/challenge",
            Form::new()
                .text("sessionToken", token.clone())
                .text("challengeId", format!("ch_{:03}", i + 1))
                // The first photo a HEIC; the others without a file name on the part, as
                // many HTTP clients send them.
                .part(
                    "photo",
                    if i == 0 {
                        Part::bytes(heic_of(shows(kind).unwrap())).file_name("IMG_0003.HEIC")
                    } else {
                        unnamed(shows(kind).unwrap())
                    },
                ),
        );
        assert_eq!(s, 200, "{p}");
        assert_eq!(p["sessionToken"], token.as_str());
        assert_eq!(p["challengesCompleted"], i + 1);
        assert_eq!(p["challengesTotal"], kinds.len());
        if i + 1 < kinds.len() {
            assert_eq!(p["status"], "IN_PROGRESS", "{p}");
            assert_eq!(p["isComplete"], false);
            let left = kinds.len() - i - 1;
            assert_eq!(
                p["nextStep"],
                format!("Submit photo for remaining {left} challenge(s)"),
                "{p}"
            );
            assert_eq!(p["nextChallenge"]["id"], format!("ch_{:03}", i + 2), "{p}");
            assert_eq!(p["nextChallenge"]["type"], kinds[i + 1].as_str());
        } else {
            assert_eq!(p["status"], "COMPLETED", "{p}");
            assert_eq!(p["isComplete"], true);
            let r = &p["result"];
            assert_eq!(r["isAlive"], true, "{p}");
            // The document's scale, 0–1: a client testing `confidence > 0.9` works.
            let unit = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k}: {p}"));
            assert!((0.7..=1.0).contains(&unit("confidence")), "{p}");
            assert!((0.7..=1.0).contains(&unit("antiSpoofScore")), "{p}");
            assert!((0.54..=1.0).contains(&unit("faceMatchScore")), "{p}");
            assert_eq!(r["failureReason"], Value::Null);
        }
    }
    // Finished: no more photos.
    let (s, e) = post_form(
        v,
        "/v1/verifications/liveness/challenge",
        Form::new()
            .text("sessionToken", token.clone())
            .text("challengeId", "ch_001")
            .part("photo", photo(shows(&kinds[0]).unwrap())),
    );
    assert_eq!((s, e["code"].as_str()), (409, Some("invalid_state")), "{e}");

    let id = created["id"].as_str().unwrap();
    let (s, got) = get(v, &format!("/v1/verifications/liveness/{id}"));
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["status"], "COMPLETED");
    assert_eq!(got["result"]["isAlive"], true);
    assert_eq!(got["userId"], "vhq-user");
    let (_, by_token) = get(v, &format!("/v1/verifications/liveness/{token}"));
    assert_eq!(by_token["id"], id);
    let (s, page) = get(
        v,
        "/v1/verifications/liveness/user/vhq-user?page=1&limit=100",
    );
    assert_eq!(s, 200, "{page}");
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == id));
    assert_eq!(page["page"], 1);
    assert_eq!(page["limit"], 100);
}

#[test]
fn verifyhq_refuses_other_people_wrong_keys_and_expired_sessions() {
    let shared = shared();
    let v = &*shared;
    let (_, created) = post_json(
        v,
        "/verifications/liveness/session",
        &v.api_key,
        json!({"userId": "vhq-2"}),
    );
    let token = created["sessionToken"].as_str().unwrap().to_string();
    let n = created["challenges"].as_array().unwrap().len();
    // Each challenge answered by a different person (or no matching photo at all).
    let people = [
        "live/fr_obama_official_portrait.jpg",
        "live/skimage_astronaut.png",
        "live_frames/lp_d18_t3.8_smile.png",
    ];
    let mut last = Value::Null;
    for (i, who) in people.iter().enumerate().take(n) {
        let (s, p) = post_form(
            v,
            "/verifications/liveness/challenge",
            Form::new()
                .text("sessionToken", token.clone())
                .text("challengeId", format!("ch_{:03}", i + 1))
                .part("photo", photo(who)),
        );
        assert_eq!(s, 200, "{p}");
        last = p;
    }
    assert_eq!(last["status"], "COMPLETED", "{last}");
    assert_eq!(last["result"]["isAlive"], false, "{last}");
    assert_eq!(last["result"]["failureReason"], "face_mismatch", "{last}");

    // A check of the main API is no VerifyHQ session, and lists apart.
    let other = v.create(json!({"return_url": "https://customer.example/r", "user_id": "vhq-2"}));
    let (s, e) = get(
        v,
        &format!("/verifications/liveness/{}", other["id"].as_str().unwrap()),
    );
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")), "{e}");
    let (_, page) = get(v, "/verifications/liveness/user/vhq-2");
    assert_eq!(page["total"], 1, "only the photo session: {page}");

    let (s, e) = post_json(
        v,
        "/verifications/liveness/session",
        "wrong-key",
        json!({"userId": "x"}),
    );
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")), "{e}");
    let (s, ok) = post_json(
        v,
        "/verifications/liveness/session",
        &v.api_key,
        json!({"userId": "x", "clientReference": "ignored"}),
    );
    assert_eq!(s, 201, "unknown fields are ignored: {ok}");
    let (s, e) = post_json(v, "/verifications/liveness/session", &v.api_key, json!({}));
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );

    let (_, fresh) = post_json(
        v,
        "/verifications/liveness/session",
        &v.api_key,
        json!({"userId": "vhq-3"}),
    );
    v.expire_now(fresh["id"].as_str().unwrap());
    let (s, e) = post_form(
        v,
        "/verifications/liveness/challenge",
        Form::new()
            .text(
                "sessionToken",
                fresh["sessionToken"].as_str().unwrap().to_string(),
            )
            .text("challengeId", "ch_001")
            .part("photo", photo("live_frames/lp_d18_t3.8_smile.png")),
    );
    assert_eq!((s, e["code"].as_str()), (410, Some("expired")), "{e}");
    let (_, got) = get(
        v,
        &format!("/verifications/liveness/{}", fresh["id"].as_str().unwrap()),
    );
    assert_eq!(got["status"], "EXPIRED", "{got}");
}
