//! `spawn_app` and `TestApp`: a running lift over a fresh database, plus a seeded `World` of users
//! holding every kind of grant. Server logs appear only with `TEST_LOG=1`.

use std::time::Duration;

use lift::admin::{self, AdminCommand};
use lift::configuration::Settings;
use lift::db::Db;
use lift::startup::Application;
use serde_json::{json, Value};

pub const TEST_SECRET: &str = "lift-test-secret-that-is-long-enough-0123456789";
/// `LIFT_SECRET_KEY` of test servers (32 bytes in base64), so PostgreSQL ones can store passwords.
pub const TEST_SECRET_KEY: &str = "bGlmdC10ZXN0LXNlY3JldC1rZXktMzItYnl0ZXMhISE=";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs the body as two tests, `sqlite` and `postgres`, each against its own fresh database.
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::helpers::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = spawn_app(Backend::Sqlite).await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = spawn_app(Backend::Postgres).await;
                $body
            }
        }
    };
}

/// Like `db_test!`, but the body first adjusts the server's `Settings` (`$settings`) on each backend.
macro_rules! db_test_with {
    ($name:ident, |$settings:ident| $tune:block, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::helpers::*;

            async fn run(backend: Backend) {
                let url = fresh_database(backend).await;
                let mut $settings = settings(&url);
                $tune
                let $app = spawn_app_with($settings).await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres).await;
            }
        }
    };
}

pub struct TestApp {
    pub address: String,
    pub db: Db,
    client: reqwest::Client,
}

fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        lift::telemetry::init(&lift::configuration::log_filter());
    }
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("LIFT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty database URL for `backend`.
pub async fn fresh_database(backend: Backend) -> String {
    let name = format!("lift_test_{}", uuid::Uuid::now_v7().simple());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("lift-tests").join(&name);
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}/lift.db?mode=rwc", dir.display())
        }
        Backend::Postgres => {
            use sea_orm::ConnectionTrait;
            let admin_url = postgres_admin_url();
            let admin = sea_orm::Database::connect(&admin_url)
                .await
                .expect("PostgreSQL must be reachable (scripts/test starts it)");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            format!("{base}/{name}")
        }
    }
}

/// The real defaults, listening on a free port, over `database_url`, signing with [`TEST_SECRET`]
/// and sealing passwords with [`TEST_SECRET_KEY`].
pub fn settings(database_url: &str) -> Settings {
    let mut settings = Settings::defaults();
    settings.server.listen = "127.0.0.1:0".into();
    settings.database.database_url = database_url.into();
    settings.auth.jwt_secret = Some(TEST_SECRET.into());
    settings.database.secret_key = Some(TEST_SECRET_KEY.into());
    settings
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let url = fresh_database(backend).await;
    spawn_app_with(settings(&url)).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    init_logs();
    let app = Application::build(&settings).await.expect("app builds");
    let address = format!("http://{}", app.local_addr().expect("bound"));
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let db = lift::db::connect(&settings.database.database_url)
        .await
        .expect("test db connection");
    TestApp {
        address,
        db,
        client: http_client(),
    }
}

/// The HTTP client of every test: requests give up after 30 s, so a hung server fails a test.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A response header as text (`None` when absent or not visible ASCII).
pub fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl TestApp {
    /// Another handle on a running app (for tasks that drive it concurrently).
    pub fn handle(address: String, db: Db) -> TestApp {
        TestApp {
            address,
            db,
            client: http_client(),
        }
    }
}

/// A signed HS256 token for `email`, valid for an hour.
pub fn token(email: &str) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    sign(
        &json!({"sub": email, "exp": now + 3600, "iat": now}),
        TEST_SECRET.as_bytes(),
    )
}

