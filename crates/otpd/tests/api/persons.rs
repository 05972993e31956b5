//! `/v1/persons` and `otpd persons import`.

use crate::helpers::{error_of, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_otpd");

#[tokio::test]
async fn persons_crud_normalises_and_round_trips() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/persons",
            json!({"phone": "+31 (6) 1234-5678", "email": "Jane@Example.COM", "language": "pt_br", "name": "Jane"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.unwrap();
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "a version 4 GUID: {id}");
    assert_eq!(p["phone"], "+31612345678");
    assert_eq!(p["email"], "Jane@example.com");
    assert_eq!(p["language"], "pt-BR");

    let got: Value = app
        .get(&format!("/v1/persons/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, p);
    // Any GUID spelling finds it.
    let upper = format!("{{{}}}", id.to_uppercase());
    assert_eq!(
        app.get(&format!("/v1/persons/{upper}")).await.status(),
        StatusCode::OK
    );

    let r = app
        .client
        .put(app.url(&format!("/v1/persons/{id}")))
        .basic_auth(&app.admin.0, Some(&app.admin.1))
        .json(&json!({"email": "jane@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let put: Value = r.json().await.unwrap();
    assert_eq!(put["email"], "jane@example.org");
    assert_eq!(put["phone"], Value::Null, "PUT replaces every field");
    assert_eq!(put["created_at"], p["created_at"]);

    let del = |id: String| {
        app.client
            .delete(app.url(&format!("/v1/persons/{id}")))
            .basic_auth(&app.admin.0, Some(&app.admin.1))
            .send()
    };
    assert_eq!(
        del(id.clone()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        del(id.clone()).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let (status, _) = error_of(app.get(&format!("/v1/persons/{id}")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = error_of(app.get("/v1/persons/not-a-guid").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_persons_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let before = app.row_counts();
    for (body, field) in [
        (json!({"phone": "0612345678"}), "phone"),
        (json!({"phone": "+1 555 0100"}), "phone"),
        (json!({"phone": "+31 6 1234 5678 ext"}), "phone"),
        (json!({"email": "jane"}), "email"),
        (
            json!({"email": "jane@example.com", "language": "english!"}),
            "language",
        ),
        (json!({"email": "jane@example.com", "id": "42"}), "id"),
        (
            json!({"email": "jane@example.com", "name": "a\u{0}b"}),
            "name",
        ),
        (json!({"name": "Nobody"}), "phone"),
        (json!({"email": "jane@example.com", "fax": "1"}), "fax"),
        (json!({"email": 5}), "email"),
    ] {
        let (status, e) = error_of(app.post("/v1/persons", body.clone()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
    }
    assert_eq!(app.row_counts(), before);
}

#[tokio::test]
async fn ids_and_emails_are_unique_per_tenant_and_tenants_are_apart() {
    let app = spawn_app().await;
    let id = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
    let r = app
        .post(
            "/v1/persons",
            json!({"id": id, "email": "jane@example.com"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for body in [
        json!({"id": id, "email": "other@example.com"}),
        json!({"email": "JANE@example.com"}),
    ] {
        let (status, _) = error_of(app.post("/v1/persons", body).await).await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
    let other = app.new_key("other", "admin,verify").await;
    let r = app
        .client
        .get(app.url(&format!("/v1/persons/{id}")))
        .basic_auth(&other.0, Some(&other.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The same id and address are free in another tenant.
    let r = app
        .post_as(
            &other,
            "/v1/persons",
            json!({"id": id, "email": "jane@example.com"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Persons are an admin matter.
    let verify_only = app.new_key("default", "verify").await;
    let (status, _) = error_of(
        app.post_as(
            &verify_only,
            "/v1/persons",
            json!({"email": "x@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn passwords_follow_the_policy() {
    let app = spawn_app().await;
    let p: Value = app
        .post("/v1/persons", json!({"email": "jane.doe@example.com"}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/persons/{}/password", p["id"].as_str().unwrap());
    for bad in ["short", "elevenchars", "Jane.Doe@example.com"] {
        let (status, e) = error_of(app.post(&path, json!({"password": bad})).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(e["error"]["field"], "password");
    }
    let r = app
        .post(
            &path,
            json!({"password": "a long enough one", "temporary": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, e) = error_of(
        app.post(&path, json!({"password": "a long enough one"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("current"),
        "{e}"
    );
    // The database holds an argon2id hash, never the password.
    let c = rusqlite::Connection::open(&app.db).unwrap();
    let h: String = c
        .query_row("SELECT password_hash FROM persons", [], |r| r.get(0))
        .unwrap();
    assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let (status, _) = error_of(
        app.post(
            "/v1/persons/3f2504e0-4f89-11d3-9a0c-0305e82c3301/password",
            json!({"password": "a long enough one"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn import(dir: &std::path::Path, name: &str, content: &str) -> (bool, Value, String) {
    let file = dir.join(name);
    std::fs::write(&file, content).unwrap();
    let out = Command::new(BIN)
        .args(["persons", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (
        out.status.success(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn import_reports_every_bad_row_and_imports_nothing_until_all_are_good() {
    let app = spawn_app().await;
    app.post("/v1/persons", json!({"email": "taken@example.com"}))
        .await;
    let dir = app.db.parent().unwrap().to_owned();
    let csv = "email,phone,language,name\n\
               a@example.com,+31 6 1234 5678,nl,Anna\n\
               not-an-email,,,\n\
               b@example.com,,xx!,\n\
               a@example.com,,,\n\
               TAKEN@example.com,,,\n";
    let (ok, report, _) = import(&dir, "people.csv", csv);
    assert!(!ok);
    assert_eq!(report["imported"], 0);
    let got: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (3, "email".into()),
            (4, "language".into()),
            (5, "email".into()),
            (6, "email".into())
        ]
    );
    let count = || {
        rusqlite::Connection::open(&app.db)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM persons", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    assert_eq!(count(), 1, "nothing half-imported");

    let good =
        "email,phone,language,name\na@example.com,+31 6 1234 5678,nl,Anna\nb@example.com,,de,\n";
    let (ok, report, err) = import(&dir, "people.csv", good);
    assert!(ok, "{err}");
    assert_eq!(report["imported"], 2);
    assert_eq!(count(), 3);

    let jsonl = "{\"id\":\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\",\"phone\":\"0031612345679\"}\n\n{\"email\":\"c@example.com\",\"fax\":1}\n";
    let (ok, report, _) = import(&dir, "people.jsonl", jsonl);
    assert!(!ok);
    assert_eq!(report["errors"][0]["line"], 3);
    assert_eq!(report["errors"][0]["field"], "fax");
    assert_eq!(count(), 3);
    let (ok, report, err) = import(&dir, "people.jsonl", &jsonl[..jsonl.find('\n').unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(report["imported"], 1);
    let p: Value = app
        .get("/v1/persons/3f2504e0-4f89-11d3-9a0c-0305e82c3301")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["phone"], "+31612345679");
}