pub fn sign(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

impl TestApp {
    /// POSTs a GraphQL operation with an optional raw `Authorization` header; returns the JSON body.
    pub async fn post(&self, authorization: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.post_answer(authorization, query, variables).await;
        assert!(status.is_success(), "HTTP {status}: {body}");
        body
    }

    /// Like `post`, for answers that are not 200 (e.g. 503 while the database is down): the
    /// status and the JSON body.
    pub async fn post_answer(
        &self,
        authorization: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// Runs an operation as `email`.
    pub async fn gql(&self, email: &str, query: &str, variables: Value) -> Value {
        self.post(Some(&format!("Bearer {}", token(email))), query, variables)
            .await
    }

    /// Runs an operation as `email` and returns `data`, failing the test on any error.
    pub async fn ok(&self, email: &str, query: &str, variables: Value) -> Value {
        let body = self.gql(email, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Runs an admin command (the same code path as `lift admin …`).
    pub async fn admin(&self, command: AdminCommand) -> String {
        admin::run(&self.db, command).await.expect("admin command")
    }
}

/// The `extensions.code` of the first error, or `"OK"` when there is none.
pub fn code(body: &Value) -> String {
    match body["errors"].get(0) {
        Some(err) => err["extensions"]["code"]
            .as_str()
            .unwrap_or("<none>")
            .to_owned(),
        None => "OK".to_owned(),
    }
}

/// The `extensions.field` of the first error.
pub fn field(body: &Value) -> String {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or("<none>")
        .to_owned()
}

pub mod users {
    pub const ORG_ADMIN: &str = "org-admin@a.test";
    pub const ORG_USER: &str = "org-user@a.test";
    pub const PROJECT_ADMIN: &str = "project-admin@a.test";
    pub const PROJECT_VIEWER: &str = "project-viewer@a.test";
    pub const ENV_ADMIN: &str = "env-admin@a.test";
    pub const ENV_VIEWER: &str = "env-viewer@a.test";
    pub const OUTSIDER: &str = "outsider@a.test";
    pub const OTHER_ORG_ADMIN: &str = "admin@b.test";
}

/// Organisation A (experimentation on) with project `shop`, environments `prod` and `staging`, a
/// two-variant feature `checkout` and a one-variant feature `solo`; organisation B with `b-prod`.
pub struct World {
    pub org_a: String,
    pub project_a: String,
    pub feature: String,
    pub solo_feature: String,
    pub feature_b: String,
}

pub const ENV: &str = "prod";
pub const OTHER_ENV: &str = "staging";
pub const ENV_B: &str = "b-prod";

impl TestApp {
    pub async fn world(&self) -> World {
        use users::*;
        let org_a = self
            .admin(AdminCommand::CreateOrganisation {
                name: "Org A".into(),
                experimentation_enabled: true,
            })
            .await;
        let project_a = self
            .admin(AdminCommand::CreateProject {
                organisation: org_a.clone(),
                name: "shop".into(),
            })
            .await;
        for key in [ENV, OTHER_ENV] {
            self.admin(AdminCommand::CreateEnvironment {
                project: project_a.clone(),
                name: key.into(),
                key: key.into(),
            })
            .await;
        }
        let feature = self
            .feature(&project_a, "checkout", "control:50,treatment:50")
            .await;
        let solo_feature = self.feature(&project_a, "solo", "control:1").await;
        let org_b = self
            .admin(AdminCommand::CreateOrganisation {
                name: "Org B".into(),
                experimentation_enabled: true,
            })
            .await;
        let project_b = self
            .admin(AdminCommand::CreateProject {
                organisation: org_b.clone(),
                name: "b".into(),
            })
            .await;
        self.admin(AdminCommand::CreateEnvironment {
            project: project_b.clone(),
            name: ENV_B.into(),
            key: ENV_B.into(),
        })
        .await;
        let feature_b = self
            .feature(&project_b, "checkout", "control:1,treatment:1")
            .await;

        for email in [
            ORG_ADMIN,
            ORG_USER,
            PROJECT_ADMIN,
            PROJECT_VIEWER,
            ENV_ADMIN,
            ENV_VIEWER,
            OUTSIDER,
            OTHER_ORG_ADMIN,
        ] {
            self.admin(AdminCommand::CreateUser {
                email: email.into(),
                name: email.into(),
            })
            .await;
        }
        let grant_org = |org: &str, email: &str, role: &str| AdminCommand::GrantOrganisation {
            organisation: org.into(),
            email: email.into(),
            role: role.into(),
        };
        self.admin(grant_org(&org_a, ORG_ADMIN, "admin")).await;
        self.admin(grant_org(&org_a, ORG_USER, "user")).await;
        self.admin(grant_org(&org_b, OTHER_ORG_ADMIN, "admin"))
            .await;
        for (email, admin) in [(PROJECT_ADMIN, true), (PROJECT_VIEWER, false)] {
            self.admin(AdminCommand::GrantProject {
                project: project_a.clone(),
                email: email.into(),
                admin,
            })
            .await;
        }
        for (email, admin) in [(ENV_ADMIN, true), (ENV_VIEWER, false)] {
            self.admin(AdminCommand::GrantEnvironment {
                environment: ENV.into(),
                email: email.into(),
                admin,
            })
            .await;
        }
        World {
            org_a,
            project_a,
            feature,
            solo_feature,
            feature_b,
        }
    }

    pub async fn feature(&self, project: &str, name: &str, variants: &str) -> String {
        self.admin(AdminCommand::CreateFeature {
            project: project.into(),
            name: name.into(),
            variants: variants.into(),
        })
        .await
    }

    /// Creates a COUNT metric named `name` in `env` as the org admin; returns its id.
    pub async fn metric(&self, env: &str, name: &str) -> String {
        let data = self
            .ok(
                users::ORG_ADMIN,
                CREATE_METRIC,
                json!({"input": metric_input(env, name)}),
            )
            .await;
        data["createMetric"]["id"]
            .as_str()
            .expect("metric id")
            .to_owned()
    }

    /// Creates an experiment on `feature` in `env` as the org admin; returns its id.
    pub async fn experiment(&self, env: &str, feature: &str, name: &str) -> String {
        let data = self
            .ok(
                users::ORG_ADMIN,
                CREATE_EXPERIMENT,
                json!({"input": {"environmentKey": env, "featureId": feature, "name": name}}),
            )
            .await;
        data["createExperiment"]["id"]
            .as_str()
            .expect("experiment id")
            .to_owned()
    }

    /// Attaches a metric as the org admin; returns the attachment id.
    pub async fn attach(&self, experiment: &str, metric: &str) -> String {
        let data = self
            .ok(
                users::ORG_ADMIN,
                ATTACH_METRIC,
                json!({"input": {"experimentId": experiment, "metricId": metric, "expectedDirection": "INCREASE"}}),
            )
            .await;
        data["attachMetric"]["id"]
            .as_str()
            .expect("attachment id")
            .to_owned()
    }

    /// Runs a lifecycle mutation (`startExperiment`, …) as the org admin.
    pub async fn lifecycle(&self, mutation: &str, experiment: &str) -> Value {
        self.gql(
            users::ORG_ADMIN,
            &format!(
                "mutation($id: ID!) {{ {mutation}(id: $id) {{ id status startedAt endedAt }} }}"
            ),
            json!({"id": experiment}),
        )
        .await
    }
}

pub fn metric_input(env: &str, name: &str) -> Value {
    json!({
        "environmentKey": env,
        "name": name,
        "metricType": "NUMERIC",
        "aggregation": "COUNT",
        "direction": "UP",
        "definition": {"event": "page_view"}
    })
}

pub const CREATE_METRIC: &str = "mutation($input: CreateMetricInput!) { createMetric(input: $input) { id name description metricType aggregation direction definition { event filters { property op value { string number boolean stringList numberList } } value { source property } window { startSeconds endSeconds } } } }";
pub const CREATE_EXPERIMENT: &str = "mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { id name status exposureEvent controlVariant startedAt endedAt feature { id } } }";
pub const ATTACH_METRIC: &str = "mutation($input: AttachMetricInput!) { attachMetric(input: $input) { id role expectedDirection metric { id } experiment { id } } }";
